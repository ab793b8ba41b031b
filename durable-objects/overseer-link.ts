/**
 * OverseerLink — the one object (`getByName('overseer')`) that holds the WebSocket to the recorder
 * fleet at `OVERSEER_URL` (contract §5). It correlates requests by `id` with timeouts, reconnects
 * with exponential backoff driven by alarms, reconciles on every connect and every
 * `reconcile_interval` (claim by task id, then by `action/source`), starts sources through the §5.6
 * sequence with bulk starts bounded by `start_concurrency`, and routes pushed task events by task id
 * to the source's `SourceMonitor` — grouped per source while a call to that monitor is in flight, the
 * heartbeats' progress written to the D1 mirror for many sources per batch (issue 17 target 4).
 *
 * The link is lazy: any DVR request (`wake()`), `/api/health` (`isConnected()`) or the `*\/5` cron
 * dials it when it is down. The task-id index is kept in this object's SQLite storage, so events
 * keep being routed after an eviction; the monitors hold everything else.
 *
 *   const link = env.OVERSEER_LINK.getByName('overseer');
 *   await link.requestStart(ref);          // returns once the source is `starting` (or already up)
 *   await link.stopSource(ref);            // posture left no active subscriber
 *   const tasks = await link.listTasks();  // GET /api/workers
 */
import { DurableObject } from 'cloudflare:workers';
import { dialUrl, MAX_FRAME_BYTES, overseerConfigProblem, parseServerFrame, type Metrics, type PoolInfo, type ServerFrame, type ServerFrameOf, type TaskInfo } from '../src/dvr/protocol';
import { isTaskEvent, monitorName, type ProgressHandOff, type SourceRef, type TaskEvent } from '../src/dvr/runtime';
import { recordingsHookBatch } from '../src/dvr/recordings/hook';
import { recordMetric } from '../src/http/metrics/record';
import {
  errorWindow,
  loadConfig,
  reconcileIntervalMs,
  recorderParams,
  retryPolicy,
  startConcurrency,
  type DvrConfig,
} from '../src/dvr/settings';
import { createLogger } from '../src/http/log';
import { db, type Db } from '../src/db/client';
import { liveSources, mirrorProgressStatement } from '../src/dvr/queries';
import { world } from '../src/world';
import { failoverGraceMs, isEligible, overseerFleet, ownerOf, type OverseerStatus } from '../src/dvr/overseer';

const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 10_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const CONFIG_TTL_MS = 30_000;
const HEALTH_DIAL_WAIT_MS = 2_000;
/** Frames (and their bytes) waiting to be applied, over all sources; beyond either the link
 * reconnects instead of buffering (the reconnect's reconciliation re-reads the overseer's state). */
const MAX_INBOUND_FRAMES = 10_000;
const MAX_INBOUND_BYTES = 16 * 1024 * 1024;
/** One source's `output` frames waiting for its monitor; past this its further output lines are
 * dropped (and counted in its log) — lifecycle frames (started, exited, …) are always kept. */
const MAX_SOURCE_OUTPUTS = 1_000;
/** At most this many pushes per monitor RPC (and per catalog batch). */
const MAX_GROUP = 100;
/** A source's groups leave at most this often while it bursts (unless a full group waits): the
 * first push after a pause goes at once, the ones behind it gather for one RPC. Without it a burst
 * went as groups of ~4 (the call returned before more arrived) and the calls' fixed cost dominated. */
const LANE_TICK_MS = 50;
/** Progress (heartbeat) mirror writes of all sources go to D1 together, at most this often. */
const PROGRESS_FLUSH_MS = 1_000;
/** Statements per D1 batch of progress writes. */
const PROGRESS_BATCH = 200;

/** A start the overseer queued (pool full) may wait this long for a slot; then it is withdrawn and
 * the reconciler tries again later. Every pending start has a deadline: 20 s unqueued, this queued. */
const QUEUED_START_DEADLINE_MS = 10 * 60_000;
/** A `dequeued` without a reason is given this long for its `started` before the start counts as dropped. */
const DEQUEUE_GRACE_MS = 3_000;
/** How long a start waits for a task it just stopped to exit before giving up on it. */
const STOP_EXIT_WAIT_MS = 10_000;

/**
 * False only for a recorder line that certainly is no catalog event (RECORDING START/END, SEGMENT
 * START/FINISH): a string naming neither word and holding no escape (an escaped `\u0053EGMENT`
 * still parses as one). Conservative: anything else goes to the catalog, which parses it properly.
 */
function mayTouchCatalog(data: unknown): boolean {
  return typeof data !== 'string' || /RECORDING|SEGMENT|\\/.test(data);
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function inPool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

class OverseerError extends Error {
  /** The running task a `duplicate task: already running as <id>` error names. */
  existingTaskId?: string;
  /** Set when a queued start ended without starting: the task id it was queued under, now void. */
  droppedTaskId?: string;
}

/**
 * One source's pushes waiting while an RPC to its monitor is in flight (issue 17 target 4): the next
 * RPC takes everything queued (up to `MAX_GROUP`), so a burst costs one call per group instead of
 * one per event, and the source's order is kept. A `job` is a reply that acts on the monitor (a
 * start confirmed or queued), ordered with the task's events.
 */
interface Lane {
  ref: SourceRef;
  items: Array<{ frame: TaskEvent; bytes: number } | { job: () => Promise<void>; bytes: number }>;
  outputs: number;
  /** Output lines dropped past `MAX_SOURCE_OUTPUTS`, reported with the next delivery. */
  dropped: number;
  busy: boolean;
  /** A progress hand-off D1 confirmed, told to the monitor with the next delivery. */
  confirm?: number;
}

interface Pending {
  resolve(frame: ServerFrame): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout> | null;
  /** Set for `start` requests: the `started` reply is applied to this source before resolving. */
  source?: SourceRef;
  /** Start requests: when it was sent and the task id the overseer queued it under. */
  since: number;
  queuedTaskId?: string;
  queuedAt?: number;
  /** We sent `stop` for the queued task: this start cannot succeed any more. */
  withdrawn?: boolean;
}


export class OverseerLink extends DurableObject<Env> {
  private socket: WebSocket | null = null;
  private dialing: Promise<void> | null = null;
  private pending = new Map<string, Pending>();
  private seq = 0;
  /** Request ids are unique per instance; a prefix keeps them unique across evictions too. */
  private readonly idPrefix = `r${Math.floor(Math.random() * 1e6).toString(36)}-`;
  /** task id → source, mirrored in SQLite (`task_index`). */
  private tasks = new Map<string, SourceRef>();
  /** Per-source queues of inbound pushes (source id → lane); frames and bytes queued over all. */
  private lanes = new Map<number, Lane>();
  private inboundDepth = 0;
  private inboundBytes = 0;
  /** When each source's last group left (real time: this paces CPU work, not the domain clock),
   * kept after its lane empties so the next push of a burst still waits its turn. */
  private lastDelivery = new Map<number, number>();
  private lastDeliveryPruned = 0;
  /** Progress writes owed to D1 (source id → the latest hand-off), flushed together every ≤ 1 s. */
  private progressOwed = new Map<number, { ref: SourceRef; p: ProgressHandOff }>();
  private progressTimer: ReturnType<typeof setTimeout> | null = null;
  private progressFlushing = false;
  private failures = 0;
  private nextDialAt = 0;
  private lastReconcileAt = 0;
  private cfg: { value: DvrConfig; at: number } | null = null;
  /** Sources with a start sequence in flight in this instance. A `starting` state without one is
   * stale (the instance that began it is gone) and is reconciled like `idle`. */
  private startsInFlight = new Set<number>();
  /** Sources a bulk start holds but has not begun yet (it runs `start_concurrency` at a time, so
   * thousands wait minutes): a reconcile meanwhile counts them as in flight, not as idle to start. */
  private awaitingStart = new Set<number>();
  /** source id → request id of its pending `start`, to cancel or withdraw it. */
  private startRequestOf = new Map<number, string>();
  /** source id → the running start sequence, so a reconcile that withdraws it can wait for it. */
  private startRuns = new Map<number, Promise<void>>();
  /** Sources whose in-flight start is no longer wanted: its reply is stopped (or its queued task
   * withdrawn) on arrival. `startAgain`: wanted again after the withdrawal — start anew at the end. */
  private unwanted = new Set<number>();
  /** Bulk-start workers waiting for a start to be answered or queued (source id → wake-up). */
  private queuedSignals = new Map<number, () => void>();
  private startAgain = new Set<number>();
  /** Tasks we sent `stop` for whose `exited` has not arrived yet. A restart's fresh start that the
   * overseer's dedupe rejects because the old process is still exiting waits here and retries. */
  private stopping = new Map<string, { exited: Promise<void>; resolve(): void }>();
  private readonly log = createLogger({ component: 'overseer-link' });
  /** This link's overseer (its entry in the fleet, found by object id); url '' when unconfigured. */
  private readonly me: { id: string; url: string };
  /** The fleet has more than one overseer: sources are assigned by rendezvous hashing. */
  private readonly inFleet: boolean;
  /** When the overseer was last found unreachable (null while connected), kept across evictions. */
  private downSince: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const fleet = overseerFleet(env);
    this.me = fleet.find((o) => env.OVERSEER_LINK.idFromName(o.id).equals(ctx.id)) ?? { id: 'overseer', url: '' };
    this.inFleet = fleet.length > 1;
    ctx.blockConcurrencyWhile(async () => {
      this.downSince = (await ctx.storage.get<number>('down_since')) ?? null;
      const sql = ctx.storage.sql;
      sql.exec(`CREATE TABLE IF NOT EXISTS task_index (task_id TEXT PRIMARY KEY, source_id INTEGER NOT NULL, driver TEXT NOT NULL, username TEXT NOT NULL)`);
      for (const r of sql.exec<{ task_id: string; source_id: number; driver: string; username: string }>(`SELECT * FROM task_index`)) {
        this.tasks.set(r.task_id, { sourceId: r.source_id, driver: r.driver, username: r.username });
      }
    });
  }

  // ───────────── connection state ─────────────

  /** `/api/health`: is a socket open? Wakes a link that is down, waiting at most ~2 s for the dial
   * so a cold start does not report "offline" while the first connection is being made. */
  async isConnected(): Promise<boolean> {
    if (!this.connected()) await this.wakeBriefly();
    return this.connected();
  }

  private async wakeBriefly(): Promise<void> {
    const attempt = this.wake().catch(() => false);
    await Promise.race([attempt, new Promise((r) => setTimeout(r, HEALTH_DIAL_WAIT_MS))]);
  }

  /** Dials when down (respecting the backoff) and waits for the attempt; true when connected. */
  async wake(): Promise<boolean> {
    if (this.connected()) return true;
    if (!this.me.url) return false;
    if (world.now() < this.nextDialAt && !this.dialing) {
      await this.armAlarm(this.nextDialAt);
      return false;
    }
    await this.dial();
    return this.connected();
  }

  /** Config changed (PUT /api/config): re-read it on next use. */
  async configChanged(): Promise<void> {
    this.cfg = null;
  }

  override async alarm(): Promise<void> {
    if (!this.me.url) return;
    if (!this.connected()) {
      this.nextDialAt = 0;
      await this.dial();
      return; // dial() re-arms on failure; a success arms the reconcile timer
    }
    const interval = reconcileIntervalMs(await this.config());
    // In a fleet, a peer's grace running out is a reason to reconcile now, not at the next interval:
    // its sources then record again within the grace period (plus the starts), not grace + interval.
    const expiries = this.inFleet ? await this.peerGraceExpiries() : [];
    const expiredSinceLast = expiries.some((t) => t <= world.now() && t > this.lastReconcileAt);
    if (world.now() - this.lastReconcileAt >= interval - 500 || expiredSinceLast) await this.reconcile('periodic');
    const upcoming = expiries.filter((t) => t > world.now());
    await this.armAlarm(Math.min(this.lastReconcileAt + interval, ...upcoming));
  }

  /** When each unreachable peer's failover grace ends (or ended): the moment its sources move. */
  private async peerGraceExpiries(): Promise<number[]> {
    const grace = failoverGraceMs(this.env);
    const peers = overseerFleet(this.env).filter((o) => o.id !== this.me.id);
    const statuses = await Promise.all(peers.map((o) => this.env.OVERSEER_LINK.getByName(o.id).status().catch(() => null)));
    return statuses.flatMap((s) => (s && !s.connected && s.downSince !== null ? [s.downSince + grace] : []));
  }

  private connected(): boolean {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  private dial(): Promise<void> {
    if (this.dialing) return this.dialing;
    const problem = overseerConfigProblem({ ...this.env, OVERSEER_URL: this.me.url });
    if (problem) {
      // A configuration that would send the sites' cookies in clear or unauthenticated: never dial.
      this.log.error('refusing to dial the overseer', { problem });
      return Promise.resolve();
    }
    this.dialing = (async () => {
      try {
        const res = await world.fetch(dialUrl(this.me.url), {
          headers: { Upgrade: 'websocket', Authorization: `Bearer ${this.env.OVERSEER_TOKEN}` },
        });
        const ws = res.webSocket;
        if (!ws) throw new Error(`overseer refused the upgrade (HTTP ${res.status})`);
        ws.accept();
        ws.addEventListener('message', (ev) => {
          const size = typeof ev.data === 'string' ? ev.data.length : (ev.data as ArrayBuffer).byteLength;
          if (size > MAX_FRAME_BYTES) {
            // Not even decoded: a frame this large is a fault (or an attack), never a message we need.
            this.log.warn('oversized overseer frame dropped', { bytes: size, limit: MAX_FRAME_BYTES });
            this.failOversizedReply(ev.data, size);
            return;
          }
          if (this.inboundDepth >= MAX_INBOUND_FRAMES || this.inboundBytes >= MAX_INBOUND_BYTES) {
            // We are not keeping up: drop the connection rather than buffer without bound. The
            // reconnect's reconciliation re-reads the overseer's state, so nothing is lost for good.
            this.log.error('overseer inbound queue full, reconnecting', { depth: this.inboundDepth, bytes: this.inboundBytes });
            this.onDown(ws, { cause: 'inbound queue full' });
            return;
          }
          const raw = typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data as ArrayBuffer);
          try {
            this.onFrame(raw, size);
          } catch (e) {
            this.log.error('overseer frame failed', { error: String(e) });
          }
        });
        // Why a connection ended is logged with it: a close code 1009 (a frame over the runtime's
        // WebSocket message limit) or an error looks like a silent drop otherwise.
        ws.addEventListener('close', (ev) => this.onDown(ws, { close_code: ev.code, close_reason: ev.reason, clean: ev.wasClean }));
        ws.addEventListener('error', (ev) => this.onDown(ws, { error: String((ev as ErrorEvent).message ?? (ev as ErrorEvent).error ?? 'websocket error') }));
        this.socket = ws;
        this.failures = 0;
        this.markUp();
        this.nextDialAt = 0;
        this.log.info('overseer connected', { url: this.me.url });
        recordMetric(this.env, this.ctx, 'dvr.overseer_reconnects', { overseer: new URL(this.me.url).host });
        // On-connect reconciliation runs in the background; the alarm then keeps the periodic one.
        this.lastReconcileAt = world.now();
        void this.reconcile('connect').catch((e) => this.log.warn('reconcile failed', { error: String(e) }));
        await this.armAlarm(world.now() + reconcileIntervalMs(await this.config()));
      } catch (e) {
        this.failures += 1;
        this.markDown();
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.failures - 1, 10));
        this.nextDialAt = world.now() + delay;
        this.log.warn('overseer dial failed', { error: String(e), retry_in_ms: delay });
        await this.armAlarm(this.nextDialAt);
      } finally {
        this.dialing = null;
      }
    })();
    return this.dialing;
  }

  /** The connection is gone (or given up on): `why` says how, and is logged. */
  private onDown(ws: WebSocket, why: Record<string, unknown>): void {
    if (this.socket !== ws) return;
    this.socket = null;
    try {
      ws.close();
    } catch {
      /* already closed */
    }
    for (const id of [...this.pending.keys()]) this.fail(id, new OverseerError('overseer: connection lost'));
    this.failures += 1;
    this.markDown();
    this.nextDialAt = world.now() + BACKOFF_MIN_MS;
    this.log.warn('overseer connection lost', { url: this.me.url, pending: this.pending.size, tasks: this.tasks.size, ...why });
    void this.armAlarm(this.nextDialAt).catch(() => undefined);
  }

  private markDown(): void {
    if (this.downSince !== null) return;
    this.downSince = world.now();
    void this.ctx.storage.put('down_since', this.downSince).catch(() => undefined);
  }

  private markUp(): void {
    if (this.downSince === null) return;
    this.downSince = null;
    void this.ctx.storage.delete('down_since').catch(() => undefined);
  }

  // ───────────── the fleet ─────────────

  /** For the fleet's assignment: connected, and since when it is down. A link never dialed is
   * dialed now (not awaited) and counts as down from now, so its grace period starts. */
  async status(): Promise<OverseerStatus> {
    if (!this.connected()) {
      if (this.downSince === null && this.me.url && !this.dialing) this.markDown();
      if (this.me.url && !this.dialing && world.now() >= this.nextDialAt) void this.wake().catch(() => false);
    }
    return { id: this.me.id, connected: this.connected(), downSince: this.connected() ? null : this.downSince };
  }

  /** The task ids this link routes events for (the sources it records or is starting). */
  async heldTaskIds(): Promise<string[]> {
    return [...this.tasks.keys()];
  }

  /**
   * Hand-over: another overseer owns these sources now. Each task is stopped here and forgotten
   * (its `exited` must not touch the source, which the new owner starts next); resolves once every
   * stop is confirmed by `exited` (or its wait ran out), so the new owner never records alongside.
   */
  async release(taskIds: string[]): Promise<string[]> {
    const released = taskIds.filter((t) => this.tasks.has(t));
    if (!this.connected()) return [];
    for (const t of released) this.stopTask(t);
    await Promise.all(released.map((t) => this.stopping.get(t)?.exited));
    return released;
  }

  private async armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at || current < world.now()) await this.ctx.storage.setAlarm(at);
  }

  /** The drizzle client, made once per binding: building one walks the whole schema (~10 % of a
   * burst's CPU when made per delivery). Keyed on the binding, which tests may swap for a counter. */
  private dbClient: { binding: D1Database; d: Db } | null = null;
  private db(): Db {
    if (this.dbClient?.binding !== this.env.DB) this.dbClient = { binding: this.env.DB, d: db(this.env) };
    return this.dbClient.d;
  }

  private async config(): Promise<DvrConfig> {
    if (this.cfg && world.now() - this.cfg.at < CONFIG_TTL_MS) return this.cfg.value;
    const value = await loadConfig(this.db());
    this.cfg = { value, at: world.now() };
    return value;
  }

  // ───────────── requests ─────────────

  private send(frame: Record<string, unknown>): boolean {
    if (!this.connected()) return false;
    this.socket!.send(JSON.stringify(frame));
    return true;
  }

  private nextId(): string {
    this.seq += 1;
    return `${this.idPrefix}${this.seq}`;
  }

  private request(frame: Record<string, unknown>, timeoutMs: number, source?: SourceRef): Promise<ServerFrame> {
    if (!this.connected()) return Promise.reject(new OverseerError('not connected to overseer'));
    const id = this.nextId();
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(id, new OverseerError(`overseer: timeout waiting for ${String(frame.type)} reply`)), timeoutMs);
      this.pending.set(id, { resolve, reject, timer, source, since: world.now() });
      if (source) this.startRequestOf.set(source.sourceId, id);
      this.send({ ...frame, id });
    });
  }

  /**
   * An oversized frame that is the reply to one of our requests (its head names the request's id)
   * fails that request now, saying why, instead of at its timeout: a `tasks` list past ~1,530 tasks
   * on one overseer (~680 bytes each) is such a reply, and the contract's `list` has no filter to
   * ask for less. A timed-out list would read as a dead connection and make the reconciler redial
   * in a loop; this failure only skips the round (and `GET /api/workers` answers 502 with the
   * reason). Only the first 256 characters are looked at.
   */
  private failOversizedReply(data: unknown, bytes: number): void {
    const head = typeof data === 'string' ? data.slice(0, 256) : new TextDecoder().decode(new Uint8Array(data as ArrayBuffer, 0, 256));
    const id = /"id"\s*:\s*"([^"\\]{1,128})"/.exec(head)?.[1];
    if (!id || !this.pending.has(id)) return;
    const type = /"type"\s*:\s*"([a-z_]{1,32})"/.exec(head)?.[1] ?? 'reply';
    this.fail(id, new OverseerError(`overseer: ${type} reply of ${bytes} bytes exceeds the ${MAX_FRAME_BYTES}-byte frame limit`));
  }

  /** Removes a pending request (and its start bookkeeping); returns it if it was still pending. */
  private settle(id: string): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (p.source && this.startRequestOf.get(p.source.sourceId) === id) this.startRequestOf.delete(p.source.sourceId);
    return p;
  }

  private fail(id: string, err: OverseerError): void {
    const p = this.settle(id);
    if (!p) return;
    if (p.queuedTaskId) {
      err.droppedTaskId = p.queuedTaskId;
      this.unindex(p.queuedTaskId);
    }
    p.reject(err);
  }

  async listTasks(): Promise<TaskInfo[]> {
    if (!this.connected()) await this.wake();
    const reply = await this.request({ type: 'list' }, REQUEST_TIMEOUT_MS);
    if (reply.type !== 'tasks') throw new OverseerError(`overseer: unexpected ${reply.type} reply to list`);
    return reply.tasks;
  }

  /** Recorder pool and metrics for diagnostics; a failed request just leaves its key out. */
  async diagnostics(): Promise<{ connected: boolean; error?: string; pool?: PoolInfo; metrics?: Metrics }> {
    if (!this.me.url) return { connected: false, error: 'overseer client not initialised' };
    const problem = overseerConfigProblem({ ...this.env, OVERSEER_URL: this.me.url });
    if (problem) return { connected: false, error: `overseer link refused: ${problem}` };
    if (!this.connected()) await this.wake();
    if (!this.connected()) return { connected: false, error: 'overseer disconnected' };
    const [pool, metrics] = await Promise.allSettled([
      this.request({ type: 'pool_info' }, REQUEST_TIMEOUT_MS),
      this.request({ type: 'metrics' }, REQUEST_TIMEOUT_MS),
    ]);
    const out: { connected: boolean; pool?: PoolInfo; metrics?: Metrics } = { connected: true };
    if (pool.status === 'fulfilled' && pool.value.type === 'pool_info') out.pool = pool.value.pool;
    if (metrics.status === 'fulfilled' && metrics.value.type === 'metrics') out.metrics = metrics.value.global;
    return out;
  }

  // ───────────── inbound frames ─────────────

  /**
   * Parses and routes one frame, synchronously and in arrival order: replies to requests settle at
   * once; a source's pushes (and the replies that act on its monitor) join the source's lane, which
   * delivers them in order. Routing by task id happens here, so a task indexed by an earlier frame
   * (a `started` reply) routes the frames that follow it.
   */
  private onFrame(raw: string, bytes: number): void {
    const parsed = parseServerFrame(raw);
    if (!parsed.ok) {
      if (parsed.ignored) return; // a frame type we do not speak (the overseer grows new ones)
      this.log.warn('malformed overseer frame dropped', { problem: parsed.problem });
      // A request waiting for this reply fails now rather than at its timeout.
      if (parsed.id) this.fail(parsed.id, new OverseerError(`overseer: malformed ${parsed.problem.split(':')[0]} reply`));
      return;
    }
    const frame = parsed.frame;
    const pending = frame.id ? this.pending.get(frame.id) : undefined;
    if (pending) return this.onReply(frame.id!, pending, frame, bytes);
    switch (frame.type) {
      case 'dequeued':
        return this.onDequeued(frame, bytes);
      case 'queued':
      case 'pool_updated':
        return; // someone else's start queued, or new pool limits: nothing of ours changes
    }
    if (!isTaskEvent(frame)) return;
    if (frame.type === 'exited') this.stopping.get(frame.task_id)?.resolve();
    const ref = this.tasks.get(frame.task_id);
    if (!ref) return; // events for tasks we do not own are ignored (§5.5)
    this.enqueue(ref, { frame, bytes });
  }

  /** A reply to one of our requests (correlated by `id`). */
  private onReply(id: string, pending: Pending, frame: ServerFrame, bytes: number): void {
    if (frame.type === 'queued') return this.onQueued(pending, frame, bytes);
    if (frame.type === 'dequeued') return this.onDequeued(frame, bytes);
    this.settle(id);
    if (frame.type === 'error') {
      const err = new OverseerError(`overseer: ${frame.message ?? 'error'}`);
      err.existingTaskId = frame.existing_task_id || /already running as (\S+)/.exec(frame.message ?? '')?.[1];
      pending.reject(err);
      return;
    }
    if (frame.type === 'started' && pending.source) {
      // Applied in the source's lane, so the task's own events that follow the reply always find
      // the source running under this task id.
      const ref = pending.source;
      this.index(frame.task_id, ref);
      this.enqueue(ref, {
        bytes,
        job: async () => {
          try {
            await this.monitor(ref).startConfirmed(ref, frame.task_id, frame.pid ?? 0);
            if (this.unwanted.has(ref.sourceId)) {
              // Nobody wants it any more (paused, archived, last subscriber gone while it waited):
              // stop it now rather than at the next reconcile. Its `exited` brings the source to idle.
              this.send({ type: 'stop', id: this.nextId(), task_id: frame.task_id });
              await this.monitor(ref).stopRequested(ref);
            }
          } finally {
            pending.resolve(frame);
          }
        },
      });
      return;
    }
    pending.resolve(frame);
  }

  // ───────────── the per-source lanes (issue 17 target 4) ─────────────

  private enqueue(ref: SourceRef, item: Lane['items'][number]): void {
    let lane = this.lanes.get(ref.sourceId);
    if (!lane) this.lanes.set(ref.sourceId, (lane = { ref, items: [], outputs: 0, dropped: 0, busy: false }));
    if ('frame' in item && item.frame.type === 'output') {
      if (lane.outputs >= MAX_SOURCE_OUTPUTS) {
        lane.dropped += 1;
        return;
      }
      lane.outputs += 1;
    }
    lane.items.push(item);
    this.inboundDepth += 1;
    this.inboundBytes += item.bytes;
    if (!lane.busy) void this.drainLane(lane);
  }

  private async drainLane(lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      while (lane.items.length > 0 || lane.confirm !== undefined || lane.dropped > 0) {
        const head = lane.items[0];
        if (head && 'job' in head) {
          lane.items.shift();
          this.dequeued([head]);
          await head.job().catch((e) => this.log.error('overseer reply failed', { error: String(e) }));
          continue;
        }
        const since = Date.now() - (this.lastDelivery.get(lane.ref.sourceId) ?? 0);
        if (since < LANE_TICK_MS && lane.items.length < MAX_GROUP) {
          await new Promise((r) => setTimeout(r, LANE_TICK_MS - since));
          continue;
        }
        this.lastDelivery.set(lane.ref.sourceId, Date.now());
        const group: TaskEvent[] = [];
        const taken: Lane['items'] = [];
        while (group.length < MAX_GROUP && lane.items[0] && 'frame' in lane.items[0]) {
          const item = lane.items.shift() as { frame: TaskEvent; bytes: number };
          taken.push(item);
          group.push(item.frame);
        }
        lane.outputs -= group.filter((f) => f.type === 'output').length;
        this.dequeued(taken);
        await this.deliver(lane, group).catch((e) => this.log.error('overseer events failed', { source: monitorName(lane.ref), events: group.length, error: String(e) }));
      }
    } finally {
      lane.busy = false;
      if (lane.items.length === 0 && this.lanes.get(lane.ref.sourceId) === lane) this.lanes.delete(lane.ref.sourceId);
      this.pruneDeliveryTimes();
    }
  }

  /** Forgets delivery times older than a tick, at most once a second (a pass is O(sources)). */
  private pruneDeliveryTimes(): void {
    const now = Date.now();
    if (now - this.lastDeliveryPruned < 1_000) return;
    this.lastDeliveryPruned = now;
    for (const [id, at] of this.lastDelivery) if (now - at >= LANE_TICK_MS) this.lastDelivery.delete(id);
  }

  private dequeued(items: Lane['items']): void {
    this.inboundDepth -= items.length;
    for (const i of items) this.inboundBytes -= i.bytes;
  }

  /** One RPC to the source's monitor for a group of its pushes; then the catalog, in one D1 batch. */
  private async deliver(lane: Lane, group: TaskEvent[]): Promise<void> {
    const ref = lane.ref;
    // A task stopped or released since its frames arrived is no longer ours: its late frames are
    // ignored, as they were when each frame was routed at its turn.
    const events = group.filter((f) => this.tasks.get(f.task_id)?.sourceId === ref.sourceId);
    const confirmedProgress = lane.confirm;
    const dropped = lane.dropped;
    lane.confirm = undefined;
    lane.dropped = 0;
    if (events.length === 0 && confirmedProgress === undefined && dropped === 0) return;
    const win = errorWindow(await this.config());
    // The group crosses to the monitor as one JSON string: RPC structured-clones an array of objects
    // field by field, which was the largest single cost of a burst (~20 % of its CPU); a string is
    // copied whole, and the monitor's JSON.parse is cheap. The frames were validated above.
    const result = await this.monitor(ref).ingest(ref, JSON.stringify(events), win, { confirmedProgress, dropped });
    for (const t of result.stopTaskIds) this.send({ type: 'stop', id: this.nextId(), task_id: t });
    for (const f of events) if (f.type === 'errored') recordMetric(this.env, this.ctx, 'dvr.recordings', { event: 'errored', driver: ref.driver });
    if (result.progress) this.oweProgress(ref, result.progress);
    // Recorder output (SEGMENT/RECORDING events) feeds the recordings catalog, after the monitor
    // applied it. Lines that cannot be catalog events (heartbeats: most of a burst) are not handed
    // over, so a heartbeat group costs the catalog nothing (no second parse, no D1 client).
    const lines = events.flatMap((f) => (f.type === 'output' && mayTouchCatalog(f.data) ? [f.data] : []));
    if (lines.length > 0) await recordingsHookBatch(this.env, ref, lines, this.db());
  }

  // ───────────── the progress mirror, batched across sources (issue 17 target 4) ─────────────

  private oweProgress(ref: SourceRef, p: ProgressHandOff): void {
    this.progressOwed.set(ref.sourceId, { ref, p });
    this.scheduleProgress();
  }

  private scheduleProgress(): void {
    if (this.progressTimer || this.progressFlushing || this.progressOwed.size === 0) return;
    this.progressTimer = setTimeout(() => {
      this.progressTimer = null;
      void this.flushProgress();
    }, PROGRESS_FLUSH_MS);
  }

  /**
   * Writes every owed progress row in as few D1 batches as possible. Each source appears once per
   * flush and flushes start at least `PROGRESS_FLUSH_MS` apart, so a source costs D1 at most one
   * write a second however fast its recorder talks, and N heartbeating sources cost
   * ⌈N / PROGRESS_BATCH⌉ batches a second. What D1 confirmed is told to each monitor (with its next
   * delivery); what failed stays owed unless a newer hand-off replaced it, and the monitor writes
   * it itself if this object is gone before it lands.
   */
  private async flushProgress(): Promise<void> {
    this.progressFlushing = true;
    const owed = [...this.progressOwed.values()];
    this.progressOwed.clear();
    try {
      const d = this.db();
      for (let i = 0; i < owed.length; i += PROGRESS_BATCH) {
        const chunk = owed.slice(i, i + PROGRESS_BATCH);
        const stmts = chunk.map((o) => mirrorProgressStatement(d, o.ref.sourceId, o.p));
        try {
          await d.batch(stmts as [(typeof stmts)[number], ...(typeof stmts)[number][]]);
        } catch (e) {
          this.log.warn('progress mirror batch failed, will retry', { sources: chunk.length, error: String(e) });
          for (const o of chunk) if (!this.progressOwed.has(o.ref.sourceId)) this.progressOwed.set(o.ref.sourceId, o);
          continue;
        }
        for (const o of chunk) this.confirmProgress(o.ref, o.p.n);
      }
    } finally {
      this.progressFlushing = false;
      this.scheduleProgress();
    }
  }

  private confirmProgress(ref: SourceRef, n: number): void {
    let lane = this.lanes.get(ref.sourceId);
    if (!lane) this.lanes.set(ref.sourceId, (lane = { ref, items: [], outputs: 0, dropped: 0, busy: false }));
    lane.confirm = Math.max(lane.confirm ?? 0, n);
    if (!lane.busy) void this.drainLane(lane);
  }

  /**
   * Pool full: the overseer queued our start under `task_id`; the `started` with our id follows
   * when a slot frees. The start now waits up to its queued deadline (not the 20 s reply timeout),
   * and the task id is kept so a pause can withdraw it and `dequeued` can be matched.
   */
  private onQueued(pending: Pending, frame: ServerFrameOf<'queued'>, bytes: number): void {
    const ref = pending.source;
    if (!ref) return;
    const id = this.startRequestOf.get(ref.sourceId);
    pending.queuedTaskId = frame.task_id;
    pending.queuedAt = world.now();
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = id ? setTimeout(() => void this.withdrawStart(id, 'queued start deadline passed'), QUEUED_START_DEADLINE_MS) : null;
    this.index(frame.task_id, ref);
    this.enqueue(ref, {
      bytes,
      job: async () => {
        await this.monitor(ref).startQueued(ref, frame.task_id, frame.position);
        this.queuedSignals.get(ref.sourceId)?.();
        if (this.unwanted.has(ref.sourceId) && !pending.withdrawn) {
          pending.withdrawn = true;
          this.send({ type: 'stop', id: this.nextId(), task_id: frame.task_id });
        }
      },
    });
  }

  /** A task left the overseer's queue. Started → its `started` follows; otherwise (stopped, purged,
   * expired) the start is over: the source goes back to idle and the reconciler may try again. */
  private onDequeued(frame: ServerFrameOf<'dequeued'>, bytes: number): void {
    if (frame.reason === 'started') return;
    const reason = frame.reason ?? 'no reason given';
    for (const [id, p] of this.pending) {
      if (p.queuedTaskId !== frame.task_id) continue;
      if (frame.reason) this.fail(id, new OverseerError(`overseer: queued start dropped (${reason})`));
      else {
        // No reason: allow the `started` that follows a dequeue-to-start a moment to arrive.
        if (p.timer) clearTimeout(p.timer);
        p.timer = setTimeout(() => this.fail(id, new OverseerError('overseer: queued start dropped')), DEQUEUE_GRACE_MS);
      }
      return;
    }
    // Not pending here (the instance that sent it is gone): the monitor may still wait on it —
    // unless a newer start of that source is in flight here (this is then the withdrawn one's echo).
    const ref = this.tasks.get(frame.task_id);
    if (!ref || this.startsInFlight.has(ref.sourceId)) return;
    this.unindex(frame.task_id);
    this.enqueue(ref, { bytes, job: () => this.monitor(ref).queuedStartDropped(ref, frame.task_id, reason) });
  }

  /** Gives up on a pending start (deadline, or its queued task vanished): withdraws the queued task
   * and fails the start, so the source leaves `starting`. Resolves once the start sequence ended. */
  private async withdrawStart(id: string, why: string): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    if (p.queuedTaskId && !p.withdrawn) {
      p.withdrawn = true;
      this.send({ type: 'stop', id: this.nextId(), task_id: p.queuedTaskId });
    }
    const run = p.source ? this.startRuns.get(p.source.sourceId) : undefined;
    this.fail(id, new OverseerError(`overseer: ${why}`));
    await run;
  }

  private monitor(ref: SourceRef) {
    return this.env.SOURCE_MONITOR.getByName(monitorName(ref));
  }

  private index(taskId: string, ref: SourceRef): void {
    if (!taskId) return;
    this.tasks.set(taskId, ref);
    this.ctx.storage.sql.exec(
      `INSERT INTO task_index (task_id, source_id, driver, username) VALUES (?, ?, ?, ?)
       ON CONFLICT (task_id) DO UPDATE SET source_id = excluded.source_id, driver = excluded.driver, username = excluded.username`,
      taskId,
      ref.sourceId,
      ref.driver,
      ref.username,
    );
  }

  private unindex(taskId: string): void {
    if (!taskId) return;
    this.tasks.delete(taskId);
    this.ctx.storage.sql.exec(`DELETE FROM task_index WHERE task_id = ?`, taskId);
  }

  // ───────────── starting and stopping sources ─────────────

  /**
   * Starts a source (contract §5.6) unless it is already running or starting. Resolves once the
   * monitor says `starting`; the overseer exchange continues in the background.
   */
  async requestStart(ref: SourceRef): Promise<void> {
    // A dial to an unreachable overseer must not hold up the subscribe that triggered the start.
    if (!this.connected()) await this.wakeBriefly();
    if (this.unwanted.delete(ref.sourceId)) {
      // Its start is still in flight and wanted again: let it finish, or start anew if its queued
      // task was already withdrawn.
      const p = this.pendingStartOf(ref.sourceId);
      if (p?.withdrawn) this.startAgain.add(ref.sourceId);
      return;
    }
    const begun = await this.begin(ref);
    if (begun) void this.runStart(ref, begun.taskId);
  }

  private pendingStartOf(sourceId: number): Pending | undefined {
    const id = this.startRequestOf.get(sourceId);
    return id ? this.pending.get(id) : undefined;
  }

  /** Sends `stop` for the source's task, if it has one. Runtime changes when `exited` arrives. A
   * start still in flight is cancelled instead: a queued one is withdrawn from the overseer's queue
   * now, an unanswered one is stopped as soon as its reply arrives (issue 11 item 5). */
  async stopSource(ref: SourceRef): Promise<void> {
    if (this.startsInFlight.has(ref.sourceId)) {
      this.unwanted.add(ref.sourceId);
      this.startAgain.delete(ref.sourceId);
      const p = this.pendingStartOf(ref.sourceId);
      if (p?.queuedTaskId && !p.withdrawn) {
        p.withdrawn = true;
        this.send({ type: 'stop', id: this.nextId(), task_id: p.queuedTaskId });
      }
      return;
    }
    const mon = this.monitor(ref);
    const { state } = await mon.snapshot(ref);
    // In a fleet every link is asked; only the one recording the source stops it.
    if (this.inFleet && !this.tasks.has(state.taskId)) return;
    if (state.taskId && this.send({ type: 'stop', id: this.nextId(), task_id: state.taskId })) await mon.stopRequested(ref);
  }

  /** Reset-error (§7.6): false when the source is not errored. */
  async resetError(ref: SourceRef): Promise<boolean> {
    const r = await this.monitor(ref).resetError(ref);
    if (!r) return false;
    this.stopTask(r.oldTaskId);
    await this.requestStart(ref);
    return true;
  }

  /** Admin restart / restart-all (§3.6): fresh task with the current config, in any state. */
  async restart(ref: SourceRef, line: string): Promise<void> {
    const { oldTaskId } = await this.monitor(ref).resetForRestart(ref, line);
    this.stopTask(oldTaskId);
    await this.requestStart(ref);
  }

  /** Restart-all: reset every source, then start them with bounded concurrency (in the background). */
  async restartMany(refs: SourceRef[], line: string): Promise<void> {
    if (!this.connected()) await this.wakeBriefly();
    for (const ref of refs) {
      const { oldTaskId } = await this.monitor(ref).resetForRestart(ref, line);
      this.stopTask(oldTaskId);
    }
    void this.bulkStart(refs);
  }

  private stopTask(taskId: string): void {
    if (!taskId) return;
    if (this.send({ type: 'stop', id: this.nextId(), task_id: taskId }) && !this.stopping.has(taskId)) {
      let resolve!: () => void;
      const exited = new Promise<void>((r) => (resolve = r));
      this.stopping.set(taskId, { exited, resolve });
      void exited.then(() => this.stopping.delete(taskId));
      // A stop that never confirms (task already gone) must not pin the entry.
      setTimeout(resolve, STOP_EXIT_WAIT_MS);
    }
    this.unindex(taskId);
  }

  /** The overseer refused a start as a duplicate of a task we are stopping (a restart whose old
   * process is still exiting): wait for that exit. False when the duplicate is not ours to wait for. */
  private async waitForStoppedDuplicate(e: unknown): Promise<boolean> {
    if (!(e instanceof OverseerError) || !e.existingTaskId) return false;
    const entry = this.stopping.get(e.existingTaskId);
    if (!entry) return false;
    await entry.exited;
    return true;
  }

  /** Step 1 of §5.6, counted as in flight from before the monitor says `starting`, so a concurrent
   * reconcile never mistakes it for a stale start. */
  private async begin(ref: SourceRef): Promise<{ taskId: string } | null> {
    const already = this.startsInFlight.has(ref.sourceId);
    this.startsInFlight.add(ref.sourceId);
    try {
      const begun = await this.monitor(ref).beginStart(ref);
      if (!begun && !already) this.startsInFlight.delete(ref.sourceId);
      return begun;
    } catch (e) {
      if (!already) this.startsInFlight.delete(ref.sourceId);
      throw e;
    }
  }

  private async runStart(ref: SourceRef, storedTaskId: string): Promise<void> {
    const run = this.startSequence(ref, storedTaskId);
    this.startRuns.set(ref.sourceId, run);
    await run;
    if (this.startRuns.get(ref.sourceId) === run) this.startRuns.delete(ref.sourceId);
    if (this.startAgain.delete(ref.sourceId)) await this.requestStart(ref);
  }

  private async startSequence(ref: SourceRef, storedTaskId: string): Promise<void> {
    this.startsInFlight.add(ref.sourceId);
    try {
      const cfg = await this.config();
      this.cfg = null; // params are read fresh at every start (a PUT applies to the next start)
      const frame = {
        type: 'start',
        action: ref.driver,
        params: recorderParams(cfg, ref.username),
        retry_policy: retryPolicy(cfg),
      };
      try {
        await this.request({ ...frame, task_id: storedTaskId }, START_TIMEOUT_MS, ref);
      } catch (e) {
        if (await this.waitForStoppedDuplicate(e)) {
          await this.request({ ...frame, task_id: storedTaskId }, START_TIMEOUT_MS, ref);
          return;
        }
        // The stopped task still occupies its id (normal after pause → resume): forget it, retry fresh.
        if (!(e instanceof Error) || !/already running/.test(e.message) || !storedTaskId || this.unwanted.has(ref.sourceId)) throw e;
        this.stopTask(storedTaskId);
        await this.monitor(ref).clearTask(ref);
        try {
          await this.request({ ...frame, task_id: '' }, START_TIMEOUT_MS, ref);
        } catch (e2) {
          if (!(await this.waitForStoppedDuplicate(e2))) throw e2;
          await this.request({ ...frame, task_id: '' }, START_TIMEOUT_MS, ref);
        }
      }
    } catch (e) {
      await this.monitor(ref).startFailed(ref, e instanceof Error ? e.message : String(e), e instanceof OverseerError ? e.droppedTaskId : undefined);
    } finally {
      this.startsInFlight.delete(ref.sourceId);
      this.unwanted.delete(ref.sourceId);
    }
  }

  // ───────────── reconciliation (§5.7) ─────────────

  private async reconcile(kind: 'connect' | 'periodic'): Promise<void> {
    this.lastReconcileAt = world.now();
    // Our view first, the overseer's second: a task started after our snapshot then shows up in the
    // list (claimed or ignored) instead of looking "gone" because the list predates it.
    const results = await liveSources(this.db(), { withTaskHolders: true });
    const inFlightAtSnapshot = new Set([...this.startsInFlight, ...this.awaitingStart]);
    const listSentAt = world.now();
    let list: TaskInfo[];
    try {
      list = await this.listTasks();
    } catch (e) {
      this.log.warn('reconcile: list failed', { kind, error: String(e) });
      // No answer on an "open" socket: the connection is dead without a close frame. Drop it so the
      // backoff redials instead of waiting on a socket that will never speak again.
      if (e instanceof OverseerError && /timeout/.test(e.message) && this.socket) this.onDown(this.socket, { cause: 'list unanswered' });
      return;
    }
    const byId = new Map(list.map((t) => [t.task_id, t]));
    const byKey = new Map<string, TaskInfo>();
    for (const t of list) if (t.worker_state === 'running' && t.params?.source) byKey.set(`${t.action}/${t.params.source}`, t);
    const fleet = this.inFleet ? await this.fleetView() : null;
    /** Sources this overseer takes over from a connected one: holder id → [ref, its task, ours to claim]. */
    const handOver = new Map<string, Array<{ ref: SourceRef; taskId: string; claim?: TaskInfo }>>();

    const toStart: SourceRef[] = [];
    // One source per visit; visits run `start_concurrency` at a time (each is a monitor call or
    // two): a reconcile over thousands of sources one call after another took longer than the
    // fleet's failover budget. A source's own calls stay in order within its visit.
    const visit = async (row: (typeof results)[number]): Promise<void> => {
      const ref: SourceRef = { sourceId: row.sourceId, driver: row.driver, username: row.username };
      const state = row.workerState;
      if (state === 'errored') return;
      let forget = false;
      if (fleet) {
        const stored = row.overseerTaskId ?? '';
        const mine = stored ? byId.get(stored) : undefined;
        const leftover = byKey.get(`${row.driver}/${row.username}`);
        const owner = ownerOf(ref, fleet.eligible);
        if (owner !== this.me.id || row.active === 0) {
          if (inFlightAtSnapshot.has(row.sourceId) || this.startPending(row.sourceId)) return;
          // Not ours: a task recording it here under the source's current task id keeps recording
          // until its owner takes it over (release); any other task of ours for it is a leftover
          // (we were away while it moved), stopped before its owner starts it.
          if (mine?.worker_state === 'running' && row.active > 0) this.index(mine.task_id, ref);
          else if (mine?.worker_state === 'running') this.stopTask(mine.task_id);
          if (leftover && leftover.task_id !== stored) this.stopTask(leftover.task_id);
          if (row.active === 0 && !mine && owner === this.me.id && (state === 'running' || state === 'starting') && !fleet.heldElsewhere.has(stored)) await this.monitor(ref).markIdle(ref);
          return;
        }
        const inFlight = inFlightAtSnapshot.has(row.sourceId) || this.startPending(row.sourceId);
        const holder = stored && !mine && !inFlight ? fleet.heldElsewhere.get(stored) : undefined;
        if (holder) {
          // Ours, recording on another connected overseer (we were away): it stops there first.
          const claim = leftover && leftover.task_id !== stored ? leftover : undefined;
          handOver.set(holder, [...(handOver.get(holder) ?? []), { ref, taskId: stored, claim }]);
          return;
        }
        // A task id from an overseer we cannot reach (or that forgot it) is never offered here: the
        // same id on two overseers would make the hand-back ambiguous. It is forgotten with the
        // source's next monitor call below (one call per moved source, not two).
        forget = Boolean(stored && !mine && !inFlight);
      }
      if (inFlightAtSnapshot.has(row.sourceId) || this.startPending(row.sourceId)) {
        // A start in flight settles by itself (reply, error, timeout or lost connection) — unless it
        // is stuck: past its deadline, or queued under a task the overseer no longer has (a
        // `dequeued` we never saw). Withdraw it; the source is then started afresh below.
        const stuck = this.stuckStart(row.sourceId, byId, listSentAt);
        if (!stuck) return;
        await this.withdrawStart(stuck.id, stuck.why);
        if (row.active === 0) return;
        await this.monitor(ref).markIdle(ref, `[system] ${stuck.why} (reconciler), starting again`);
        toStart.push(ref);
        return;
      }
      const stored = row.overseerTaskId ?? '';
      const mine = stored ? byId.get(stored) : undefined;
      const byKeyTask = byKey.get(`${row.driver}/${row.username}`);

      if (mine && mine.worker_state === 'running') {
        if (row.active > 0) {
          if (kind === 'connect' || state !== 'running') await this.claim(ref, mine);
          else this.index(mine.task_id, ref);
        } else {
          // No one wants it any more (e.g. its last subscriber was deleted while we were away).
          this.stopTask(mine.task_id);
        }
        return;
      }
      if (row.active === 0) {
        if (byKeyTask) this.send({ type: 'stop', id: this.nextId(), task_id: byKeyTask.task_id });
        if (state === 'running' || state === 'starting') await this.monitor(ref).markIdle(ref);
        return;
      }
      if (byKeyTask) {
        await this.claim(ref, byKeyTask);
        return;
      }
      if (state === 'running' || state === 'starting') {
        await this.monitor(ref).markIdle(ref, kind === 'periodic' ? '[system] worker gone (detected by reconciler), restarting' : undefined, { forgetTask: forget });
      } else if (kind === 'periodic') {
        await this.monitor(ref).markIdle(ref, '[system] detected idle with active subscriptions (reconciler), starting', { forgetTask: forget });
      } else if (forget) {
        await this.monitor(ref).clearTask(ref);
      }
      toStart.push(ref);
    };
    const concurrency = startConcurrency(await this.config());
    await inPool(results, concurrency, visit);
    for (const [holder, moves] of handOver) {
      const released = new Set(await this.env.OVERSEER_LINK.getByName(holder).release(moves.map((m) => m.taskId)));
      await inPool(moves, concurrency, async (m) => {
        if (!released.has(m.taskId)) return; // the holder went away meanwhile: next reconcile
        if (m.claim) {
          await this.claim(m.ref, m.claim);
          return;
        }
        await this.monitor(m.ref).markIdle(m.ref, `[system] moving to overseer ${this.me.id}`, { forgetTask: true });
        toStart.push(m.ref);
      });
    }
    // In the background: a start the overseer queues may wait minutes for a slot, and the alarm
    // that runs this reconcile must not wait with it.
    void this.bulkStart(toStart).catch((e) => this.log.warn('bulk start failed', { error: String(e) }));
  }

  /** The fleet as this reconcile sees it: the overseers sources are assigned over, and which
   * connected peer holds which task id. */
  private async fleetView(): Promise<{ eligible: string[]; heldElsewhere: Map<string, string> }> {
    const grace = failoverGraceMs(this.env);
    const peers = overseerFleet(this.env).filter((o) => o.id !== this.me.id);
    const views = await Promise.all(
      peers.map(async (o) => {
        const link = this.env.OVERSEER_LINK.getByName(o.id);
        const status = await link.status();
        return { status, held: status.connected ? await link.heldTaskIds() : [] };
      }),
    );
    const eligible = [this.me.id, ...views.filter((v) => isEligible(v.status, grace)).map((v) => v.status.id)];
    const heldElsewhere = new Map<string, string>();
    for (const v of views) for (const t of v.held) heldElsewhere.set(t, v.status.id);
    return { eligible, heldElsewhere };
  }

  /** A pending start the reconciler should give up on, with why; null while it may still settle. */
  private stuckStart(sourceId: number, byId: Map<string, TaskInfo>, listSentAt: number): { id: string; why: string } | null {
    const id = this.startRequestOf.get(sourceId);
    const p = id ? this.pending.get(id) : undefined;
    if (!id || !p) return null;
    if (p.queuedTaskId) {
      if (world.now() - (p.queuedAt ?? p.since) > QUEUED_START_DEADLINE_MS) return { id, why: 'queued start deadline passed' };
      if ((p.queuedAt ?? 0) < listSentAt && !byId.has(p.queuedTaskId)) return { id, why: `queued task ${p.queuedTaskId} no longer known to the overseer` };
      return null;
    }
    return world.now() - p.since > START_TIMEOUT_MS + 5_000 ? { id, why: 'start deadline passed' } : null;
  }

  private async claim(ref: SourceRef, t: TaskInfo): Promise<void> {
    this.index(t.task_id, ref);
    await this.monitor(ref).claim(ref, t.task_id, t.current_pid ?? 0);
    this.send({ type: 'subscribe', id: this.nextId(), task_id: t.task_id });
  }

  private startPending(sourceId: number): boolean {
    return this.startsInFlight.has(sourceId) || this.awaitingStart.has(sourceId);
  }

  /** Starts sources with at most `start_concurrency` start sequences in flight. */
  private async bulkStart(refs: SourceRef[]): Promise<void> {
    if (refs.length === 0) return;
    const limit = startConcurrency(await this.config());
    for (const ref of refs) this.awaitingStart.add(ref.sourceId);
    try {
      await inPool(refs, limit, async (ref) => {
        // begin() marks it in flight before its first await: no moment where it is neither.
        this.awaitingStart.delete(ref.sourceId);
        const begun = await this.begin(ref);
        if (!begun) return;
        // A start the overseer queued has been accepted: it frees its slot here, so starts queued
        // behind a full pool do not hold back the rest of the batch.
        let queued!: () => void;
        const signal = new Promise<void>((r) => (queued = r));
        this.queuedSignals.set(ref.sourceId, queued);
        try {
          await Promise.race([this.runStart(ref, begun.taskId), signal]);
        } finally {
          if (this.queuedSignals.get(ref.sourceId) === queued) this.queuedSignals.delete(ref.sourceId);
        }
      });
    } finally {
      for (const ref of refs) this.awaitingStart.delete(ref.sourceId);
    }
  }
}
