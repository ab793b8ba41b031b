/**
 * OrgAllocator — one per org (`env.ORG_ALLOCATOR.getByName(String(orgId))`): the strongly consistent
 * owner of the org's live play-session seats. Every seat decision (allocate, node report, delete,
 * lease reclaim) happens here, synchronously against the object's SQLite storage with no `await`
 * in between, so no interleaving request can see a half-made decision: a node never holds more
 * live sessions than its capacity and a user never more than the org's per-user limit.
 *
 * The Worker does the D1 reads (membership, ownership, which online nodes have the game) and hands
 * the candidates in; this object picks the node, reserves the seat, then mirrors the session into
 * D1 `play_sessions` (the history every other reader uses). If its storage is ever empty (first
 * use, or storage lost) it rebuilds the live seats from D1 before answering anything.
 *
 *   const r = await env.ORG_ALLOCATOR.getByName(String(orgId)).allocate({ orgId, userId, gameId, ... });
 *   if (r.ok) r.session; else r.reason; // 'no_free_seat' | 'user_limit' | 'not_installed' | 'idempotency_conflict'
 *
 * Liveness: the object remembers when each node last reported (`node_seen`) and when each session
 * was last vouched for by its node or its client. An alarm, re-armed at the next deadline, marks
 * sessions `failed` when their node went silent for NODE_OFFLINE_AFTER_SECONDS (`node_offline`) or
 * nobody touched them for SESSION_LEASE_SECONDS (`lease_expired`). Alarms are at-least-once: the
 * sweep is idempotent.
 */
import { DurableObject } from 'cloudflare:workers';
import { sql } from 'drizzle-orm';
import { db } from '../src/db/client';
import { playSessions } from '../src/db/schema';
import { randomSafeInteger, world } from '../src/world';

export type LiveStatus = 'provisioning' | 'active';
export type EndStatus = 'ended' | 'failed' | 'terminated';
export type SessionStatus = LiveStatus | EndStatus;
export type AllocationPolicy = 'spread' | 'pack';

/** An online, active (not draining) node of the org that has the game installed. */
export interface Candidate {
  nodeId: number;
  region: string | null;
  capacity: number;
  streamBaseUrl: string | null;
  /** ISO time of the node's last heartbeat (from D1). */
  lastSeen: string;
}

export interface AllocateRequest {
  orgId: number;
  userId: number;
  gameId: number;
  /** Preferred region: its nodes are tried first, then the org's others. */
  region: string | null;
  policy: AllocationPolicy;
  maxPerUser: number;
  candidates: Candidate[];
  idempotencyKey: string | null;
}

export interface SessionRecord {
  id: number;
  orgId: number;
  userId: number;
  gameId: number;
  nodeId: number | null;
  region: string | null;
  streamBaseUrl: string | null;
  status: SessionStatus;
  endReason: string | null;
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
}

export type AllocateResult =
  | { ok: true; session: SessionRecord; replayed: boolean }
  | { ok: false; reason: 'no_free_seat' | 'user_limit' | 'not_installed' | 'idempotency_conflict'; retryAfterSeconds: number };

export interface NodeReport {
  id: number;
  status: 'provisioning' | 'active' | 'ended' | 'failed';
  reason?: string | null;
}

export interface NodeHeartbeatResult {
  /** Live sessions assigned to the node: it runs these and stops anything else. */
  assignments: SessionRecord[];
  /** Per reported session: its status after the report, or `unknown` (not this node's). */
  results: Array<{ id: number; status: SessionStatus | 'unknown' }>;
}

/** A repeat of the same (user, game) request within this window returns the same live session. */
export const REPEAT_WINDOW_MS = 60_000;
/** An `Idempotency-Key` is remembered this long (ended sessions are kept this long for it). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3600_000;
/** What a refused caller is told to wait: seats free up when sessions end, not on a schedule. */
export const NO_SEAT_RETRY_AFTER_SECONDS = 30;

const LIVE = `('provisioning', 'active')`;

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

function seconds(raw: string | undefined, fallback: number): number {
  const n = Number.parseInt(raw ?? '', 10);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

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
    });
  }

  /** Liveness probe used by tests and diagnostics. */
  async ping(): Promise<string> {
    return 'ok';
  }

  // ─────────────── RPC ───────────────

  async allocate(req: AllocateRequest): Promise<AllocateResult> {
    await this.ready(req.orgId);
    const now = world.now();
    // Everything from here to the seat INSERT is synchronous: this is the critical section.
    const replay = this.findRepeat(req, now);
    if (replay === 'conflict') return { ok: false, reason: 'idempotency_conflict', retryAfterSeconds: 0 };
    if (replay) return { ok: true, session: this.record(replay, req.orgId), replayed: true };

    const mine = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM seats WHERE user_id = ? AND status IN ${LIVE}`, req.userId).one().n;
    if (mine >= req.maxPerUser) return { ok: false, reason: 'user_limit', retryAfterSeconds: NO_SEAT_RETRY_AFTER_SECONDS };
    if (req.candidates.length === 0) return { ok: false, reason: 'not_installed', retryAfterSeconds: 0 };

    for (const cand of req.candidates) this.markNodeSeen(cand.nodeId, Date.parse(cand.lastSeen));
    const node = this.pick(req);
    if (!node) return { ok: false, reason: 'no_free_seat', retryAfterSeconds: NO_SEAT_RETRY_AFTER_SECONDS };

    const id = this.newId();
    this.sql.exec(
      `INSERT INTO seats (id, user_id, game_id, node_id, region, stream_base, status, idem_key, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'provisioning', ?, ?, ?)`,
      id, req.userId, req.gameId, node.nodeId, node.region, node.streamBaseUrl, req.idempotencyKey, now, now,
    );
    const row = this.row(id)!;
    const session = this.record(row, req.orgId);
    try {
      await this.persist(req.orgId, [row]);
    } catch (e) {
      // History must not miss a live seat: without its D1 row the seat is given back.
      this.sql.exec(`DELETE FROM seats WHERE id = ?`, id);
      throw e;
    }
    await this.arm();
    return { ok: true, session, replayed: false };
  }

  /** The live view of one session, or null when this object does not know it. */
  async get(orgId: number, sessionId: number): Promise<SessionRecord | null> {
    await this.ready(orgId);
    const row = this.row(sessionId);
    return row ? this.record(row, orgId) : null;
  }

  /** The client vouches for the session (its owner looked at it): renews the lease. */
  async touch(orgId: number, sessionId: number): Promise<SessionRecord | null> {
    await this.ready(orgId);
    this.sql.exec(`UPDATE seats SET last_client_seen = ? WHERE id = ? AND status IN ${LIVE}`, world.now(), sessionId);
    const row = this.row(sessionId);
    return row ? this.record(row, orgId) : null;
  }

  /** Ends a session at its owner's or an admin's request; frees the seat. Idempotent. */
  async terminate(orgId: number, sessionId: number): Promise<SessionRecord | null> {
    await this.ready(orgId);
    const row = this.row(sessionId);
    if (!row) return null;
    const changed = this.transition(row, 'terminated', 'deleted', world.now());
    if (changed) await this.persist(orgId, [changed]);
    await this.arm();
    return this.record(changed ?? row, orgId);
  }

  /** A node's heartbeat: it is alive, and here is what it says about its sessions. */
  async nodeHeartbeat(orgId: number, nodeId: number, reports: NodeReport[]): Promise<NodeHeartbeatResult> {
    await this.ready(orgId);
    const now = world.now();
    this.markNodeSeen(nodeId, now);
    const changed: SeatRow[] = [];
    const results: NodeHeartbeatResult['results'] = [];
    for (const rep of reports) {
      const row = this.row(rep.id);
      if (!row || row.node_id !== nodeId) {
        results.push({ id: rep.id, status: 'unknown' });
        continue;
      }
      let after: SeatRow | null = null;
      if (rep.status === 'ended' || rep.status === 'failed') {
        after = this.transition(row, rep.status, rep.reason ?? (rep.status === 'ended' ? 'node_ended' : 'node_failed'), now);
      } else if (row.status === 'provisioning' || row.status === 'active') {
        this.sql.exec(`UPDATE seats SET last_node_seen = ? WHERE id = ?`, now, row.id);
        if (rep.status === 'active' && row.status === 'provisioning') after = this.transition(row, 'active', null, now);
      }
      if (after) changed.push(after);
      results.push({ id: rep.id, status: (after ?? this.row(rep.id)!).status as SessionStatus });
    }
    const assignments = this.sql
      .exec<SeatRow>(`SELECT * FROM seats WHERE node_id = ? AND status IN ${LIVE} ORDER BY created_at, id`, nodeId)
      .toArray()
      .map((r) => this.record(r, orgId));
    if (changed.length) await this.persist(orgId, changed);
    await this.arm();
    return { assignments, results };
  }

  /** The live sessions assigned to a node (read-only: not a sign of life). */
  async nodeAssignments(orgId: number, nodeId: number): Promise<SessionRecord[]> {
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
    const rows = this.sql.exec<SeatRow>(`SELECT * FROM seats WHERE node_id = ? AND status IN ${LIVE}`, nodeId).toArray();
    const changed = rows.map((r) => this.transition(r, 'failed', reason, now)).filter((r): r is SeatRow => r !== null);
    this.sql.exec(`DELETE FROM node_seen WHERE node_id = ?`, nodeId);
    if (changed.length) await this.persist(orgId, changed);
    await this.arm();
    return changed.length;
  }

  /** Reclaims expired leases and sessions of silent nodes now (the alarm does the same). */
  async sweep(orgId: number): Promise<number> {
    await this.ready(orgId);
    return this.reclaim(orgId);
  }

  /** Live seats per node, for diagnostics and tests. */
  async load(orgId: number): Promise<Record<string, number>> {
    await this.ready(orgId);
    const out: Record<string, number> = {};
    for (const r of this.sql.exec<{ node_id: number; n: number }>(`SELECT node_id, COUNT(*) AS n FROM seats WHERE status IN ${LIVE} GROUP BY node_id`)) {
      out[String(r.node_id)] = r.n;
    }
    return out;
  }

  override async alarm(): Promise<void> {
    const org = this.orgId();
    if (org === null) return;
    await this.reclaim(org);
  }

  // ─────────────── internals ───────────────

  private orgId(): number | null {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'org_id'`).toArray()[0];
    return row ? Number(row.value) : null;
  }

  /**
   * Storage that has never been built (a fresh object, or one whose storage was lost) is rebuilt
   * from D1's live `play_sessions` before any decision, with every other request held back.
   */
  private async ready(orgId: number): Promise<void> {
    if (this.orgId() !== null) return;
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.orgId() !== null) return;
      const rows = await db(this.env).all<{
        id: number; user_id: number; game_id: number; node_id: number | null; region: string | null; status: string;
        idempotency_key: string | null; created_at: string; updated_at: string; stream_base_url: string | null;
      }>(sql`SELECT s.id, s.user_id, s.game_id, s.node_id, s.region, s.status, s.idempotency_key, s.created_at, s.updated_at,
                    n.stream_base_url
               FROM play_sessions s LEFT JOIN cluster_nodes n ON n.id = s.node_id
              WHERE s.org_id = ${orgId} AND s.status IN ('provisioning', 'active')`);
      // Rebuilt sessions get a fresh grace period: their last heartbeats were only in memory.
      const now = world.now();
      for (const r of rows) {
        this.sql.exec(
          `INSERT OR IGNORE INTO seats (id, user_id, game_id, node_id, region, stream_base, status, idem_key, created_at, updated_at, last_node_seen)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          r.id, r.user_id, r.game_id, r.node_id, r.region, r.stream_base_url, r.status, r.idempotency_key,
          Date.parse(r.created_at), Date.parse(r.updated_at), now,
        );
        if (r.node_id !== null) this.markNodeSeen(r.node_id, now);
      }
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('org_id', ?), ('built_at', ?)`, String(orgId), iso(now));
      await this.arm();
    });
  }

  private row(id: number): SeatRow | null {
    return this.sql.exec<SeatRow>(`SELECT * FROM seats WHERE id = ?`, id).toArray()[0] ?? null;
  }

  private record(r: SeatRow, orgId: number): SessionRecord {
    return {
      id: r.id,
      orgId,
      userId: r.user_id,
      gameId: r.game_id,
      nodeId: r.node_id,
      region: r.region,
      streamBaseUrl: r.stream_base,
      status: r.status as SessionStatus,
      endReason: r.end_reason,
      idempotencyKey: r.idem_key,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
      endedAt: r.ended_at === null ? null : iso(r.ended_at),
    };
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
        .exec<SeatRow>(`SELECT * FROM seats WHERE user_id = ? AND game_id = ? AND status IN ${LIVE} AND created_at >= ? ORDER BY created_at DESC LIMIT 1`,
          req.userId, req.gameId, now - REPEAT_WINDOW_MS)
        .toArray()[0] ?? null
    );
  }

  /**
   * Preferred region first (if any of its nodes has a free seat), then every other candidate.
   * spread: lowest load ratio, then fewest sessions; pack: most sessions that still fit. Node id
   * breaks ties, so the choice is deterministic.
   */
  private pick(req: AllocateRequest): Candidate | null {
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
  private transition(row: SeatRow, to: SessionStatus, reason: string | null, now: number): SeatRow | null {
    if (row.status !== 'provisioning' && row.status !== 'active') return null;
    if (row.status === to) return null;
    const ends = to === 'ended' || to === 'failed' || to === 'terminated';
    this.sql.exec(
      `UPDATE seats SET status = ?, end_reason = ?, updated_at = ?, ended_at = ?, last_node_seen = COALESCE(last_node_seen, ?) WHERE id = ?`,
      to, ends ? reason : null, now, ends ? now : null, now, row.id,
    );
    return this.row(row.id);
  }

  private reclaim(orgId: number): Promise<number> {
    const now = world.now();
    const offlineMs = seconds(this.env.NODE_OFFLINE_AFTER_SECONDS, 30) * 1000;
    const leaseMs = seconds(this.env.SESSION_LEASE_SECONDS, 120) * 1000;
    const rows = this.sql
      .exec<SeatRow & { node_seen: number | null }>(
        `SELECT s.*, ns.seen_at AS node_seen FROM seats s LEFT JOIN node_seen ns ON ns.node_id = s.node_id WHERE s.status IN ${LIVE}`,
      )
      .toArray();
    const changed: SeatRow[] = [];
    for (const r of rows) {
      const vouched = Math.max(r.created_at, r.last_node_seen ?? 0, r.last_client_seen ?? 0);
      let reason: string | null = null;
      if (r.node_seen !== null && now - r.node_seen > offlineMs) reason = 'node_offline';
      else if (now - vouched > leaseMs) reason = 'lease_expired';
      if (reason) {
        const after = this.transition(r, 'failed', reason, now);
        if (after) changed.push(after);
      }
    }
    this.sql.exec(`DELETE FROM seats WHERE status NOT IN ${LIVE} AND COALESCE(ended_at, updated_at) < ?`, now - IDEMPOTENCY_KEY_TTL_MS);
    const finish = async (): Promise<number> => {
      if (changed.length) await this.persist(orgId, changed);
      await this.arm();
      return changed.length;
    };
    return finish();
  }

  /** Re-arms the alarm at the next deadline: a node going silent, a lease running out, or pruning. */
  private async arm(): Promise<void> {
    const offlineMs = seconds(this.env.NODE_OFFLINE_AFTER_SECONDS, 30) * 1000;
    const leaseMs = seconds(this.env.SESSION_LEASE_SECONDS, 120) * 1000;
    const next = this.sql
      .exec<{ at: number | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(MAX(s.created_at, COALESCE(s.last_node_seen, 0), COALESCE(s.last_client_seen, 0)) + ?,
                      COALESCE(ns.seen_at + ?, 9e15)) AS at
             FROM seats s LEFT JOIN node_seen ns ON ns.node_id = s.node_id WHERE s.status IN ${LIVE}
           UNION ALL
           SELECT COALESCE(ended_at, updated_at) + ? FROM seats WHERE status NOT IN ${LIVE})`,
        leaseMs + 1, offlineMs + 1, IDEMPOTENCY_KEY_TTL_MS,
      )
      .one().at;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1000));
  }

  /** Mirrors sessions into D1 in one batch; a row that already ended there is never revived. */
  private async persist(orgId: number, rows: SeatRow[]): Promise<void> {
    const d = db(this.env);
    const stmts = rows.map((r) =>
      d
        .insert(playSessions)
        .values({
          id: r.id,
          orgId,
          userId: r.user_id,
          gameId: r.game_id,
          nodeId: r.node_id,
          region: r.region,
          status: r.status,
          endReason: r.end_reason,
          idempotencyKey: r.idem_key,
          lastClientSeen: r.last_client_seen === null ? null : iso(r.last_client_seen),
          lastNodeSeen: r.last_node_seen === null ? null : iso(r.last_node_seen),
          createdAt: iso(r.created_at),
          updatedAt: iso(r.updated_at),
          endedAt: r.ended_at === null ? null : iso(r.ended_at),
        })
        .onConflictDoUpdate({
          target: playSessions.id,
          set: {
            status: sql`excluded.status`,
            endReason: sql`excluded.end_reason`,
            lastClientSeen: sql`excluded.last_client_seen`,
            lastNodeSeen: sql`excluded.last_node_seen`,
            updatedAt: sql`excluded.updated_at`,
            endedAt: sql`excluded.ended_at`,
          },
          setWhere: sql`${playSessions.status} IN ('provisioning', 'active')`,
        }),
    );
    const [first, ...rest] = stmts;
    if (first) await d.batch([first, ...rest]);
  }
}
