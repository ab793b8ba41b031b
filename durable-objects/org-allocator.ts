/**
 * OrgAllocator — one per org (`env.ORG_ALLOCATOR.getByName(String(orgId))`): the strongly consistent
 * owner of the org's live play-session seats. Every seat decision (allocate, node report, delete,
 * lease reclaim) happens here, synchronously against the object's SQLite storage with no `await`
 * in between, so no interleaving request can see a half-made decision: a node never holds more
 * live sessions than its capacity and a user never more than the org's per-user limit.
 *
 * The Worker does the D1 reads (membership, ownership, which online nodes have the game) and hands
 * the candidates in; this object picks the node and reserves the seat. It is the one authority;
 * D1 `play_sessions` (the history every other reader uses) is its mirror. What must reach D1 is
 * written to an outbox in the SAME storage transaction as the decision, delivered at once, and
 * re-delivered by the alarm with backoff until D1 confirms (the writes are idempotent upserts that
 * never revive an ended row). A periodic two-way reconcile (and one at every start-up) repairs
 * anything else: a seat without its D1 row gets it, a D1 live row this object does not hold is
 * ended. Repaired rows carry `mirror_repair`. If its storage is ever empty (first use, or storage
 * lost) it rebuilds the live seats from D1 before answering anything.
 *
 * Its RPC shapes and the play-session record are the domain model's (src/console/play/model.ts);
 * its D1 statements are in src/console/play/mirror-queries.ts.
 *
 *   const r = await allocatorOf(env, orgId).allocate({ orgId, userId, gameId, ... });
 *   if (r.ok) r.playSession; else r.reason; // 'no_free_seat' | 'user_limit' | 'not_installed' | 'idempotency_conflict' | 'mirror_pending'
 *
 * Liveness: the object remembers when each node last reported (`node_seen`) and when each session
 * was last vouched for by its node or its client. An alarm, re-armed at the next deadline, marks
 * sessions `failed` when their node went silent for NODE_OFFLINE_AFTER_SECONDS (`node_offline`) or
 * nobody touched them for SESSION_LEASE_SECONDS (`lease_expired`). Alarms are at-least-once: the
 * sweep is idempotent.
 */
import { DurableObject } from 'cloudflare:workers';
import { db } from '../src/db/client';
import { nodeOfflineAfterSeconds } from '../src/console/nodes/model';
import { announcePlayTransitions } from '../src/notifications/play-transitions';
import { endOrphans, mirrorLiveRows, mirrorRebuildRows, referentsExist, writeMirror, type MirrorRepair, type MirrorRow } from '../src/console/play/mirror-queries';
import {
  isEnd,
  isLive,
  isOpen,
  LIVE_STATUSES,
  OPEN_STATUSES,
  playSessionFromRow,
  playSessionLeaseSeconds,
  type AllocateRequest,
  type AllocateResult,
  type Candidate,
  type NodeHeartbeatResult,
  type NodeReport,
  type PlaySessionRecord,
  type PlaySessionStatus,
  type QueueEntry,
  type QueueState,
} from '../src/console/play/model';
import { randomSafeInteger, world } from '../src/world';

/** A repeat of the same (user, game) request within this window returns the same live session. */
export const REPEAT_WINDOW_MS = 60_000;
/** An `Idempotency-Key` is remembered this long (ended sessions are kept this long for it). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3600_000;
/** What a refused caller is told to wait: seats free up when sessions end, not on a schedule. */
export const NO_SEAT_RETRY_AFTER_SECONDS = 30;

/** The seat is decided but D1 has not confirmed its row yet: the caller retries (same request). */
export const MIRROR_PENDING_RETRY_AFTER_SECONDS = 2;
/** Both directions of the mirror are compared at least this often while anything is live or pending. */
export const MIRROR_RECONCILE_MS = 60_000;
/** Outbox re-delivery backoff: 1 s, 2 s, 4 s, ... capped here (always within one reconcile period). */
const OUTBOX_MAX_BACKOFF_MS = 30_000;

/** A waiter polls `GET /sessions/{id}` this often ... */
export const QUEUE_POLL_AFTER_SECONDS = 5;
/** ... and is dropped from the queue when it has not polled for this long. */
export const QUEUE_KEEPALIVE_SECONDS = 30;
/** The ETA's guess at how long a session lasts, until this org has ended sessions to average. */
const DEFAULT_SESSION_MS = 20 * 60_000;

/** The status lists as SQL literals for this object's own SQLite (constants, never input). */
const sqlList = (xs: readonly string[]) => `(${xs.map((x) => `'${x}'`).join(', ')})`;
const LIVE = sqlList(LIVE_STATUSES);
const OPEN = sqlList(OPEN_STATUSES);

interface OutboxRow extends Record<string, SqlStorageValue> {
  session_id: number;
  seq: number;
  attempts: number;
  next_at: number;
  repair: string | null;
}

interface SeatRow extends Record<string, SqlStorageValue> {
  id: number;
  user_id: number;
  game_id: number;
  node_id: number | null;
  region: string | null;
  stream_base: string | null;
  status: string;
  end_reason: string | null;
  idem_key: string | null;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  last_node_seen: number | null;
  last_client_seen: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class OrgAllocator extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS seats (
        id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, game_id INTEGER NOT NULL, node_id INTEGER,
        region TEXT, stream_base TEXT, status TEXT NOT NULL, end_reason TEXT, idem_key TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, ended_at INTEGER,
        last_node_seen INTEGER, last_client_seen INTEGER)`);
      this.sql.exec(`CREATE INDEX IF NOT EXISTS seats_status_node ON seats (status, node_id)`);
      this.sql.exec(`CREATE INDEX IF NOT EXISTS seats_user ON seats (user_id, status)`);
      this.sql.exec(`CREATE INDEX IF NOT EXISTS seats_idem ON seats (user_id, idem_key)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS node_seen (node_id INTEGER PRIMARY KEY, seen_at INTEGER NOT NULL)`);
      // What D1 has not confirmed yet: one entry per session (its current row is what gets sent);
      // `seq` grows with every change so a delivery of an older state never clears a newer one.
      this.sql.exec(`CREATE TABLE IF NOT EXISTS outbox (
        session_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL, repair TEXT, last_error TEXT)`);
      // The org's FIFO: one entry per queued seat, `seq` is the order; `waiter_nodes` is the set of
      // nodes that had the game when the waiter last polled; `nodes` what the Worker last told us of them.
      this.sql.exec(`CREATE TABLE IF NOT EXISTS waiters (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, seat_id INTEGER NOT NULL UNIQUE, region TEXT, strict INTEGER NOT NULL,
        policy TEXT NOT NULL, max_per_user INTEGER NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS waiter_nodes (seat_id INTEGER NOT NULL, node_id INTEGER NOT NULL, PRIMARY KEY (seat_id, node_id))`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS nodes (node_id INTEGER PRIMARY KEY, region TEXT, capacity INTEGER NOT NULL, stream_base TEXT)`);
      // Start-up (after a crash, deploy or eviction): reconcile with D1 soon, whatever was planned.
      if (this.orgId() !== null) {
        this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('reconciled_at', '0')`);
        const at = await ctx.storage.getAlarm();
        if (at === null || at > Date.now() + 1000) await ctx.storage.setAlarm(Date.now() + 1000);
      }
    });
  }

  // ─────────────── RPC ───────────────

  async allocate(req: AllocateRequest): Promise<AllocateResult> {
    await this.ready(req.orgId);
    const now = world.now();
    // Everything from here to the seat INSERT is synchronous: this is the critical section.
    const replay = this.findRepeat(req, now);
    if (replay === 'conflict') return { ok: false, reason: 'idempotency_conflict', retryAfterSeconds: 0 };
    if (replay) return this.confirmed(req.orgId, replay.id, true);
    // One queued entry per user: asking again for the same game is that entry, another game is refused.
    const waiting = this.sql.exec<SeatRow>(`SELECT * FROM seats WHERE user_id = ? AND status = 'queued'`, req.userId).toArray()[0];
    if (waiting) {
      if (waiting.game_id === req.gameId) return this.confirmed(req.orgId, waiting.id, true);
      return { ok: false, reason: 'already_queued', retryAfterSeconds: 0, playSessionId: waiting.id };
    }

    const mine = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM seats WHERE user_id = ? AND status IN ${LIVE}`, req.userId).one().n;
    if (mine >= req.maxPerUser) return { ok: false, reason: 'user_limit', retryAfterSeconds: NO_SEAT_RETRY_AFTER_SECONDS };
    if (req.candidates.length === 0) return { ok: false, reason: 'not_installed', retryAfterSeconds: 0 };

    const id = this.newId();
    let placed = false;
    // The seat (or queue entry) and the promise to mirror it commit together: a crash after this
    // loses nothing.
    const changed = this.commit(() => {
      this.learnNodes(req.candidates);
      // Waiters first: a seat that became free belongs to the queue, not to a newcomer.
      const promoted = this.drain(now);
      const node = this.pick(req);
      if (node) {
        this.sql.exec(
          `INSERT INTO seats (id, user_id, game_id, node_id, region, stream_base, status, idem_key, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'provisioning', ?, ?, ?)`,
          id, req.userId, req.gameId, node.nodeId, node.region, node.streamBaseUrl, req.idempotencyKey, now, now,
        );
      } else if (req.queue) {
        this.sql.exec(
          `INSERT INTO seats (id, user_id, game_id, node_id, region, stream_base, status, idem_key, created_at, updated_at, last_client_seen)
           VALUES (?, ?, ?, NULL, ?, NULL, 'queued', ?, ?, ?, ?)`,
          id, req.userId, req.gameId, req.region, req.idempotencyKey, now, now, now,
        );
        this.sql.exec(
          `INSERT INTO waiters (seat_id, region, strict, policy, max_per_user) VALUES (?, ?, ?, ?, ?)`,
          id, req.region, req.strictRegion ? 1 : 0, req.policy, req.maxPerUser,
        );
        this.setWaiterNodes(id, req.candidates);
      } else return promoted;
      placed = true;
      return [...promoted, this.row(id)!];
    });
    if (!placed) {
      await this.settle(req.orgId, changed);
      return { ok: false, reason: 'no_free_seat', retryAfterSeconds: NO_SEAT_RETRY_AFTER_SECONDS };
    }
    return this.confirmed(req.orgId, id, false, changed.map((r) => r.id));
  }

  /**
   * The owner polls a queued session (its keep-alive) with the nodes that have its game now; the
   * queue moves if a seat is free. For a live session it renews the lease, like `touch`.
   */
  async poll(orgId: number, playSessionId: number, candidates: Candidate[]): Promise<PlaySessionRecord | null> {
    await this.ready(orgId);
    const now = world.now();
    const row = this.row(playSessionId);
    if (!row) return null;
    if (row.status !== 'queued') return this.touch(orgId, playSessionId);
    const changed = this.commit(() => {
      this.sql.exec(`UPDATE seats SET last_client_seen = ? WHERE id = ?`, now, playSessionId);
      const w = this.sql.exec<{ region: string | null; strict: number }>(`SELECT region, strict FROM waiters WHERE seat_id = ?`, playSessionId).toArray()[0];
      const usable = w?.strict && w.region ? candidates.filter((c) => c.region === w.region) : candidates;
      this.learnNodes(candidates);
      this.setWaiterNodes(playSessionId, usable);
      return [];
    });
    await this.settle(orgId, changed);
    return this.record(this.row(playSessionId)!, orgId);
  }

  /** The org's queue in order, for its admins. */
  async queueEntries(orgId: number): Promise<QueueEntry[]> {
    await this.ready(orgId);
    return this.sql
      .exec<SeatRow>(`SELECT s.* FROM waiters w JOIN seats s ON s.id = w.seat_id ORDER BY w.seq`)
      .toArray()
      .map((r) => {
        const q = this.queueState(r.id)!;
        return { id: r.id, userId: r.user_id, gameId: r.game_id, position: q.position, etaSeconds: q.etaSeconds, enqueuedAt: iso(r.created_at), lastPollAt: r.last_client_seen === null ? null : iso(r.last_client_seen) };
      });
  }

  /** The live view of one session, or null when this object does not know it. */
  async get(orgId: number, playSessionId: number): Promise<PlaySessionRecord | null> {
    await this.ready(orgId);
    const row = this.row(playSessionId);
    return row ? this.record(row, orgId) : null;
  }

  /** The client vouches for the session (its owner looked at it): renews the lease. */
  async touch(orgId: number, playSessionId: number): Promise<PlaySessionRecord | null> {
    await this.ready(orgId);
    this.sql.exec(`UPDATE seats SET last_client_seen = ? WHERE id = ? AND status IN ${LIVE}`, world.now(), playSessionId);
    const row = this.row(playSessionId);
    return row ? this.record(row, orgId) : null;
  }

  /** Ends a session at its owner's or an admin's request; frees the seat. Idempotent. */
  async terminate(orgId: number, playSessionId: number): Promise<PlaySessionRecord | null> {
    await this.ready(orgId);
    const row = this.row(playSessionId);
    if (!row) return null;
    const changed = this.commit(() => this.transition(row, 'terminated', row.status === 'queued' ? 'left_queue' : 'deleted', world.now()));
    await this.settle(orgId, changed);
    return this.record(this.row(playSessionId) ?? row, orgId);
  }

  /** A node's heartbeat: it is alive, and here is what it says about its sessions. */
  async nodeHeartbeat(orgId: number, nodeId: number, reports: NodeReport[]): Promise<NodeHeartbeatResult> {
    await this.ready(orgId);
    const now = world.now();
    const results: NodeHeartbeatResult['results'] = [];
    const changed = this.commit(() => {
      this.markNodeSeen(nodeId, now);
      const out: SeatRow[] = [];
      for (const rep of reports) {
        const row = this.row(rep.id);
        if (!row || row.node_id !== nodeId) {
          results.push({ id: rep.id, status: 'unknown' });
          continue;
        }
        let after: SeatRow | null = null;
        if (rep.status === 'ended' || rep.status === 'failed') {
          after = this.transition(row, rep.status, rep.reason ?? (rep.status === 'ended' ? 'node_ended' : 'node_failed'), now);
        } else if (isLive(row.status)) {
          this.sql.exec(`UPDATE seats SET last_node_seen = ? WHERE id = ?`, now, row.id);
          if (rep.status === 'active' && row.status === 'provisioning') after = this.transition(row, 'active', null, now);
        }
        if (after) out.push(after);
        results.push({ id: rep.id, status: (after ?? this.row(rep.id)!).status as PlaySessionStatus });
      }
      return out;
    });
    const assignments = this.sql
      .exec<SeatRow>(`SELECT * FROM seats WHERE node_id = ? AND status IN ${LIVE} ORDER BY created_at, id`, nodeId)
      .toArray()
      .map((r) => this.record(r, orgId));
    await this.settle(orgId, changed);
    return { assignments, results };
  }

  /** The live sessions assigned to a node (read-only: not a sign of life). */
  async nodeAssignments(orgId: number, nodeId: number): Promise<PlaySessionRecord[]> {
    await this.ready(orgId);
    return this.sql
      .exec<SeatRow>(`SELECT * FROM seats WHERE node_id = ? AND status IN ${LIVE} ORDER BY created_at, id`, nodeId)
      .toArray()
      .map((r) => this.record(r, orgId));
  }

  /** The node is gone (deleted, or found offline by housekeeping): its live sessions fail. */
  async failNode(orgId: number, nodeId: number, reason: string): Promise<number> {
    await this.ready(orgId);
    const now = world.now();
    const changed = this.commit(() => {
      const rows = this.sql.exec<SeatRow>(`SELECT * FROM seats WHERE node_id = ? AND status IN ${LIVE}`, nodeId).toArray();
      this.sql.exec(`DELETE FROM node_seen WHERE node_id = ?`, nodeId);
      return rows.map((r) => this.transition(r, 'failed', reason, now)).filter((r): r is SeatRow => r !== null);
    });
    await this.settle(orgId, changed);
    return changed.length;
  }

  /** Housekeeping: reclaims expired leases and sessions of silent nodes, re-delivers the outbox and
   * reconciles with D1 (the alarm does the same; this is the safety net for a lost alarm). */
  async sweep(orgId: number): Promise<number> {
    await this.ready(orgId);
    const n = await this.reclaim(orgId);
    await this.reconcile(orgId);
    await this.arm();
    return n;
  }

  override async alarm(): Promise<void> {
    const org = this.orgId();
    if (org === null) return;
    await this.reclaim(org);
    await this.deliver(org, null);
    const last = Number(this.meta('reconciled_at') ?? 0);
    if (world.now() - last >= MIRROR_RECONCILE_MS) await this.reconcile(org);
    await this.arm();
  }

  // ─────────────── internals ───────────────

  private meta(key: string): string | null {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value ?? null;
  }

  private orgId(): number | null {
    const v = this.meta('org_id');
    return v === null ? null : Number(v);
  }

  /**
   * Storage that has never been built (a fresh object, or one whose storage was lost) is rebuilt
   * from D1's live `play_sessions` before any decision, with every other request held back.
   */
  private async ready(orgId: number): Promise<void> {
    if (this.orgId() !== null) return;
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.orgId() !== null) return;
      const rows = await mirrorRebuildRows(db(this.env), orgId);
      // Rebuilt sessions get a fresh grace period: their last heartbeats were only in memory.
      const now = world.now();
      this.ctx.storage.transactionSync(() => {
        for (const r of rows) {
          this.sql.exec(
            `INSERT OR IGNORE INTO seats (id, user_id, game_id, node_id, region, stream_base, status, idem_key, created_at, updated_at, last_node_seen, last_client_seen)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            r.id, r.userId, r.gameId, r.nodeId, r.region, r.streamBase, r.status, r.idemKey,
            Date.parse(r.createdAt), Date.parse(r.updatedAt), now, now,
          );
          if (r.nodeId !== null) this.markNodeSeen(r.nodeId, now);
          // Queue order is creation order; the waiter's nodes come back with its next poll.
          if (r.status === 'queued') this.sql.exec(`INSERT OR IGNORE INTO waiters (seat_id, region, strict, policy, max_per_user) VALUES (?, ?, 0, 'spread', 1)`, r.id, r.region);
        }
        this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('org_id', ?), ('built_at', ?), ('reconciled_at', ?)`, String(orgId), iso(now), String(now));
      });
      await this.arm();
    });
  }

  /** Runs a synchronous decision in one storage transaction and queues every row it changed for D1. */
  private commit(decide: () => SeatRow[] | SeatRow | null): SeatRow[] {
    return this.ctx.storage.transactionSync(() => {
      const out = decide();
      // Whatever the decision freed goes to the queue in the same transaction.
      const rows = [...(out === null ? [] : Array.isArray(out) ? out : [out]), ...this.drain(world.now())];
      if (rows.length) this.enqueue(rows.map((r) => r.id), world.now());
      return rows;
    });
  }

  /** After a decision: one immediate delivery attempt (failures stay in the outbox) and the alarm. */
  private async settle(orgId: number, changed: SeatRow[]): Promise<void> {
    if (changed.length) await this.deliver(orgId, changed.map((r) => r.id));
    await this.arm();
  }

  /** A session may be handed out only once D1 has its row (its owner's GET reads D1 first). */
  private async confirmed(orgId: number, id: number, replayed: boolean, alsoIds: number[] = []): Promise<AllocateResult> {
    if (this.pending(id) || alsoIds.length) {
      await this.ctx.storage.setAlarm(Math.min((await this.ctx.storage.getAlarm()) ?? Infinity, Date.now() + 1000));
      await this.deliver(orgId, [...new Set([id, ...alsoIds])]);
    }
    await this.arm();
    if (this.pending(id)) return { ok: false, reason: 'mirror_pending', retryAfterSeconds: MIRROR_PENDING_RETRY_AFTER_SECONDS };
    return { ok: true, playSession: this.record(this.row(id)!, orgId), replayed };
  }

  private pending(id: number): boolean {
    return this.sql.exec(`SELECT 1 FROM outbox WHERE session_id = ?`, id).toArray().length > 0;
  }

  private enqueue(ids: number[], now: number, repair: MirrorRepair | null = null): void {
    for (const id of ids) {
      this.sql.exec(
        `INSERT INTO outbox (session_id, seq, attempts, next_at, repair) VALUES (?, 1, 0, ?, ?)
         ON CONFLICT (session_id) DO UPDATE SET seq = seq + 1, next_at = MIN(next_at, excluded.next_at),
           repair = COALESCE(outbox.repair, excluded.repair)`,
        id, now, repair,
      );
    }
  }

  /**
   * Delivers outbox entries to D1: `ids` (the request path's immediate attempt) or every due entry
   * (alarm). One batch; if D1 refuses it, each row alone, so one undeliverable row cannot hold back
   * the others. A row whose user, game or org is gone is ended here and dropped. Never throws.
   */
  private async deliver(orgId: number, ids: number[] | null): Promise<void> {
    const now = world.now();
    const entries = ids
      ? this.sql.exec<OutboxRow>(`SELECT * FROM outbox WHERE session_id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids)).toArray()
      : this.sql.exec<OutboxRow>(`SELECT * FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT 200`, now).toArray();
    if (entries.length === 0) return;
    const items: Array<{ entry: OutboxRow; row: SeatRow }> = [];
    for (const entry of entries) {
      const row = this.row(entry.session_id);
      if (row) items.push({ entry, row });
      else this.sql.exec(`DELETE FROM outbox WHERE session_id = ?`, entry.session_id);
    }
    const d = db(this.env);
    // Webhooks (session.started/ended) compare D1's statuses before and after the write, so a
    // re-delivered row announces nothing twice.
    const send = (batch: typeof items) => {
      const rows = batch.map((i) => ({ row: mirrorRow(i.row), repair: (i.entry.repair as MirrorRepair | null) }));
      return announcePlayTransitions(this.env, orgId, rows.map((r) => r.row), () => writeMirror(d, orgId, rows, iso(now)));
    };
    const done = (batch: typeof items) => {
      for (const i of batch) this.sql.exec(`DELETE FROM outbox WHERE session_id = ? AND seq = ?`, i.entry.session_id, i.entry.seq);
    };
    try {
      await send(items);
      done(items);
      return;
    } catch (e) {
      if (items.length === 1) return this.deliveryFailed(orgId, items[0]!, e);
    }
    for (const item of items) {
      try {
        await send([item]);
        done([item]);
      } catch (e) {
        await this.deliveryFailed(orgId, item, e);
      }
    }
  }

  private async deliveryFailed(orgId: number, item: { entry: OutboxRow; row: SeatRow }, error: unknown): Promise<void> {
    const { entry, row } = item;
    let gone = false;
    try {
      gone = !(await referentsExist(db(this.env), orgId, row.user_id, row.game_id));
    } catch {
      // D1 unreachable: the retry below is all we can do.
    }
    if (gone) {
      // Nothing to mirror into (cascade already removed the history); the seat must not stay taken.
      this.sql.exec(`DELETE FROM outbox WHERE session_id = ?`, entry.session_id);
      const now = world.now();
      this.ctx.storage.transactionSync(() => {
        const r = this.row(row.id);
        if (r) this.transition(r, 'failed', 'owner_gone', now);
      });
      return;
    }
    // Backoff from the CURRENT attempt count: a concurrent success may have removed the entry.
    const now = world.now();
    this.sql.exec(
      `UPDATE outbox SET attempts = attempts + 1, repair = COALESCE(repair, 'retried'), last_error = ?,
         next_at = ? + MIN(?, 1000 * (1 << MIN(attempts, 15))) WHERE session_id = ?`,
      String(error instanceof Error ? error.message : error).slice(0, 200), now, OUTBOX_MAX_BACKOFF_MS, entry.session_id,
    );
  }

  /**
   * Compares the org's open D1 rows with the seats held here, both ways. A held seat D1 lacks (or
   * shows in another state) is re-queued for delivery; an open D1 row this object does not hold is
   * ended (`not_allocated`); a held live seat D1 already ended is ended here too (history is final).
   * Rows changed since the D1 read began are skipped: their own delivery is in flight.
   */
  private async reconcile(orgId: number): Promise<void> {
    const started = world.now();
    const held = this.sql.exec<{ id: number }>(`SELECT id FROM seats WHERE status IN ${OPEN}`).toArray().map((r) => r.id);
    let d1: Awaited<ReturnType<typeof mirrorLiveRows>>;
    try {
      d1 = await mirrorLiveRows(db(this.env), orgId, held);
    } catch (e) {
      console.warn(JSON.stringify({ level: 'warn', msg: 'allocator reconcile: D1 read failed', org_id: orgId, error: String(e) }));
      return;
    }
    const now = world.now();
    const inD1 = new Map(d1.map((r) => [r.id, r]));
    const orphans: number[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const r of d1) {
        if (!isOpen(r.status)) continue;
        if (!this.row(r.id)) orphans.push(r.id);
      }
      const repair: number[] = [];
      for (const seat of this.sql.exec<SeatRow>(`SELECT * FROM seats`).toArray()) {
        if (seat.updated_at >= started || this.pending(seat.id)) continue;
        const mirror = inD1.get(seat.id);
        const seatOpen = isOpen(seat.status);
        if (!mirror) {
          if (seatOpen) repair.push(seat.id);
        } else if (mirror.status !== seat.status) {
          const mirrorOpen = isOpen(mirror.status);
          // D1 history is final: a seat it already shows ended is ended here too (nothing to send).
          if (seatOpen && !mirrorOpen) this.transition(seat, mirror.status as PlaySessionStatus, mirror.endReason ?? 'ended_in_history', now);
          else repair.push(seat.id);
        }
      }
      if (repair.length) this.enqueue(repair, now, 'reconciled');
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('reconciled_at', ?)`, String(now));
    });
    if (orphans.length) {
      try {
        await endOrphans(db(this.env), orgId, orphans, iso(now));
      } catch (e) {
        console.warn(JSON.stringify({ level: 'warn', msg: 'allocator reconcile: ending D1 orphans failed', org_id: orgId, error: String(e) }));
      }
    }
    await this.deliver(orgId, null);
  }

  private row(id: number): SeatRow | null {
    return this.sql.exec<SeatRow>(`SELECT * FROM seats WHERE id = ?`, id).toArray()[0] ?? null;
  }

  private record(r: SeatRow, orgId: number): PlaySessionRecord {
    return playSessionFromRow(
      {
        id: r.id,
        orgId,
        userId: r.user_id,
        gameId: r.game_id,
        nodeId: r.node_id,
        region: r.region,
        streamBaseUrl: r.stream_base,
        status: r.status,
        endReason: r.end_reason,
        idempotencyKey: r.idem_key,
        createdAt: iso(r.created_at),
        updatedAt: iso(r.updated_at),
        endedAt: r.ended_at === null ? null : iso(r.ended_at),
      },
      r.status === 'queued' ? this.queueState(r.id) : null,
    );
  }

  /** Position (1 = next) and a rough wait: the sessions ahead, over the seats that could take this
   * waiter, times how long this org's sessions last on average. */
  private queueState(seatId: number): QueueState | null {
    const me = this.sql.exec<{ seq: number }>(`SELECT seq FROM waiters WHERE seat_id = ?`, seatId).toArray()[0];
    if (!me) return null;
    const ahead = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM waiters WHERE seq < ?`, me.seq).one().n;
    const seats = this.sql
      .exec<{ n: number | null }>(`SELECT SUM(n.capacity) AS n FROM waiter_nodes wn JOIN nodes n ON n.node_id = wn.node_id WHERE wn.seat_id = ?`, seatId)
      .one().n ?? 0;
    const avg = this.sql
      .exec<{ ms: number | null }>(`SELECT AVG(ended_at - created_at) AS ms FROM seats WHERE ended_at IS NOT NULL AND node_id IS NOT NULL`)
      .one().ms ?? DEFAULT_SESSION_MS;
    const position = ahead + 1;
    return {
      position,
      etaSeconds: Math.max(QUEUE_POLL_AFTER_SECONDS, Math.ceil((position * avg) / Math.max(1, seats) / 1000)),
      pollAfterSeconds: QUEUE_POLL_AFTER_SECONDS,
      keepaliveSeconds: QUEUE_KEEPALIVE_SECONDS,
    };
  }

  /** What the Worker just told us about nodes (from D1): liveness, capacity, region, stream base. */
  private learnNodes(candidates: Candidate[]): void {
    for (const c of candidates) {
      this.markNodeSeen(c.nodeId, Date.parse(c.lastSeen));
      this.sql.exec(
        `INSERT INTO nodes (node_id, region, capacity, stream_base) VALUES (?, ?, ?, ?)
         ON CONFLICT (node_id) DO UPDATE SET region = excluded.region, capacity = excluded.capacity, stream_base = excluded.stream_base`,
        c.nodeId, c.region, c.capacity, c.streamBaseUrl,
      );
    }
  }

  private setWaiterNodes(seatId: number, candidates: Candidate[]): void {
    this.sql.exec(`DELETE FROM waiter_nodes WHERE seat_id = ?`, seatId);
    for (const c of candidates) this.sql.exec(`INSERT OR IGNORE INTO waiter_nodes (seat_id, node_id) VALUES (?, ?)`, seatId, c.nodeId);
  }

  /**
   * Moves the queue: in FIFO order, each waiter whose game is on an online node with a free seat
   * gets it (waiters whose nodes are all full are skipped, not blocking those behind). Synchronous:
   * runs inside the caller's transaction. Returns the promoted rows.
   */
  private drain(now: number): SeatRow[] {
    const waiters = this.sql
      .exec<{ seat_id: number; region: string | null; policy: string; max_per_user: number; user_id: number }>(
        `SELECT w.seat_id, w.region, w.policy, w.max_per_user, s.user_id FROM waiters w JOIN seats s ON s.id = w.seat_id ORDER BY w.seq`,
      )
      .toArray();
    if (waiters.length === 0) return [];
    const onlineSince = now - nodeOfflineAfterSeconds(this.env) * 1000;
    // The usual case under a queue is a full org: one query says so, without walking the waiters.
    let free = this.sql
      .exec<{ n: number | null }>(
        `SELECT SUM(MAX(n.capacity - (SELECT COUNT(*) FROM seats s WHERE s.node_id = n.node_id AND s.status IN ${LIVE}), 0)) AS n
           FROM nodes n JOIN node_seen ns ON ns.node_id = n.node_id WHERE ns.seen_at >= ?`,
        onlineSince,
      )
      .one().n ?? 0;
    if (free <= 0) return [];
    const out: SeatRow[] = [];
    for (const w of waiters) {
      const mine = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM seats WHERE user_id = ? AND status IN ${LIVE}`, w.user_id).one().n;
      if (mine >= w.max_per_user) continue;
      const candidates = this.sql
        .exec<{ node_id: number; region: string | null; capacity: number; stream_base: string | null; seen_at: number }>(
          `SELECT n.node_id, n.region, n.capacity, n.stream_base, ns.seen_at FROM waiter_nodes wn
             JOIN nodes n ON n.node_id = wn.node_id JOIN node_seen ns ON ns.node_id = wn.node_id
            WHERE wn.seat_id = ? AND ns.seen_at >= ?`,
          w.seat_id, onlineSince,
        )
        .toArray()
        .map((c) => ({ nodeId: c.node_id, region: c.region, capacity: c.capacity, streamBaseUrl: c.stream_base, lastSeen: iso(c.seen_at) }));
      const node = this.pick({ region: w.region, policy: w.policy === 'pack' ? 'pack' : 'spread', candidates });
      if (!node) continue;
      // The lease starts now: the time spent waiting is not held against the session.
      this.sql.exec(
        `UPDATE seats SET status = 'provisioning', node_id = ?, region = ?, stream_base = ?, updated_at = ?, last_client_seen = ? WHERE id = ? AND status = 'queued'`,
        node.nodeId, node.region, node.streamBaseUrl, now, now, w.seat_id,
      );
      this.leaveQueue(w.seat_id);
      out.push(this.row(w.seat_id)!);
      if (--free <= 0) break;
    }
    return out;
  }

  private leaveQueue(seatId: number): void {
    this.sql.exec(`DELETE FROM waiters WHERE seat_id = ?`, seatId);
    this.sql.exec(`DELETE FROM waiter_nodes WHERE seat_id = ?`, seatId);
  }
  /** The same request again. With an Idempotency-Key the key alone says so (any status, same game
   * required; a new key is a new request). Without one: a live session of the same (user, game)
   * created within the repeat window. */
  private findRepeat(req: AllocateRequest, now: number): SeatRow | 'conflict' | null {
    if (req.idempotencyKey !== null) {
      const row = this.sql
        .exec<SeatRow>(`SELECT * FROM seats WHERE user_id = ? AND idem_key = ? AND created_at >= ? ORDER BY created_at DESC LIMIT 1`,
          req.userId, req.idempotencyKey, now - IDEMPOTENCY_KEY_TTL_MS)
        .toArray()[0];
      if (row) return row.game_id === req.gameId ? row : 'conflict';
      return null;
    }
    return (
      this.sql
        .exec<SeatRow>(`SELECT * FROM seats WHERE user_id = ? AND game_id = ? AND status IN ${OPEN} AND created_at >= ? ORDER BY created_at DESC LIMIT 1`,
          req.userId, req.gameId, now - REPEAT_WINDOW_MS)
        .toArray()[0] ?? null
    );
  }

  /**
   * Preferred region first (if any of its nodes has a free seat), then every other candidate.
   * spread: lowest load ratio, then fewest sessions; pack: most sessions that still fit. Node id
   * breaks ties, so the choice is deterministic.
   */
  private pick(req: Pick<AllocateRequest, 'region' | 'policy' | 'candidates'>): Candidate | null {
    const load = new Map<number, number>();
    for (const r of this.sql.exec<{ node_id: number; n: number }>(`SELECT node_id, COUNT(*) AS n FROM seats WHERE status IN ${LIVE} AND node_id IS NOT NULL GROUP BY node_id`)) {
      load.set(r.node_id, r.n);
    }
    const free = req.candidates.filter((c) => c.capacity > 0 && (load.get(c.nodeId) ?? 0) < c.capacity);
    const preferred = req.region === null ? [] : free.filter((c) => c.region === req.region);
    const pool = preferred.length > 0 ? preferred : free;
    const byPolicy = (a: Candidate, b: Candidate): number => {
      const la = load.get(a.nodeId) ?? 0;
      const lb = load.get(b.nodeId) ?? 0;
      if (req.policy === 'pack') return lb - la || a.nodeId - b.nodeId;
      return la / a.capacity - lb / b.capacity || la - lb || a.nodeId - b.nodeId;
    };
    return [...pool].sort(byPolicy)[0] ?? null;
  }

  private newId(): number {
    // Random 53-bit ids (the launcher reads `id` as a number); a collision with a seat this object
    // still holds is re-drawn (D1's primary key would refuse a collision with older history).
    for (;;) {
      const id = randomSafeInteger();
      if (!this.row(id)) return id;
    }
  }

  private markNodeSeen(nodeId: number, at: number): void {
    if (!Number.isFinite(at)) return;
    this.sql.exec(
      `INSERT INTO node_seen (node_id, seen_at) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET seen_at = MAX(seen_at, excluded.seen_at)`,
      nodeId, at,
    );
  }

  /** Moves a live session to `to`; returns the new row, or null when it was already ended. */
  private transition(row: SeatRow, to: PlaySessionStatus, reason: string | null, now: number): SeatRow | null {
    if (!isOpen(row.status)) return null;
    if (row.status === to) return null;
    const ends = isEnd(to);
    if (row.status === 'queued') {
      // A waiter only leaves the queue by ending (promotion is drain()'s own UPDATE).
      if (!ends) return null;
      this.leaveQueue(row.id);
    }
    this.sql.exec(
      `UPDATE seats SET status = ?, end_reason = ?, updated_at = ?, ended_at = ?, last_node_seen = COALESCE(last_node_seen, ?) WHERE id = ?`,
      to, ends ? reason : null, now, ends ? now : null, now, row.id,
    );
    return this.row(row.id);
  }

  /** Fails sessions whose node went silent or whose lease ran out; prunes old history. */
  private async reclaim(orgId: number): Promise<number> {
    const now = world.now();
    const offlineMs = nodeOfflineAfterSeconds(this.env) * 1000;
    const leaseMs = playSessionLeaseSeconds(this.env) * 1000;
    const changed = this.commit(() => {
      const rows = this.sql
        .exec<SeatRow & { node_seen: number | null }>(
          `SELECT s.*, ns.seen_at AS node_seen FROM seats s LEFT JOIN node_seen ns ON ns.node_id = s.node_id WHERE s.status IN ${LIVE}`,
        )
        .toArray();
      const out: SeatRow[] = [];
      // A waiter that stopped polling has gone away (TV off, app closed): it leaves the queue.
      const lapsed = this.sql
        .exec<SeatRow>(`SELECT * FROM seats WHERE status = 'queued' AND COALESCE(last_client_seen, created_at) < ?`, now - QUEUE_KEEPALIVE_SECONDS * 1000)
        .toArray();
      for (const r of lapsed) {
        const after = this.transition(r, 'ended', 'queue_keepalive_lapsed', now);
        if (after) out.push(after);
      }
      for (const r of rows) {
        const vouched = Math.max(r.created_at, r.last_node_seen ?? 0, r.last_client_seen ?? 0);
        let reason: string | null = null;
        if (r.node_seen !== null && now - r.node_seen > offlineMs) reason = 'node_offline';
        else if (now - vouched > leaseMs) reason = 'lease_expired';
        if (reason) {
          const after = this.transition(r, 'failed', reason, now);
          if (after) out.push(after);
        }
      }
      // History D1 has not confirmed yet is kept until it has.
      this.sql.exec(
        `DELETE FROM seats WHERE status NOT IN ${OPEN} AND COALESCE(ended_at, updated_at) < ? AND id NOT IN (SELECT session_id FROM outbox)`,
        now - IDEMPOTENCY_KEY_TTL_MS,
      );
      return out;
    });
    await this.settle(orgId, changed);
    return changed.length;
  }

  /**
   * Re-arms the alarm at the next deadline: a node going silent, a lease running out, an outbox
   * retry, the next reconcile (while anything is live or undelivered), or pruning.
   */
  private async arm(): Promise<void> {
    const offlineMs = nodeOfflineAfterSeconds(this.env) * 1000;
    const leaseMs = playSessionLeaseSeconds(this.env) * 1000;
    const reconcileAt = Number(this.meta('reconciled_at') ?? 0) + MIRROR_RECONCILE_MS;
    const next = this.sql
      .exec<{ at: number | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(MAX(s.created_at, COALESCE(s.last_node_seen, 0), COALESCE(s.last_client_seen, 0)) + ?,
                      COALESCE(ns.seen_at + ?, 9e15)) AS at
             FROM seats s LEFT JOIN node_seen ns ON ns.node_id = s.node_id WHERE s.status IN ${LIVE}
           UNION ALL
           SELECT COALESCE(ended_at, updated_at) + ? FROM seats WHERE status NOT IN ${OPEN}
           UNION ALL
           SELECT COALESCE(last_client_seen, created_at) + ? FROM seats WHERE status = 'queued'
           UNION ALL
           SELECT next_at FROM outbox
           UNION ALL
           SELECT ? WHERE EXISTS (SELECT 1 FROM seats WHERE status IN ${OPEN}) OR EXISTS (SELECT 1 FROM outbox))`,
        leaseMs + 1, offlineMs + 1, IDEMPOTENCY_KEY_TTL_MS, QUEUE_KEEPALIVE_SECONDS * 1000 + 1, reconcileAt,
      )
      .one().at;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    // Deadlines are on the world clock (tests move it); the alarm runs on the real one.
    const wait = Math.max(next - world.now(), 0);
    const at = Math.max(Date.now() + wait, Date.now() + 1000);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}

function mirrorRow(r: SeatRow): MirrorRow {
  return {
    id: r.id,
    userId: r.user_id,
    gameId: r.game_id,
    nodeId: r.node_id,
    region: r.region,
    status: r.status,
    endReason: r.end_reason,
    idemKey: r.idem_key,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    endedAt: r.ended_at,
    lastNodeSeen: r.last_node_seen,
    lastClientSeen: r.last_client_seen,
  };
}
