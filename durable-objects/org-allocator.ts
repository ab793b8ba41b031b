/**
 * OrgAllocator — one per org (`env.ORG_ALLOCATOR.getByName(String(orgId))`): the strongly consistent
 * owner of the org's live play-session seats. Every seat decision (allocate, node report, delete,
 * lease reclaim) happens here, synchronously against the object's SQLite storage with no `await`
 * in between, so no interleaving request can see a half-made decision: a node never holds more
 * live sessions than its capacity and a user never more than the org's per-user limit.
 *
 * The Worker does the D1 reads (membership, ownership, which online nodes have the game) and hands
 * the candidates in; this object picks the node and reserves the seat. It is the one authority;
 * D1 `play_sessions` (the history every other reader uses) is its mirror. What must reach D1 (and
 * the webhook events the decision causes) is written to an outbox in the SAME storage transaction
 * as the decision, and the object answers as soon as that transaction is durable: the D1 write is
 * off the caller's critical path (issue 17). Delivery runs in the background right after the
 * answer and is coalesced: while one D1 batch is in flight, later decisions wait and go together in
 * the next one. An alarm set with the decision re-delivers whatever the background delivery did not
 * (eviction, D1 refusing), with backoff, until D1 confirms (the writes are idempotent upserts that
 * never revive an ended row). A periodic two-way reconcile (and one at every start-up) repairs
 * anything else: a seat without its D1 row gets it, a D1 live row this object does not hold is
 * ended. Repaired rows carry `mirror_repair`. If its storage is ever empty (first use, or storage
 * lost) it rebuilds the live seats from D1 before answering anything. Because D1 may lag a few ms,
 * the owner's reads fall back to `get`/`touch` here on a D1 miss; play-session ids carry their org's
 * tag (`playSessionIdTag`) so the Worker can find this object from an id alone.
 *
 * Its RPC shapes and the play-session record are the domain model's (src/console/play/model.ts);
 * its D1 statements are in src/console/play/mirror-queries.ts.
 *
 *   const r = await allocatorOf(env, orgId).allocate({ orgId, userId, gameId, ... });
 *   if (r.ok) r.playSession; else r.reason; // 'no_free_seat' | 'user_limit' | 'not_installed' | 'idempotency_conflict' | 'already_queued'
 *
 * Liveness: the object remembers when each node last reported (`node_seen`) and when each session
 * was last vouched for by its node or its client. An alarm, re-armed at the next deadline, marks
 * sessions `failed` when their node went silent for NODE_OFFLINE_AFTER_SECONDS (`node_offline`) or
 * nobody touched them for SESSION_LEASE_SECONDS (`lease_expired`). Alarms are at-least-once: the
 * sweep is idempotent.
 */
import { DurableObject } from 'cloudflare:workers';
import { db, type Db } from '../src/db/client';
import { nodeOfflineAfterSeconds } from '../src/console/nodes/model';
import { announcePlayEvents, type PlayEvent, type PlayEventEndpoints } from '../src/notifications/play-transitions';
import { endOrphans, mirrorLiveRows, mirrorRebuildRows, referentsExist, writeMirror, type MirrorRepair, type MirrorRow } from '../src/console/play/mirror-queries';
import {
  isEnd,
  isLive,
  isOpen,
  LIVE_STATUSES,
  OPEN_STATUSES,
  playSessionFromRow,
  playSessionIdForOrg,
  playSessionLeaseSeconds,
  type AllocateRequest,
  type AllocateResult,
  type Candidate,
  type NodeHeartbeatResult,
  type NodeReport,
  type PlaySessionRecord,
  type PlaySessionStatus,
  type PlayRequest,
  type PlayResult,
  type QueueEntry,
  type QueueState,
} from '../src/console/play/model';
import { randomSafeInteger, world } from '../src/world';
import { loadPlayFacts, PLAY_FACTS_TTL_MS, type PlayFacts } from '../src/console/play/facts';
import { mayPlay } from '../src/console/play/rules';
import type { PlayContext } from '../src/console/play/queries';

/** A repeat of the same (user, game) request within this window returns the same live session. */
export const REPEAT_WINDOW_MS = 60_000;
/** An `Idempotency-Key` is remembered this long (ended sessions are kept this long for it). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3600_000;
/** What a refused caller is told to wait: seats free up when sessions end, not on a schedule. */
export const NO_SEAT_RETRY_AFTER_SECONDS = 30;

/** The alarm set with every decision: it delivers whatever the background delivery has not
 * (the object was evicted, or D1 refused) — the bound on how long the mirror lags in the worst case
 * while D1 answers. */
export const OUTBOX_ALARM_MS = 2_000;
/** At most this many rows go to D1 in one batch (each upsert binds ~17 parameters, one statement each). */
const MIRROR_BATCH_ROWS = 100;
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

interface EventRow extends Record<string, SqlStorageValue> {
  id: number;
  session_id: number;
  type: string;
  user_id: number;
  game_id: number;
  status: string;
  reason: string | null;
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
  // In-memory copies of what every call would otherwise read from storage. All are rebuilt from
  // storage after an eviction (a new instance starts empty) and only this object writes the rows.
  /** The org id once known (meta `org_id`); undefined = not read yet. */
  private org: number | null | undefined;
  /** The alarm as last set or read; undefined = not known. */
  private alarmAt: number | null | undefined;
  /** What `nodes` and `node_seen` hold (null until loaded), so candidates that changed nothing write nothing. */
  private nodeInfo: Map<number, string> | null = null;
  private nodeSeen: Map<number, number> | null = null;
  /** Live seats per node (what `pick` weighs), kept in step with every transition; null until loaded. */
  private load: Map<number, number> | null = null;
  /** false only when the last look found the queue empty (and nothing joined since): drain() skips its read. */
  private hasWaiters: boolean | null = null;
  /** meta `reconciled_at` (ms) as last written or read; undefined = not read yet. */
  private reconciledAt: number | undefined;
  /** The drizzle client, built once per instance (building one walks the whole schema). */
  private d1Client: Db | null = null;
  /** The background D1 delivery in flight, and whether decisions arrived while it was. */
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  /**
   * A lower bound (world clock) of the seats' next deadline — a lease, a node's silence, a waiter's
   * keep-alive, pruning — kept in step by every decision (`noteDeadlines`), so re-arming after a
   * delivery round needs no scan of the seats; Infinity = none; undefined = not known (the next
   * `arm` computes it exactly: start-up, every alarm). Earlier than the truth is harmless: that
   * alarm recomputes exactly and moves on.
   */
  private seatsDue: number | undefined;
  /**
   * The allocation facts (src/console/play/facts.ts), memory only: `c:<user>:<game>` the play
   * context of a user allowed to play the game, `n:<game>` the game's active nodes. Each with the real time it was read (PLAY_FACTS_TTL_MS). Dropped whole by
   * `forgetFacts`; `factsGen` moves with every drop so a load that raced a writer is not kept.
   */
  private facts = new Map<string, { at: number; value: unknown }>();
  private factsGen = 0;
  /** Last heartbeat per node (world ms) as D1 said at the last load, raised by every heartbeat since. */
  private factSeen = new Map<number, number>();

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
      // Webhook events the decisions caused (session.started/ended), written with the decision and
      // published once D1 has the row they describe: derived from this object's own transitions.
      this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL, type TEXT NOT NULL, user_id INTEGER NOT NULL,
        game_id INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT)`);
      // Start-up (after a crash, deploy or eviction): reconcile with D1 soon, whatever was planned.
      if (this.orgId() !== null) {
        this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('reconciled_at', '0')`);
        this.reconciledAt = 0;
        const at = await ctx.storage.getAlarm();
        this.alarmAt = at;
        if (at === null || at > Date.now() + 1000) await this.setAlarm(Date.now() + 1000);
      }
    });
  }

  // ─────────────── RPC ───────────────

  /**
   * `POST /sessions` after the caller check: the membership, entitlement and candidate facts come
   * from this object's cache (one D1 batch on a miss), then the decision is `allocate`'s.
   */
  async request(req: PlayRequest): Promise<PlayResult> {
    await this.ready(req.orgId);
    const f = await this.factsFor(req.orgId, req.userId, req.gameId);
    if (!mayPlay(f.ctx)) return { ok: false, reason: 'refused', ctx: f.ctx };
    const cutoff = world.now() - nodeOfflineAfterSeconds(this.env) * 1000;
    const all: Candidate[] = [];
    for (const c of f.candidates) {
      const seen = this.factSeen.get(c.nodeId) ?? Date.parse(c.lastSeen);
      if (seen >= cutoff) all.push({ ...c, lastSeen: iso(seen) });
    }
    const strict = Boolean(req.strictRegion && req.region);
    const result = await this.allocate({
      orgId: req.orgId,
      userId: req.userId,
      gameId: req.gameId,
      region: req.region,
      policy: f.ctx.policy,
      maxPerUser: Math.max(1, f.ctx.maxPerUser),
      candidates: strict ? all.filter((n) => n.region === req.region) : all,
      idempotencyKey: req.idempotencyKey,
      queue: req.queue,
      strictRegion: strict,
    });
    return !result.ok && result.reason === 'not_installed' ? { ...result, installedElsewhere: all.length > 0 } : result;
  }

  /** A writer changed a fact (membership, entitlement, node, policy, game): the next request reads D1. */
  async forgetFacts(): Promise<void> {
    this.facts.clear();
    this.factSeen.clear();
    this.factsGen++;
  }

  async allocate(req: AllocateRequest): Promise<AllocateResult> {
    await this.ready(req.orgId);
    const now = world.now();
    // Everything from here to the seat INSERT is synchronous: this is the critical section.
    const replay = this.findRepeat(req, now);
    if (replay === 'conflict') return { ok: false, reason: 'idempotency_conflict', retryAfterSeconds: 0 };
    // A replay is answered from here at once: D1 may not have the row yet, but the owner's reads
    // fall back to this object on a D1 miss, so the session is always readable by its owner.
    if (replay) return { ok: true, playSession: this.record(replay, req.orgId), replayed: true };
    // One queued entry per user: asking again for the same game is that entry, another game is refused.
    const waiting = this.sql.exec<SeatRow>(`SELECT * FROM seats WHERE user_id = ? AND status = 'queued'`, req.userId).toArray()[0];
    if (waiting) {
      if (waiting.game_id === req.gameId) return { ok: true, playSession: this.record(waiting, req.orgId), replayed: true };
      return { ok: false, reason: 'already_queued', retryAfterSeconds: 0, playSessionId: waiting.id };
    }

    const mine = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM seats WHERE user_id = ? AND status IN ${LIVE}`, req.userId).one().n;
    if (mine >= req.maxPerUser) return { ok: false, reason: 'user_limit', retryAfterSeconds: NO_SEAT_RETRY_AFTER_SECONDS };
    if (req.candidates.length === 0) return { ok: false, reason: 'not_installed', retryAfterSeconds: 0 };

    const id = this.newId(req.orgId);
    let placed = false;
    // The seat (or queue entry) and the promise to mirror it commit together: a crash after this
    // loses nothing.
    const changed = this.commit(() => {
      this.learnNodes(req.candidates);
      // Waiters first: a seat that became free belongs to the queue, not to a newcomer.
      const promoted = this.drain(now);
      const node = this.pick(req);
      if (node) {
        // The row is what this INSERT writes (every column), so it is not read back.
        const seat = this.newSeat(id, req, now, { nodeId: node.nodeId, region: node.region, streamBase: node.streamBaseUrl, status: 'provisioning', lastClientSeen: null });
        this.sql.exec(
          `INSERT INTO seats (id, user_id, game_id, node_id, region, stream_base, status, idem_key, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'provisioning', ?, ?, ?)`,
          id, req.userId, req.gameId, node.nodeId, node.region, node.streamBaseUrl, req.idempotencyKey, now, now,
        );
        this.adjustLoad(node.nodeId, 1);
        this.event('session.started', seat);
        placed = true;
        return [...promoted, seat];
      } else if (req.queue) {
        const seat = this.newSeat(id, req, now, { nodeId: null, region: req.region, streamBase: null, status: 'queued', lastClientSeen: now });
        this.sql.exec(
          `INSERT INTO seats (id, user_id, game_id, node_id, region, stream_base, status, idem_key, created_at, updated_at, last_client_seen)
           VALUES (?, ?, ?, NULL, ?, NULL, 'queued', ?, ?, ?, ?)`,
          id, req.userId, req.gameId, req.region, req.idempotencyKey, now, now, now,
        );
        this.sql.exec(
          `INSERT INTO waiters (seat_id, region, strict, policy, max_per_user) VALUES (?, ?, ?, ?, ?)`,
          id, req.region, req.strictRegion ? 1 : 0, req.policy, req.maxPerUser,
        );
        this.hasWaiters = true;
        this.setWaiterNodes(id, req.candidates);
        placed = true;
        return [...promoted, seat];
      }
      return promoted;
    });
    // The answer waits only for this object's own storage (the output gate); D1 gets the rows after it.
    await this.settle(req.orgId, changed);
    if (!placed) return { ok: false, reason: 'no_free_seat', retryAfterSeconds: NO_SEAT_RETRY_AFTER_SECONDS };
    // The seat as the transaction left it (the latest copy: a drain in the same transaction re-reads
    // what it changes), so the answer needs no read of its own.
    let seat: SeatRow | undefined;
    for (const r of changed) if (r.id === id) seat = r;
    return { ok: true, playSession: this.record(seat ?? this.row(id)!, req.orgId), replayed: false };
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
  async nodeHeartbeat(orgId: number, nodeId: number, reports: NodeReport[], installs?: { gameIds: number[] | null }): Promise<NodeHeartbeatResult> {
    await this.ready(orgId);
    const now = world.now();
    if (installs) this.heardFrom(nodeId, now, installs.gameIds);
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
      this.nodeSeen?.delete(nodeId);
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
    // The alarm that fires is used up; arm() below sets the next one, from an exact look at the seats.
    this.alarmAt = null;
    this.seatsDue = undefined;
    const org = this.orgId();
    if (org === null) return;
    await this.reclaim(org);
    await this.flush(org);
    if (world.now() - this.lastReconciled() >= MIRROR_RECONCILE_MS) await this.reconcile(org);
    await this.arm();
  }

  // ─────────────── internals ───────────────

  /** The facts of one request: the cached copies while fresh, else one D1 batch (kept if no writer ran meanwhile). */
  private async factsFor(orgId: number, userId: number, gameId: number): Promise<PlayFacts> {
    const now = Date.now();
    const fresh = (key: string) => {
      const e = this.facts.get(key);
      return e && now - e.at < PLAY_FACTS_TTL_MS ? e.value : undefined;
    };
    const ctx = fresh(`c:${userId}:${gameId}`) as PlayContext | undefined;
    const candidates = fresh(`n:${gameId}`) as Candidate[] | undefined;
    if (ctx && candidates) return { ctx, candidates };
    const gen = this.factsGen;
    const loaded = await loadPlayFacts(this.d1(), orgId, userId, gameId);
    if (gen === this.factsGen) {
      // A bound on memory: an org with a very wide mix of users and games just starts over.
      if (this.facts.size > 10_000) this.facts.clear();
      // Only what allows: a grant made later needs no invalidation, a miss simply reads D1 again.
      if (mayPlay(loaded.ctx)) this.facts.set(`c:${userId}:${gameId}`, { at: now, value: loaded.ctx });
      this.facts.set(`n:${gameId}`, { at: now, value: loaded.candidates });
      // D1's word at this read replaces what heartbeats told (it is at least as new as the copy).
      for (const c of loaded.candidates) this.factSeen.set(c.nodeId, Date.parse(c.lastSeen));
    }
    return loaded;
  }

  /**
   * A heartbeat (its D1 write done): the node is alive now, and `gameIds` (null for a node that is
   * not active) is its complete install set. A cached candidate list that disagrees with it is dropped.
   */
  private heardFrom(nodeId: number, now: number, gameIds: number[] | null): void {
    if (this.factSeen.has(nodeId)) this.factSeen.set(nodeId, Math.max(now, this.factSeen.get(nodeId)!));
    if (gameIds === null) return;
    const installed = new Set(gameIds);
    for (const [key, e] of this.facts) {
      if (!key.startsWith('n:')) continue;
      const listed = (e.value as Candidate[]).some((c) => c.nodeId === nodeId);
      if (listed !== installed.has(Number(key.slice(2)))) this.facts.delete(key);
    }
  }

  private meta(key: string): string | null {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value ?? null;
  }

  private d1(): Db {
    return (this.d1Client ??= db(this.env));
  }

  private lastReconciled(): number {
    if (this.reconciledAt === undefined) this.reconciledAt = Number(this.meta('reconciled_at') ?? 0);
    return this.reconciledAt;
  }

  private orgId(): number | null {
    if (this.org === undefined || this.org === null) {
      const v = this.meta('org_id');
      this.org = v === null ? null : Number(v);
    }
    return this.org;
  }

  /**
   * Storage that has never been built (a fresh object, or one whose storage was lost) is rebuilt
   * from D1's live `play_sessions` before any decision, with every other request held back.
   */
  private async ready(orgId: number): Promise<void> {
    if (this.orgId() !== null) return;
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.orgId() !== null) return;
      const rows = await mirrorRebuildRows(this.d1(), orgId);
      // Rebuilt sessions get a fresh grace period: their last heartbeats were only in memory.
      const now = world.now();
      this.tx(() => {
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
      this.org = orgId;
      this.reconciledAt = now;
      this.load = null;
      this.hasWaiters = null;
      this.seatsDue = undefined;
      await this.arm();
    });
  }

  /** Runs a synchronous decision in one storage transaction and queues every row it changed for D1. */
  private commit(decide: () => SeatRow[] | SeatRow | null): SeatRow[] {
    return this.tx(() => {
      const out = decide();
      // Whatever the decision freed goes to the queue in the same transaction.
      const rows = [...(out === null ? [] : Array.isArray(out) ? out : [out]), ...this.drain(world.now())];
      if (rows.length) this.enqueue(rows.map((r) => r.id), world.now());
      this.noteDeadlines(rows);
      return rows;
    });
  }

  /** One storage transaction; if it rolls back, the in-memory copies (which may hold what it wrote) are dropped. */
  private tx<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (e) {
      this.nodeInfo = null;
      this.nodeSeen = null;
      this.load = null;
      this.hasWaiters = null;
      this.reconciledAt = undefined;
      this.seatsDue = undefined;
      throw e;
    }
  }

  /**
   * After a decision: D1 delivery starts in the background (it is NOT awaited: the caller's answer
   * waits only for this object's storage), and the alarm is set so that an eviction before it
   * finishes loses nothing (the outbox is durable; the alarm delivers it).
   */
  private async settle(orgId: number, changed: SeatRow[]): Promise<void> {
    if (changed.length === 0) return;
    this.ctx.waitUntil(this.flush(orgId));
    await this.alarmBy(Date.now() + OUTBOX_ALARM_MS);
  }

  /**
   * Delivers every due outbox entry, coalescing: while one D1 batch is in flight, later decisions
   * only mark that another round is needed, and that round sends all of them in one batch (a
   * contended org writes D1 a few times per second, not once per session). Resolves when nothing
   * due is left undelivered (or D1 refused it: the entry's backoff and the alarm take over).
   */
  private flush(orgId: number): Promise<void> {
    this.flushAgain = true;
    if (this.flushing) return this.flushing;
    const run = async () => {
      try {
        while (this.flushAgain) {
          this.flushAgain = false;
          if (await this.deliver(orgId)) this.flushAgain = true;
        }
        // Delivered (or backed off): the alarm goes back to the next real deadline, which includes
        // any outbox retry. Setting it per round, not per decision, keeps a busy org's alarm quiet.
        await this.arm(true);
      } finally {
        this.flushing = null;
      }
    };
    this.flushing = run();
    return this.flushing;
  }

  private async setAlarm(at: number): Promise<void> {
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** Makes sure the alarm fires no later than `at` (real clock). */
  private async alarmBy(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt === null || this.alarmAt > at) await this.setAlarm(at);
  }

  /** Records a webhook event of a transition this object just made (inside the decision's transaction). */
  private event(type: PlayEvent['type'], r: SeatRow): void {
    this.sql.exec(
      `INSERT INTO events (session_id, type, user_id, game_id, status, reason) VALUES (?, ?, ?, ?, ?, ?)`,
      r.id, type, r.user_id, r.game_id, r.status, r.end_reason,
    );
  }

  /** Publishes the recorded events (up to `upTo`) of sessions whose rows D1 has just confirmed. */
  private publish(orgId: number, ids: number[], upTo: number, endpoints?: PlayEventEndpoints): void {
    const list = JSON.stringify(ids);
    const rows = this.sql
      .exec<EventRow>(`SELECT * FROM events WHERE id <= ? AND session_id IN (SELECT value FROM json_each(?)) ORDER BY id`, upTo, list)
      .toArray();
    if (rows.length === 0) return;
    this.sql.exec(`DELETE FROM events WHERE id <= ? AND session_id IN (SELECT value FROM json_each(?))`, upTo, list);
    announcePlayEvents(
      this.env,
      this.ctx,
      orgId,
      rows.map((r) => ({ type: r.type as PlayEvent['type'], sessionId: r.session_id, userId: r.user_id, gameId: r.game_id, status: r.status, reason: r.reason })),
      endpoints,
    );
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
   * One delivery round: the due outbox entries (oldest first, at most MIRROR_BATCH_ROWS) go to D1
   * in ONE batch; if D1 refuses it, each row alone, so one undeliverable row cannot hold back the
   * others. The events of the rows D1 confirmed are published then. A row whose user, game or org is
   * gone is ended here and dropped. Returns whether more entries were due than one batch holds.
   * Never throws.
   */
  private async deliver(orgId: number): Promise<boolean> {
    const now = world.now();
    // The due entries with their seats in one read (a coalesced round carries many).
    const entries = this.sql
      .exec<OutboxRow & SeatRow>(
        `SELECT o.session_id, o.seq, o.attempts, o.next_at, o.repair, s.* FROM outbox o LEFT JOIN seats s ON s.id = o.session_id
          WHERE o.next_at <= ? ORDER BY o.next_at LIMIT ?`,
        now, MIRROR_BATCH_ROWS + 1,
      )
      .toArray();
    const more = entries.length > MIRROR_BATCH_ROWS;
    if (more) entries.pop();
    if (entries.length === 0) return false;
    // Every event recorded so far describes a state no newer than the rows read above.
    const upTo = this.sql.exec<{ n: number }>(`SELECT COALESCE(MAX(id), 0) AS n FROM events`).one().n;
    const items: Array<{ entry: OutboxRow; row: SeatRow }> = [];
    for (const joined of entries) {
      const { session_id, seq, attempts, next_at, repair, ...seat } = joined;
      const entry: OutboxRow = { session_id, seq, attempts, next_at, repair };
      if (seat.id !== null) items.push({ entry, row: seat as SeatRow });
      else {
        this.sql.exec(`DELETE FROM outbox WHERE session_id = ?`, entry.session_id);
        this.sql.exec(`DELETE FROM events WHERE session_id = ?`, entry.session_id);
      }
    }
    const d = this.d1();
    // With events to publish, the webhook endpoint lookup rides in the same D1 batch as the rows.
    const send = (batch: typeof items) =>
      writeMirror(d, orgId, batch.map((i) => ({ row: mirrorRow(i.row), repair: i.entry.repair as MirrorRepair | null })), iso(now), upTo > 0);
    const done = (batch: typeof items, endpoints: PlayEventEndpoints | undefined) => {
      // Only the state that was sent: a decision made meanwhile bumped `seq` and stays queued.
      this.sql.exec(
        `DELETE FROM outbox WHERE (session_id, seq) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))`,
        JSON.stringify(batch.map((i) => [i.entry.session_id, i.entry.seq])),
      );
      this.publish(orgId, batch.map((i) => i.row.id), upTo, endpoints);
    };
    if (items.length === 0) return more;
    try {
      done(items, await send(items));
      return more;
    } catch (e) {
      if (items.length === 1) {
        await this.deliveryFailed(orgId, items[0]!, e);
        return more;
      }
    }
    for (const item of items) {
      try {
        done([item], await send([item]));
      } catch (e) {
        await this.deliveryFailed(orgId, item, e);
      }
    }
    return more;
  }

  private async deliveryFailed(orgId: number, item: { entry: OutboxRow; row: SeatRow }, error: unknown): Promise<void> {
    const { entry, row } = item;
    let gone = false;
    try {
      gone = !(await referentsExist(this.d1(), orgId, row.user_id, row.game_id));
    } catch {
      // D1 unreachable: the retry below is all we can do.
    }
    if (gone) {
      // Nothing to mirror into (cascade already removed the history); the seat must not stay taken.
      const now = world.now();
      this.tx(() => {
        this.sql.exec(`DELETE FROM outbox WHERE session_id = ?`, entry.session_id);
        // Its row never reached D1, so nobody was told it started: nothing to announce either.
        this.sql.exec(`DELETE FROM events WHERE session_id = ?`, entry.session_id);
        const r = this.row(row.id);
        const after = r ? this.transition(r, 'failed', 'owner_gone', now, false) : null;
        if (after) this.noteDeadlines([after]);
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
    // Deliveries run in the background: a row delivered while D1 is read below may be missing from
    // that read. Anything undelivered when the read starts is the outbox's business, not a repair.
    const inFlight = new Set(this.sql.exec<{ session_id: number }>(`SELECT session_id FROM outbox`).toArray().map((r) => r.session_id));
    let d1: Awaited<ReturnType<typeof mirrorLiveRows>>;
    try {
      d1 = await mirrorLiveRows(this.d1(), orgId, held);
    } catch (e) {
      console.warn(JSON.stringify({ level: 'warn', msg: 'allocator reconcile: D1 read failed', org_id: orgId, error: String(e) }));
      return;
    }
    const now = world.now();
    const inD1 = new Map(d1.map((r) => [r.id, r]));
    const orphans: number[] = [];
    this.tx(() => {
      // One read of the seats and one of the outbox, not one query per row (a busy org holds thousands).
      const seats = this.sql.exec<SeatRow>(`SELECT * FROM seats`).toArray();
      const heldNow = new Set(seats.map((r) => r.id));
      const pendingNow = new Set(this.sql.exec<{ session_id: number }>(`SELECT session_id FROM outbox`).toArray().map((r) => r.session_id));
      for (const r of d1) {
        if (!isOpen(r.status)) continue;
        if (!heldNow.has(r.id)) orphans.push(r.id);
      }
      const repair: number[] = [];
      for (const seat of seats) {
        if (seat.updated_at >= started || inFlight.has(seat.id) || pendingNow.has(seat.id)) continue;
        const mirror = inD1.get(seat.id);
        const seatOpen = isOpen(seat.status);
        if (!mirror) {
          if (seatOpen) repair.push(seat.id);
        } else if (mirror.status !== seat.status) {
          const mirrorOpen = isOpen(mirror.status);
          // D1 history is final: a seat it already shows ended is ended here too (nothing to send).
          // Whoever ended it in history announced it (or it never started): no event from here.
          if (seatOpen && !mirrorOpen) {
            const after = this.transition(seat, mirror.status as PlaySessionStatus, mirror.endReason ?? 'ended_in_history', now, false);
            if (after) this.noteDeadlines([after]);
          }
          else repair.push(seat.id);
        }
      }
      if (repair.length) this.enqueue(repair, now, 'reconciled');
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('reconciled_at', ?)`, String(now));
    });
    this.reconciledAt = now;
    if (orphans.length) {
      try {
        await endOrphans(this.d1(), orgId, orphans, iso(now));
      } catch (e) {
        console.warn(JSON.stringify({ level: 'warn', msg: 'allocator reconcile: ending D1 orphans failed', org_id: orgId, error: String(e) }));
      }
    }
    await this.flush(orgId);
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
    if (this.nodeInfo === null) {
      this.nodeInfo = new Map();
      for (const n of this.sql.exec<{ node_id: number; region: string | null; capacity: number; stream_base: string | null }>(`SELECT * FROM nodes`)) {
        this.nodeInfo.set(n.node_id, JSON.stringify([n.region, n.capacity, n.stream_base]));
      }
    }
    for (const c of candidates) {
      this.markNodeSeen(c.nodeId, Date.parse(c.lastSeen));
      // The same facts on every request of a busy org: written only when they change.
      const info = JSON.stringify([c.region, c.capacity, c.streamBaseUrl]);
      if (this.nodeInfo.get(c.nodeId) === info) continue;
      this.nodeInfo.set(c.nodeId, info);
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
    if (this.hasWaiters === false) return [];
    const waiters = this.sql
      .exec<{ seat_id: number; region: string | null; policy: string; max_per_user: number; user_id: number }>(
        `SELECT w.seat_id, w.region, w.policy, w.max_per_user, s.user_id FROM waiters w JOIN seats s ON s.id = w.seat_id ORDER BY w.seq`,
      )
      .toArray();
    this.hasWaiters = waiters.length > 0;
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
      this.adjustLoad(node.nodeId, 1);
      this.leaveQueue(w.seat_id);
      const promoted = this.row(w.seat_id)!;
      this.event('session.started', promoted);
      out.push(promoted);
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
    const load = this.liveLoad();
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

  /** Live seats per node, from memory (read from storage once per instance, or after a rollback). */
  private liveLoad(): Map<number, number> {
    if (this.load === null) {
      this.load = new Map();
      for (const r of this.sql.exec<{ node_id: number; n: number }>(`SELECT node_id, COUNT(*) AS n FROM seats WHERE status IN ${LIVE} AND node_id IS NOT NULL GROUP BY node_id`)) {
        this.load.set(r.node_id, r.n);
      }
    }
    return this.load;
  }

  /** A seat on `nodeId` became live (+1) or stopped being live (-1). Called inside the transaction
   * that writes it; a rollback drops the whole map (`tx`). */
  private adjustLoad(nodeId: number | null, delta: 1 | -1): void {
    if (nodeId === null || this.load === null) return;
    this.load.set(nodeId, (this.load.get(nodeId) ?? 0) + delta);
  }

  /** The row an INSERT of a new seat writes, as `SELECT *` would return it. */
  private newSeat(
    id: number,
    req: AllocateRequest,
    now: number,
    s: { nodeId: number | null; region: string | null; streamBase: string | null; status: 'provisioning' | 'queued'; lastClientSeen: number | null },
  ): SeatRow {
    return {
      id, user_id: req.userId, game_id: req.gameId, node_id: s.nodeId, region: s.region, stream_base: s.streamBase, status: s.status,
      end_reason: null, idem_key: req.idempotencyKey, created_at: now, updated_at: now, ended_at: null, last_node_seen: null, last_client_seen: s.lastClientSeen,
    };
  }

  private newId(orgId: number): number {
    // Random 53-bit ids (the launcher reads `id` as a number) whose low bits are the org's tag;
    // a collision with a seat this object still holds is re-drawn (D1's primary key would refuse a
    // collision with older history).
    for (;;) {
      const id = playSessionIdForOrg(orgId, randomSafeInteger());
      if (!this.row(id)) return id;
    }
  }

  /** `node_seen` as a map, read from storage once per instance (or after a rollback). */
  private seenMap(): Map<number, number> {
    if (this.nodeSeen === null) {
      this.nodeSeen = new Map();
      for (const r of this.sql.exec<{ node_id: number; seen_at: number }>(`SELECT node_id, seen_at FROM node_seen`)) this.nodeSeen.set(r.node_id, r.seen_at);
    }
    return this.nodeSeen;
  }

  private seenAt(nodeId: number): number | undefined {
    return this.seenMap().get(nodeId);
  }

  private markNodeSeen(nodeId: number, at: number): void {
    if (!Number.isFinite(at)) return;
    this.nodeSeen = this.seenMap();
    const known = this.nodeSeen.get(nodeId);
    if (known !== undefined && known >= at) return;
    this.nodeSeen.set(nodeId, at);
    this.sql.exec(
      `INSERT INTO node_seen (node_id, seen_at) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET seen_at = MAX(seen_at, excluded.seen_at)`,
      nodeId, at,
    );
  }

  /**
   * Moves a live session to `to`; returns the new row, or null when it was already ended. A live
   * session that ends is announced (`session.ended`) unless `announce` is false (a repair that only
   * catches up with what history already says).
   */
  private transition(row: SeatRow, to: PlaySessionStatus, reason: string | null, now: number, announce = true): SeatRow | null {
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
    if (isLive(row.status) && !isLive(to)) this.adjustLoad(row.node_id, -1);
    const after = this.row(row.id)!;
    if (announce && ends && isLive(row.status)) this.event('session.ended', after);
    return after;
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
   * retry, the next reconcile (while anything is live or undelivered), or pruning. Only ever moves
   * it earlier, unless `exact` (after a delivery round: the decision's safety alarm is no longer
   * needed, and a busy org must not wake every OUTBOX_ALARM_MS for nothing).
   */
  private async arm(exact = false): Promise<void> {
    const offlineMs = nodeOfflineAfterSeconds(this.env) * 1000;
    const leaseMs = playSessionLeaseSeconds(this.env) * 1000;
    if (this.seatsDue === undefined) {
      // The one scan of every seat: at start-up and when an alarm fires; decisions keep it in step.
      this.seatsDue =
        this.sql
          .exec<{ at: number | null }>(
            `SELECT MIN(at) AS at FROM (
               SELECT MIN(MAX(s.created_at, COALESCE(s.last_node_seen, 0), COALESCE(s.last_client_seen, 0)) + ?,
                          COALESCE(ns.seen_at + ?, 9e15)) AS at
                 FROM seats s LEFT JOIN node_seen ns ON ns.node_id = s.node_id WHERE s.status IN ${LIVE}
               UNION ALL
               SELECT COALESCE(ended_at, updated_at) + ? FROM seats WHERE status NOT IN ${OPEN}
               UNION ALL
               SELECT COALESCE(last_client_seen, created_at) + ? FROM seats WHERE status = 'queued')`,
            leaseMs + 1, offlineMs + 1, IDEMPOTENCY_KEY_TTL_MS, QUEUE_KEEPALIVE_SECONDS * 1000 + 1,
          )
          .one().at ?? Infinity;
    }
    // The outbox retries and the reconcile (while anything is open or undelivered): two indexed looks.
    const { retry, open } = this.sql
      .exec<{ retry: number | null; open: number }>(
        `SELECT (SELECT MIN(next_at) FROM outbox) AS retry, EXISTS (SELECT 1 FROM seats WHERE status IN ${OPEN}) AS open`,
      )
      .one();
    const reconcileAt = retry !== null || open ? this.lastReconciled() + MIRROR_RECONCILE_MS : Infinity;
    const soonest = Math.min(this.seatsDue, retry ?? Infinity, reconcileAt);
    const next = Number.isFinite(soonest) ? soonest : null;
    if (next === null) {
      this.alarmAt = null;
      await this.ctx.storage.deleteAlarm();
      return;
    }
    // Deadlines are on the world clock (tests move it); the alarm runs on the real one.
    const wait = Math.max(next - world.now(), 0);
    const at = Math.max(Date.now() + wait, Date.now() + 1000);
    if (exact && this.alarmAt !== at) await this.setAlarm(at);
    else await this.alarmBy(at);
  }

  /** Lowers `seatsDue` to the deadlines of rows a decision just wrote (the same rules as `arm`'s scan). */
  private noteDeadlines(rows: readonly SeatRow[]): void {
    if (this.seatsDue === undefined || rows.length === 0) return;
    const offlineMs = nodeOfflineAfterSeconds(this.env) * 1000;
    const leaseMs = playSessionLeaseSeconds(this.env) * 1000;
    let due = this.seatsDue;
    for (const r of rows) {
      if (isLive(r.status)) {
        due = Math.min(due, Math.max(r.created_at, r.last_node_seen ?? 0, r.last_client_seen ?? 0) + leaseMs + 1);
        const seen = r.node_id === null ? undefined : this.seenAt(r.node_id);
        if (seen !== undefined) due = Math.min(due, seen + offlineMs + 1);
      } else if (r.status === 'queued') due = Math.min(due, (r.last_client_seen ?? r.created_at) + QUEUE_KEEPALIVE_SECONDS * 1000 + 1);
      else due = Math.min(due, (r.ended_at ?? r.updated_at) + IDEMPOTENCY_KEY_TTL_MS);
    }
    this.seatsDue = due;
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
