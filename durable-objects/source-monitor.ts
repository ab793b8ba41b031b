/**
 * SourceMonitor — one per DVR source (`getByName('driver/username')`): the source's memory. It holds
 * the worker state, task id, pid, recording state and session flags (contract §6.4–6.5), the last
 * 200 log lines (§6.7) and the **error window**: unintentional exits within `error_window`; at
 * `error_threshold` the source is `errored` until reset-error/restart.
 *
 * Everything lives in the object's SQLite storage and is re-read in the constructor, so eviction or
 * a restart of either side loses nothing. After every change the compact runtime row is mirrored
 * into D1 `sources` (and worker events into `worker_events`), so subscription lists are one D1 query.
 * The mirror is coalesced (issue 17 target 4): a change of state (worker/recording state, pid,
 * error, task, session flags) or a worker event is written at once; progress only (a heartbeat's
 * `last_heartbeat` and `session_duration`) arriving through `ingest` is handed to the overseer link,
 * which writes it batched across sources at most once per second (this object's alarm writes it if
 * the link never confirms); a change that alters nothing listed writes nothing. Alarms also prune
 * the error window.
 *
 *   const mon = env.SOURCE_MONITOR.getByName(monitorName(ref));
 *   const begun = await mon.beginStart(ref);             // null when already running/starting
 *   const { stopTaskIds, progress } = await mon.ingest(ref, pushedEvents, { windowMs, threshold });
 */
import { DurableObject } from 'cloudflare:workers';
import type { ErrorWindowConfig, IngestResult, MonitorSnapshot, ProgressHandOff, RuntimeState, SourceRef, TaskEvent } from '../src/dvr/runtime';
import { INITIAL_RUNTIME, monitorName } from '../src/dvr/runtime';
import { nowIso, world } from '../src/world';
import { db } from '../src/db/client';
import { mirrorRuntimeStatement, recordWorkerEventStatement, type RuntimeMirror } from '../src/dvr/queries';
import { parseRecorderLine } from '../src/dvr/recordings/events';
import { noteSourceTransitions } from '../src/notifications/source-transitions';

const LOG_CAP = 200;
/** Progress-only mirror writes of one source are at most this often (issue 17 target 4). */
const MIRROR_COALESCE_MS = 1000;
/** A progress hand-off the link has not confirmed after this long is written by this object. */
const PROGRESS_LEASE_MS = 10_000;

/** Stored state from before the recording-session names (`sessionActive` …) reads as today's. */
function storedRuntime(stored: Record<string, unknown>): Partial<RuntimeState> {
  const out: Record<string, unknown> = { ...stored };
  for (const [old, now] of [['sessionActive', 'recordingSessionActive'], ['sessionStartedAt', 'recordingSessionStartedAt'], ['sessionDuration', 'recordingSessionDuration']] as const) {
    if (old in out) {
      if (!(now in out)) out[now] = out[old];
      delete out[old];
    }
  }
  return out as Partial<RuntimeState>;
}


export class SourceMonitor extends DurableObject<Env> {
  private state: RuntimeState = { ...INITIAL_RUNTIME };
  private ref: SourceRef | null = null;
  /** Last mirrored row, to skip D1 writes that would change nothing (log-only events). */
  private mirrored = '';
  /** The same row without its progress fields: equal → the pending change is progress only. */
  private mirroredState = '';
  /** When D1 last confirmed a mirror write (world time); progress waits until a second after it. */
  private lastWriteAt = 0;
  /** Inside `ingest`: log lines are trimmed once for the group. */
  private ingesting = false;
  /** The last progress handed to the link (meta `progress_dirty` holds its number until confirmed). */
  private handed: { n: number; key: string; at: number } | null = null;
  /** The time given to the last worker event queued for D1 (distinct per event, see `commit`). */
  private lastEventMs = 0;
  /** When the lease alarm armed by this instance for hand-offs is due (0: none armed). */
  private leaseAlarmAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS exits (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL)`);
      // What must still reach D1: worker events not yet confirmed (the runtime row is recomputed
      // from the state, so a flag is enough for it: meta 'mirror_dirty').
      sql.exec(`CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, pid INTEGER NOT NULL, exit_code INTEGER, ts TEXT NOT NULL)`);
      for (const row of sql.exec<{ key: string; value: string }>(`SELECT key, value FROM meta`)) {
        if (row.key === 'state') this.state = { ...INITIAL_RUNTIME, ...storedRuntime(JSON.parse(row.value) as Record<string, unknown>) };
        if (row.key === 'ref') this.ref = JSON.parse(row.value) as SourceRef;
      }
      // A mirror write that never landed (the object died before D1 confirmed): deliver it soon.
      if (this.mirrorPending() || this.meta('progress_dirty') !== null) await ctx.storage.setAlarm(world.now() + 100);
    });
  }

  // ───────────── reads ─────────────

  async snapshot(ref: SourceRef): Promise<MonitorSnapshot> {
    this.remember(ref);
    return { state: { ...this.state }, logs: this.readLogs() };
  }

  async logs(): Promise<string[]> {
    return this.readLogs();
  }

  // ───────────── the start sequence (driven by OverseerLink) ─────────────

  /** Step 1 of contract §5.6: null when a start is pointless (running or starting), else the stored
   * task id to start with. Leaves `errored` by side effect, as a re-subscribe does (§7.3). */
  async beginStart(ref: SourceRef): Promise<{ taskId: string } | null> {
    this.remember(ref);
    if (this.state.workerState === 'running' || this.state.workerState === 'starting') return null;
    this.state.workerState = 'starting';
    await this.commit();
    return { taskId: this.state.taskId };
  }

  /** The overseer answered `started` to our start: adopt the task id and pid. */
  async startConfirmed(ref: SourceRef, taskId: string, pid: number): Promise<void> {
    this.remember(ref);
    this.state.taskId = taskId;
    this.state.pid = pid;
    this.state.workerState = 'running';
    // The overseer answers our own start with `started` as a reply, which never passes `ingest`:
    // without this the source page listed no worker event at all for a source recording since.
    await this.commit([{ type: 'started', pid, exitCode: null }]);
  }

  /** The overseer's pool is full: our start waits in its queue under `taskId`. Still `starting`;
   * the task id is kept so a stop (pause, archive) can withdraw it from the queue. */
  async startQueued(ref: SourceRef, taskId: string, position?: number): Promise<void> {
    this.remember(ref);
    if (this.state.workerState !== 'starting') return;
    this.state.taskId = taskId;
    this.log(`[system] start queued by the overseer (pool full) task=${taskId}${position ? ` position=${position}` : ''}`);
    await this.commit();
  }

  /** A queued start left the queue without starting (stopped, purged, expired), noticed by a link
   * instance that no longer holds the start: back to idle so the reconciler can try again. */
  async queuedStartDropped(ref: SourceRef, taskId: string, reason: string): Promise<void> {
    this.remember(ref);
    if (this.state.workerState !== 'starting' || this.state.taskId !== taskId) return;
    this.log(`[system] start failed: queued start dropped by the overseer (${reason})`);
    this.state.workerState = 'idle';
    this.state.taskId = '';
    await this.commit();
  }

  /** The start sequence failed. `droppedTaskId`: the queued task it waited under is gone (withdrawn,
   * purged, expired), so the next start must not offer that id again. */
  async startFailed(ref: SourceRef, message: string, droppedTaskId?: string): Promise<void> {
    this.remember(ref);
    this.log(`[system] start failed: ${message}`);
    if (this.state.workerState === 'starting') this.state.workerState = 'idle';
    if (droppedTaskId && this.state.taskId === droppedTaskId) this.state.taskId = '';
    await this.commit();
  }

  /** Forget the stored task id (it is stopped and still occupies its id in the overseer). */
  async clearTask(ref: SourceRef): Promise<void> {
    this.remember(ref);
    this.state.taskId = '';
    await this.commit();
  }

  /** A stop was sent because no active subscription is left: logged and kept as a `stopped` event.
   * Runtime state changes only when the overseer confirms with `exited`. */
  async stopRequested(ref: SourceRef): Promise<void> {
    this.remember(ref);
    if (this.state.workerState !== 'running') return;
    this.log(`[system] stopping task=${this.state.taskId} (no active subscription left)`);
    await this.commit([{ type: 'stopped', pid: this.state.pid, exitCode: null }]);
  }

  /** Adopt a task found running by the reconciler. */
  async claim(ref: SourceRef, taskId: string, pid: number): Promise<void> {
    this.remember(ref);
    this.state.taskId = taskId;
    this.state.pid = pid;
    this.state.workerState = 'running';
    this.log(`[system] claimed running task=${taskId} pid=${pid}`);
    await this.commit();
  }

  /** The reconciler found the worker gone (or not needed): back to idle, optionally with a log line.
   * `forgetTask`: its task id belongs to an overseer it is moving away from (clearTask, same write). */
  async markIdle(ref: SourceRef, line?: string, opts: { forgetTask?: boolean } = {}): Promise<void> {
    this.remember(ref);
    if (line) this.log(line);
    if (opts.forgetTask) this.state.taskId = '';
    if (this.state.workerState !== 'errored') {
      this.state.workerState = 'idle';
      this.state.pid = 0;
    }
    await this.commit();
  }

  /** Reset-error (§7.6): only from `errored`. Returns the task id to stop, or null when not errored. */
  async resetError(ref: SourceRef): Promise<{ oldTaskId: string } | null> {
    this.remember(ref);
    if (this.state.workerState !== 'errored') return null;
    const oldTaskId = this.state.taskId;
    this.state = { ...this.state, taskId: '', workerState: 'idle', pid: 0, errorMessage: null };
    this.ctx.storage.sql.exec(`DELETE FROM exits`);
    this.log('[system] reset — restarting worker with current configuration');
    await this.commit();
    return { oldTaskId };
  }

  /** Admin restart / restart-all (§3.6): any state; clears the runtime and the error window. */
  async resetForRestart(ref: SourceRef, line: string): Promise<{ oldTaskId: string }> {
    this.remember(ref);
    const oldTaskId = this.state.taskId;
    this.state = {
      ...this.state,
      taskId: '',
      workerState: 'idle',
      pid: 0,
      errorMessage: null,
      recordingState: null,
      recordingSessionActive: false,
      recordingSessionStartedAt: null,
    };
    this.ctx.storage.sql.exec(`DELETE FROM exits`);
    this.log(line);
    await this.commit();
    return { oldTaskId };
  }

  // ───────────── overseer pushes (contract §5.8, §6.4) ─────────────

  /**
   * A group of overseer pushes for this source, in arrival order (the link sends what queued up
   * while its previous call here was in flight: one RPC and one storage commit per group instead of
   * per event). `confirmedProgress`: the link wrote progress hand-off `n` to D1; `dropped`: output
   * lines the link dropped for this source past its queue bound (logged here).
   *
   * What D1 must receive is decided once for the group: a change of state or a worker event is
   * mirrored by this object at once (row + outbox, as before); a change of progress only (what
   * heartbeats move) is handed to the link in the answer, which writes the progress of many sources
   * in one D1 batch at most once a second (issue 17 target 4). A hand-off the link never confirms
   * (it was evicted, D1 failed) is written by this object's alarm after `PROGRESS_LEASE_MS`.
   *
   * `pushed` is the group as a JSON array (what the link sends: one string crosses RPC far cheaper
   * than an array of objects) or the array itself; either way frames the link already validated.
   */
  async ingest(ref: SourceRef, pushed: string | readonly TaskEvent[], win: ErrorWindowConfig, opts: { confirmedProgress?: number; dropped?: number } = {}): Promise<IngestResult> {
    this.remember(ref);
    const events: readonly TaskEvent[] = typeof pushed === 'string' ? (JSON.parse(pushed) as TaskEvent[]) : pushed;
    if (opts.confirmedProgress !== undefined) this.progressConfirmed(opts.confirmedProgress);
    if (opts.dropped) this.log(`[system] ingest overloaded: ${opts.dropped} output line(s) dropped before this point`);
    const result: IngestResult = { stopTaskIds: [] };
    if (events.length === 0) {
      if (opts.dropped) this.setMeta('state', JSON.stringify(this.state));
      return result;
    }
    const before = this.progressKey();
    const workerEvents: Array<{ type: string; pid: number; exitCode: number | null }> = [];
    this.ingesting = true;
    try {
      for (const ev of events) {
        const stop = this.applyEvent(ev, win, workerEvents);
        if (stop) result.stopTaskIds.push(stop);
        // Per event, not per group: an errored → running inside one group still announces both.
        this.noteTransitions();
      }
    } finally {
      this.ingesting = false;
      this.writeLogs();
    }
    const progressMoved = this.progressKey() !== before;
    if (workerEvents.length > 0 || this.stateKey() !== this.mirroredState) {
      await this.commit(workerEvents);
    } else {
      this.setMeta('state', JSON.stringify(this.state));
    }
    if (progressMoved) result.progress = this.handOffProgress();
    return result;
  }

  /** Applies one push to the state (logs written, exits counted); the task to stop, if any. */
  private applyEvent(ev: TaskEvent, win: ErrorWindowConfig, events: Array<{ type: string; pid: number; exitCode: number | null }>): string | undefined {
    const s = this.state;
    let stopTaskId: string | undefined;
    switch (ev.type) {
      case 'started': {
        const pid = ev.pid ?? 0;
        s.pid = pid;
        s.workerState = 'running';
        s.taskId = ev.task_id;
        this.log(ev.restart_of && ev.restart_of > 0 ? `[system] restarted (pid=${pid}, was ${ev.restart_of})` : `[system] started (pid=${pid})`);
        events.push({ type: 'started', pid, exitCode: null });
        break;
      }
      case 'output': {
        const data = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data ?? '');
        this.log(`[${ev.stream === 'stderr' ? 'stderr' : 'stdout'}] ${data}`);
        this.applyRecorderEvent(parseRecorderLine(ev.data), ev.ts ?? nowIso());
        break;
      }
      case 'exited': {
        const pid = ev.pid ?? 0;
        const code = ev.exit_code ?? 0;
        if (pid === s.pid) s.pid = 0;
        if (s.workerState === 'running') s.workerState = 'idle';
        s.recordingState = null;
        s.recordingSessionActive = false;
        s.recordingSessionStartedAt = null;
        this.log(`[system] process pid=${pid} exited (code=${code} intentional=${ev.intentional === true})`);
        events.push({ type: 'exited', pid, exitCode: code });
        if (ev.intentional !== true && s.workerState !== 'errored') {
          const n = this.countExit(win);
          if (win.threshold > 0 && n >= win.threshold) {
            this.enterErrored(n);
            events.push({ type: 'errored', pid, exitCode: code });
            if (s.taskId) stopTaskId = s.taskId;
          }
        }
        break;
      }
      case 'restarting':
        this.log(`[system] restarting (attempt ${ev.attempt ?? 0})`);
        break;
      case 'errored':
        if (s.workerState !== 'errored') {
          this.enterErrored(ev.exit_count ?? 0);
          events.push({ type: 'errored', pid: ev.pid ?? 0, exitCode: null });
        }
        break;
    }
    return stopTaskId;
  }

  /** Alarm: drop exits that left the window; re-armed while any remain. */
  override async alarm(): Promise<void> {
    // The object's one alarm is spent: whatever armed it, the next hand-off arms anew (below, a
    // hand-off still owed re-arms it for the newest one).
    this.leaseAlarmAt = 0;
    const windowMs = Number(this.meta('window_ms') ?? '0');
    if (windowMs > 0) this.ctx.storage.sql.exec(`DELETE FROM exits WHERE at <= ?`, world.now() - windowMs);
    this.armPrune(windowMs);
    // A progress hand-off the link never confirmed (it was evicted, or D1 refused it): write the
    // row here. After an eviction `handed` is gone, so the lease counts as expired.
    if (this.meta('progress_dirty') !== null) {
      if (this.handed && world.now() < this.handed.at + PROGRESS_LEASE_MS) {
        this.leaseAlarmAt = this.handed.at + PROGRESS_LEASE_MS;
        void this.armAt(this.leaseAlarmAt);
      }
      else {
        this.ctx.storage.sql.exec(`DELETE FROM meta WHERE key = 'progress_dirty'`);
        this.setMeta('mirror_dirty', '1');
      }
    }
    await this.flush();
  }

  private progressKey(): string {
    return JSON.stringify([this.state.lastHeartbeat, this.state.recordingSessionDuration]);
  }

  /** Hands the current progress to the link; kept dirty (and the lease alarm armed) until confirmed. */
  private handOffProgress(): ProgressHandOff {
    const n = (this.handed?.n ?? Number(this.meta('progress_seq') ?? '0')) + 1;
    this.setMeta('progress_seq', String(n));
    this.setMeta('progress_dirty', String(n));
    this.handed = { n, key: this.rowKey(), at: world.now() };
    // One lease alarm serves a whole burst: when it fires early it re-arms for the newest hand-off
    // (see `alarm`), so reading the alarm per group (as arming does) buys nothing.
    if (this.leaseAlarmAt <= world.now()) {
      const at = (this.leaseAlarmAt = world.now() + PROGRESS_LEASE_MS);
      void this.armAt(at).then((armed) => {
        if (!armed && this.leaseAlarmAt === at) this.leaseAlarmAt = 0;
      });
    }
    return { n, lastHeartbeat: this.state.lastHeartbeat, sessionDuration: this.state.recordingSessionDuration };
  }

  /** The link wrote hand-off `n`: nothing is owed for it (a newer one stays owed). */
  private progressConfirmed(n: number): void {
    if (this.meta('progress_dirty') !== String(n)) return;
    this.ctx.storage.sql.exec(`DELETE FROM meta WHERE key = 'progress_dirty'`);
    if (this.handed?.n === n && this.rowKey() === this.handed.key) this.mirrored = this.handed.key;
  }

  // ───────────── internals ─────────────

  private enterErrored(exits: number): void {
    this.state.workerState = 'errored';
    this.state.errorMessage = `error threshold reached after ${exits} exits`;
    this.log('[system] error threshold reached — use reset-error to retry');
  }

  /** Records one unintentional exit and returns how many lie inside the window. */
  private countExit(win: ErrorWindowConfig): number {
    const sql = this.ctx.storage.sql;
    const now = world.now();
    sql.exec(`INSERT INTO exits (at) VALUES (?)`, now);
    if (win.windowMs > 0) sql.exec(`DELETE FROM exits WHERE at <= ?`, now - win.windowMs);
    this.setMeta('window_ms', String(win.windowMs));
    this.armPrune(win.windowMs);
    return sql.exec<{ n: number }>(`SELECT count(*) AS n FROM exits`).one().n;
  }

  private armPrune(windowMs: number): void {
    if (windowMs <= 0) return;
    const oldest = this.ctx.storage.sql.exec<{ at: number | null }>(`SELECT min(at) AS at FROM exits`).one().at;
    if (oldest === null) return;
    void this.armAt(oldest + windowMs + 1);
  }

  /** One alarm serves both the error-window prune and the mirror retries: keep the earliest. */
  private async armAt(at: number): Promise<boolean> {
    try {
      const current = await this.ctx.storage.getAlarm();
      if (current === null || at < current || current < world.now()) await this.ctx.storage.setAlarm(at);
      return true;
    } catch {
      return false; // the next commit or alarm re-arms
    }
  }

  /** Recording state and session flags from a recorder event (contract §6.4). */
  private applyRecorderEvent(ev: Record<string, string> | null, ts: string): void {
    if (!ev) return;
    const s = this.state;
    switch (ev.event) {
      case 'RECORDING START':
        s.recordingState = 'recording';
        if (!s.recordingSessionActive) s.recordingSessionStartedAt = ts;
        s.recordingSessionActive = true;
        s.lastRecordingAt = ts;
        break;
      case 'HEARTBEAT':
        s.recordingState = 'recording';
        s.recordingSessionActive = true;
        s.lastHeartbeat = ts;
        if (ev.session_duration) s.recordingSessionDuration = ev.session_duration;
        break;
      case 'RECORDING END':
        s.recordingState = 'idle';
        break;
      case 'SLEEP':
        s.recordingState = 'sleeping';
        break;
      case 'SESSION END':
        s.recordingState = 'idle';
        s.recordingSessionActive = false;
        s.recordingSessionStartedAt = null;
        break;
    }
  }

  /** What `noteSourceTransitions` last saw (errored, last recording): it reads and compares its
   * stored copy, a KV read per event in a burst; while neither moved there is nothing to announce. */
  private noted: string | null = null;

  private noteTransitions(): void {
    const key = `${this.state.workerState === 'errored'}|${this.state.lastRecordingAt}`;
    if (key === this.noted) return;
    noteSourceTransitions(this.env, this.ctx, this.ref, this.state);
    if (this.ref) this.noted = key;
  }

  private remember(ref: SourceRef): void {
    if (this.ref && this.ref.sourceId === ref.sourceId) return;
    this.ref = { sourceId: ref.sourceId, driver: ref.driver, username: ref.username };
    this.setMeta('ref', JSON.stringify(this.ref));
  }

  /** Lines of the group `ingest` is applying, written together by `writeLogs`. */
  private groupLines: string[] = [];

  /** Appends a log line; inside `ingest` it joins the group's lines (one statement for the group). */
  private log(line: string): void {
    const kept = line.length > 8192 ? `${line.slice(0, 8192)}…` : line;
    if (this.ingesting) {
      this.groupLines.push(kept);
      return;
    }
    this.ctx.storage.sql.exec(`INSERT INTO logs (line) VALUES (?)`, kept);
    this.trimLogs();
  }

  /** The group's lines in one INSERT (one statement per line was ~13 % of a burst's CPU), in
   * order; lines the cap would trim at once are not written. Then the cap is applied. */
  private writeLogs(): void {
    const lines = this.groupLines.slice(-LOG_CAP);
    this.groupLines = [];
    if (lines.length > 0) this.ctx.storage.sql.exec(`INSERT INTO logs (line) SELECT value FROM json_each(?) ORDER BY key`, JSON.stringify(lines));
    this.trimLogs();
  }

  private trimLogs(): void {
    this.ctx.storage.sql.exec(`DELETE FROM logs WHERE id <= (SELECT max(id) FROM logs) - ?`, LOG_CAP);
  }

  private readLogs(): string[] {
    return this.ctx.storage.sql.exec<{ line: string }>(`SELECT line FROM logs ORDER BY id`).toArray().map((r) => r.line);
  }

  private meta(key: string): string | null {
    const rows = this.ctx.storage.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray();
    return rows[0]?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.ctx.storage.sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  /**
   * Persists the state locally and, in the same storage commit, what D1 must receive (an outbox:
   * the runtime row is marked dirty, worker events are queued); then delivers it. A failed D1 write
   * does not fail the caller: the alarm retries with backoff until D1 confirms (issue 20), and the
   * writes are idempotent (the row is a full overwrite, events are inserted once by source+ts+type).
   */
  private async commit(events: Array<{ type: string; pid: number; exitCode: number | null }> = []): Promise<void> {
    this.setMeta('state', JSON.stringify(this.state));
    if (this.ref === null) return;
    this.noteTransitions();
    if (this.rowKey() !== this.mirrored) this.setMeta('mirror_dirty', '1');
    // Each event its own millisecond: D1 drops a repeat of (source, ts, type, pid) as a retry, so
    // three crashes of one pid applied in one group must not share a timestamp.
    for (const e of events) {
      this.lastEventMs = Math.max(world.now(), this.lastEventMs + 1);
      this.ctx.storage.sql.exec(`INSERT INTO outbox (type, pid, exit_code, ts) VALUES (?, ?, ?, ?)`, e.type, e.pid, e.exitCode, new Date(this.lastEventMs).toISOString());
    }
    // Progress only (a heartbeat burst): the alarm delivers it a second after the last write, so
    // a source costs D1 at most one write per second however fast its recorder talks.
    const due = this.lastWriteAt + MIRROR_COALESCE_MS;
    if (events.length === 0 && this.stateKey() === this.mirroredState && world.now() < due) {
      await this.armAt(due);
      return;
    }
    await this.flush();
  }

  private mirrorPending(): boolean {
    if (this.meta('mirror_dirty') === '1') return true;
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM outbox`).one().n > 0;
  }

  private mirrorRow(): RuntimeMirror {
    const s = this.state;
    return {
      workerState: s.workerState,
      pid: s.pid,
      recordingState: s.recordingState,
      recordingSessionActive: s.recordingSessionActive,
      recordingSessionStartedAt: s.recordingSessionStartedAt,
      recordingSessionDuration: s.recordingSessionDuration,
      lastHeartbeat: s.lastHeartbeat,
      lastRecordingAt: s.lastRecordingAt,
      errorMessage: s.errorMessage,
      overseerTaskId: s.taskId || null,
    };
  }

  private rowKey(): string {
    return JSON.stringify(this.mirrorRow());
  }

  private stateKey(): string {
    const { lastHeartbeat: _h, recordingSessionDuration: _d, ...state } = this.mirrorRow();
    return JSON.stringify(state);
  }

  /** One delivery at a time; a call during a delivery waits for it and then delivers what is left. */
  private flushing: Promise<void> | null = null;
  private retryDelayMs = 0;

  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    const ref = this.ref;
    if (!ref || !this.mirrorPending()) return;
    this.flushing = (async () => {
      const dirty = this.meta('mirror_dirty') === '1';
      const key = this.rowKey();
      const stateKey = this.stateKey();
      const queued = this.ctx.storage.sql.exec<{ id: number; type: string; pid: number; exit_code: number | null; ts: string }>(`SELECT * FROM outbox ORDER BY id LIMIT 50`).toArray();
      const d = db(this.env);
      const stmts = [
        ...(dirty ? [mirrorRuntimeStatement(d, ref.sourceId, this.mirrorRow())] : []),
        ...queued.map((e) => recordWorkerEventStatement(d, ref.sourceId, { type: e.type, pid: e.pid, exitCode: e.exit_code, ts: e.ts })),
      ];
      try {
        if (stmts.length > 0) await d.batch(stmts as [(typeof stmts)[number], ...(typeof stmts)[number][]]);
      } catch (err) {
        this.retryDelayMs = Math.min(60_000, Math.max(1_000, this.retryDelayMs * 2));
        console.warn(JSON.stringify({ level: 'warn', msg: 'D1 mirror write failed, will retry', component: 'source-monitor', source: monitorName(ref), retry_in_ms: this.retryDelayMs, error: String(err) }));
        await this.armAt(world.now() + this.retryDelayMs);
        return;
      }
      this.retryDelayMs = 0;
      this.mirrored = key;
      this.mirroredState = stateKey;
      if (dirty) this.lastWriteAt = world.now();
      // Only what was sent is confirmed; a change made meanwhile stays dirty for the next round.
      if (dirty && this.rowKey() === key) this.setMeta('mirror_dirty', '0');
      if (queued.length > 0) this.ctx.storage.sql.exec(`DELETE FROM outbox WHERE id <= ?`, queued[queued.length - 1]!.id);
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
    if (this.retryDelayMs === 0 && this.mirrorPending()) await this.flush();
  }
}
