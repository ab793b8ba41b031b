/**
 * The play-session domain model: statuses, the record every reader shares (routers, node-agent
 * routes, the OrgAllocator), the one mapping from a stored row to that record, the shapes of the
 * allocator's RPC, and the typed way to reach an org's allocator. The OrgAllocator Durable Object
 * imports these; nothing here imports the object's code (only its type, for the stub).
 *
 *   const live = await allocatorOf(env, orgId).get(orgId, playSessionId);   // PlaySessionRecord | null
 *   if (live && isLive(live.status)) ...
 */
import type { OrgAllocator } from '../../../durable-objects/org-allocator';

export const LIVE_STATUSES = ['provisioning', 'active'] as const;
export const END_STATUSES = ['ended', 'failed', 'terminated'] as const;
/** Not history yet: a queued entry or a live seat. Anything else is final. */
export const OPEN_STATUSES = ['queued', ...LIVE_STATUSES] as const;
export const PLAY_SESSION_STATUSES = [...OPEN_STATUSES, ...END_STATUSES] as const;

export type LiveStatus = (typeof LIVE_STATUSES)[number];
export type EndStatus = (typeof END_STATUSES)[number];
/** `queued`: waiting in the org's FIFO for a seat (no node yet); see `queue` on the record. */
export type PlaySessionStatus = (typeof PLAY_SESSION_STATUSES)[number];
export type AllocationPolicy = 'spread' | 'pack';

export const isLive = (s: string): s is LiveStatus => (LIVE_STATUSES as readonly string[]).includes(s);
export const isOpen = (s: string): s is (typeof OPEN_STATUSES)[number] => (OPEN_STATUSES as readonly string[]).includes(s);
export const isEnd = (s: string): s is EndStatus => (END_STATUSES as readonly string[]).includes(s);

/** Where a queued play session stands; null for any other status. */
export interface QueueState {
  position: number;
  etaSeconds: number;
  pollAfterSeconds: number;
  keepaliveSeconds: number;
}

export interface PlaySessionRecord {
  id: number;
  orgId: number;
  userId: number;
  gameId: number;
  nodeId: number | null;
  region: string | null;
  streamBaseUrl: string | null;
  status: PlaySessionStatus;
  endReason: string | null;
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
  queue: QueueState | null;
}

/** A stored play session (D1's `play_sessions` joined with its node, or an allocator seat), times as ISO strings. */
export type PlaySessionRow = Omit<PlaySessionRecord, 'status' | 'queue'> & { status: string };

/** The one row mapping: D1 history and allocator seats both become records through here. */
export function playSessionFromRow(r: PlaySessionRow, queue: QueueState | null = null): PlaySessionRecord {
  return {
    id: r.id,
    orgId: r.orgId,
    userId: r.userId,
    gameId: r.gameId,
    nodeId: r.nodeId,
    region: r.region,
    streamBaseUrl: r.streamBaseUrl,
    status: r.status as PlaySessionStatus,
    endReason: r.endReason,
    idempotencyKey: r.idempotencyKey,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    endedAt: r.endedAt,
    // Queue positions live in the allocator only; D1 knows the status.
    queue: r.status === 'queued' ? queue : null,
  };
}

/** The fields every API view of a play session starts with (the player's view, a node's assignment). */
export function playSessionCore(s: PlaySessionRecord) {
  return { id: s.id, org_id: s.orgId, user_id: s.userId, game_id: s.gameId, status: s.status, created_at: s.createdAt, updated_at: s.updatedAt };
}

// ─────────────── the allocator's RPC shapes ───────────────

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
  /** Wait in the org's queue when no seat is free (instead of `no_free_seat`). */
  queue?: boolean;
  /** Only the preferred region (the Worker already filtered `candidates`; kept for queue refreshes). */
  strictRegion?: boolean;
}

/**
 * `POST /sessions` as the allocator takes it once the caller check (and an acting admin's role) passed: the allocator supplies
 * the facts itself (src/console/play/facts.ts, cached), checks them, then decides as `allocate`.
 */
export interface PlayRequest {
  orgId: number;
  userId: number;
  gameId: number;
  region: string | null;
  strictRegion: boolean;
  idempotencyKey: string | null;
  queue: boolean;
}

export type PlayResult =
  | (AllocateResult & { /** `not_installed`: another region has it (for strict_region). */ installedElsewhere?: boolean })
  /** A membership or entitlement check failed: the Worker turns these facts into the same refusal as before. */
  | { ok: false; reason: 'refused'; ctx: PlayContextFacts | null };

/** The play context's facts as the allocator hands them back on a refusal. */
export interface PlayContextFacts {
  policy: AllocationPolicy;
  maxPerUser: number;
  role: string | null;
  gameExists: boolean;
  owned: boolean;
}

/** One waiter as the org admin's queue view shows it. */
export interface QueueEntry {
  id: number;
  userId: number;
  gameId: number;
  position: number;
  etaSeconds: number;
  enqueuedAt: string;
  lastPollAt: string | null;
}

export type AllocateResult =
  | { ok: true; playSession: PlaySessionRecord; replayed: boolean }
  | {
      ok: false;
      reason: 'no_free_seat' | 'user_limit' | 'not_installed' | 'idempotency_conflict' | 'already_queued';
      retryAfterSeconds: number;
      /** `already_queued`: the user's queued play session (one entry per user). */
      playSessionId?: number;
    };

/** What a node says about one of its play sessions. */
export interface NodeReport {
  id: number;
  status: 'provisioning' | 'active' | 'ended' | 'failed';
  reason?: string | null;
}

export interface NodeHeartbeatResult {
  /** Live play sessions assigned to the node: it runs these and stops anything else. */
  assignments: PlaySessionRecord[];
  /** Per reported play session: its status after the report, or `unknown` (not this node's). */
  results: Array<{ id: number; status: PlaySessionStatus | 'unknown' }>;
}

/**
 * Play-session ids are random, but their low 10 bits are their org's tag (org id mod 1024), so a
 * reader that misses a just-granted session in D1 (the allocator's mirror lags by a few ms) can
 * find the allocator to ask from the id and the caller's memberships alone. 43 random bits remain:
 * ids stay unguessable. Ids made before the tag existed are in D1 and never need the fallback.
 */
export const PLAY_SESSION_ID_TAGS = 1024;
export const playSessionIdTag = (idOrOrgId: number): number => idOrOrgId % PLAY_SESSION_ID_TAGS;

/** `random` (a positive safe integer) with its low bits replaced by the org's tag: still < 2^53, never 0. */
export function playSessionIdForOrg(orgId: number, random: number): number {
  const id = Math.floor(random / PLAY_SESSION_ID_TAGS) * PLAY_SESSION_ID_TAGS + playSessionIdTag(orgId);
  return id > 0 ? id : PLAY_SESSION_ID_TAGS;
}

/** The org's allocator, typed (one object per org, addressed by the org id). */
export function allocatorOf(env: Pick<Env, 'ORG_ALLOCATOR'>, orgId: number): DurableObjectStub<OrgAllocator> {
  return env.ORG_ALLOCATOR.getByName(String(orgId));
}

/** `SESSION_LEASE_SECONDS` (default 120): a play session nobody vouched for this long is reclaimed. */
export function playSessionLeaseSeconds(env: Pick<Env, 'SESSION_LEASE_SECONDS'>): number {
  const n = Number.parseInt(env.SESSION_LEASE_SECONDS, 10);
  return Number.isInteger(n) && n > 0 ? n : 120;
}
