/**
 * The D1 side of the OrgAllocator's mirror: every statement the allocator runs against
 * `play_sessions`, in one place (the allocator makes one `db(env)` per call and passes it in). The allocator is the authority for seats; these writes are
 * idempotent so its outbox can deliver the same row any number of times (an ended row is never
 * revived), and the reads feed its two-way reconcile and its rebuild after storage loss.
 *
 *   await writeMirror(d, orgId, [{ row, repair: 'retried' }], nowIso);  // upsert, one atomic batch
 *   const live = await mirrorLiveRows(d, orgId);                        // what D1 believes is live
 *   await endOrphans(d, orgId, [id], nowIso);                           // live in D1, unknown to the allocator
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { chunk, type Db } from '../../db/client';
import { prepared, type Slots } from '../../db/prepared';
import { clusterNodes, games, orgs, playSessions, users } from '../../db/schema';
import { playEventEndpointsQuery, type PlayEventEndpoints } from '../../notifications/play-transitions';
import { OPEN_STATUSES } from './model';

/** The allocator's view of one play session, as it is delivered to D1 (times in ms). */
export interface MirrorRow {
  id: number;
  userId: number;
  gameId: number;
  nodeId: number | null;
  region: string | null;
  status: string;
  endReason: string | null;
  idemKey: string | null;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
  lastNodeSeen: number | null;
  lastClientSeen: number | null;
}

/** Why a delivery is a repair (shown in the org's session list); null on the decision path. */
export type MirrorRepair = 'retried' | 'reconciled' | 'orphan_ended';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** One mirrored row's values as D1 stores them (every column the upsert writes, none optional). */
type UpsertValues = Required<typeof playSessions.$inferInsert>;

function upsert(d: Db, orgId: number, row: MirrorRow, repair: MirrorRepair | null, nowIso: string) {
  return upsertShape(d, {
    id: row.id,
    orgId,
    userId: row.userId,
    gameId: row.gameId,
    nodeId: row.nodeId,
    region: row.region,
    status: row.status,
    endReason: row.endReason,
    idempotencyKey: row.idemKey,
    lastClientSeen: iso(row.lastClientSeen),
    lastNodeSeen: iso(row.lastNodeSeen),
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
    endedAt: iso(row.endedAt),
    mirrorRepair: repair,
    mirrorRepairedAt: repair ? nowIso : null,
  });
}

// Built once per isolate (src/db/prepared.ts): the allocator writes one per decision.
const upsertShape = prepared((d: Db, $: Slots<UpsertValues>) =>
  d
    .insert(playSessions)
    .values({
      id: $.id,
      orgId: $.orgId,
      userId: $.userId,
      gameId: $.gameId,
      // A node deleted meanwhile must not make the row undeliverable (FK): it is mirrored as null
      // (as is a null node id: the subquery finds no row).
      nodeId: sql`(SELECT ${clusterNodes.id} FROM ${clusterNodes} WHERE ${clusterNodes.id} = ${$.nodeId})`,
      region: $.region,
      status: $.status,
      endReason: $.endReason,
      idempotencyKey: $.idempotencyKey,
      lastClientSeen: $.lastClientSeen,
      lastNodeSeen: $.lastNodeSeen,
      createdAt: $.createdAt,
      updatedAt: $.updatedAt,
      endedAt: $.endedAt,
      mirrorRepair: $.mirrorRepair,
      mirrorRepairedAt: $.mirrorRepairedAt,
    })
    .onConflictDoUpdate({
      target: playSessions.id,
      set: {
        nodeId: sql`excluded.node_id`,
        region: sql`excluded.region`,
        status: sql`excluded.status`,
        endReason: sql`excluded.end_reason`,
        lastClientSeen: sql`excluded.last_client_seen`,
        lastNodeSeen: sql`excluded.last_node_seen`,
        updatedAt: sql`excluded.updated_at`,
        endedAt: sql`excluded.ended_at`,
        mirrorRepair: sql`COALESCE(excluded.mirror_repair, ${playSessions.mirrorRepair})`,
        mirrorRepairedAt: sql`COALESCE(excluded.mirror_repaired_at, ${playSessions.mirrorRepairedAt})`,
      },
      setWhere: inArray(playSessions.status, [...OPEN_STATUSES]),
    }),
);

/** Delivers rows in one atomic batch (throws if D1 refuses any of them). */
export async function writeMirror(
  d: Db,
  orgId: number,
  items: Array<{ row: MirrorRow; repair: MirrorRepair | null }>,
  nowIso: string,
  withEndpoints = false,
): Promise<PlayEventEndpoints | undefined> {
  const writes = items.map((i) => upsert(d, orgId, i.row, i.repair, nowIso));
  const [first, ...rest] = writes;
  if (!first) return undefined;
  if (!withEndpoints) {
    await d.batch([first, ...rest]);
    return undefined;
  }
  // The webhook audience of the events these rows carry, read in the same D1 call (issue 17).
  const results = await d.batch([playEventEndpointsQuery(d, orgId), first, ...rest]);
  return results[0] as PlayEventEndpoints;
}

/** Whether the user, game and org of a row still exist (a row whose owner is gone cannot be mirrored). */
export async function referentsExist(d: Db, orgId: number, userId: number, gameId: number): Promise<boolean> {
  const [u, g, o] = await d.batch([
    d.select({ id: users.id }).from(users).where(eq(users.id, userId)),
    d.select({ id: games.id }).from(games).where(eq(games.id, gameId)),
    d.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)),
  ]);
  return u.length > 0 && g.length > 0 && o.length > 0;
}

/**
 * The org's rows D1 shows as open (queued or live), and the status of any `alsoIds` D1 does not
 * show open (≤ 90 per statement). The allocator passes every seat it holds open, and nearly all of
 * them are in the first read: only the rest (usually none) cost the second, so a busy org's
 * reconcile is one small read, not thousands of bound ids.
 */
export async function mirrorLiveRows(
  d: Db,
  orgId: number,
  alsoIds: number[] = [],
): Promise<Array<{ id: number; status: string; endReason: string | null }>> {
  const cols = { id: playSessions.id, status: playSessions.status, endReason: playSessions.endReason };
  const open = await d.select(cols).from(playSessions).where(and(eq(playSessions.orgId, orgId), inArray(playSessions.status, [...OPEN_STATUSES])));
  const byId = new Map<number, { id: number; status: string; endReason: string | null }>(open.map((r) => [r.id, r]));
  const rest = alsoIds.filter((id) => !byId.has(id));
  const [first, ...more] = chunk(rest, 90).map((ids) => d.select(cols).from(playSessions).where(and(eq(playSessions.orgId, orgId), inArray(playSessions.id, ids))));
  if (first) for (const rows of await d.batch([first, ...more])) for (const r of rows) byId.set(r.id, r);
  return [...byId.values()];
}

/** Ends rows D1 shows open but the allocator does not hold (conditional: never touches history). */
export async function endOrphans(d: Db, orgId: number, ids: number[], nowIso: string): Promise<void> {
  const [first, ...rest] = chunk(ids, 90).map((part) =>
    d
      .update(playSessions)
      .set({ status: 'failed', endReason: 'not_allocated', endedAt: nowIso, updatedAt: nowIso, mirrorRepair: 'orphan_ended', mirrorRepairedAt: nowIso })
      .where(and(eq(playSessions.orgId, orgId), inArray(playSessions.id, part), inArray(playSessions.status, [...OPEN_STATUSES]))),
  );
  if (first) await d.batch([first, ...rest]);
}

/** What the allocator rebuilds from when its storage is empty: the org's open rows with their node's stream base. */
export async function mirrorRebuildRows(d: Db, orgId: number) {
  return d
    .select({
      id: playSessions.id,
      userId: playSessions.userId,
      gameId: playSessions.gameId,
      nodeId: playSessions.nodeId,
      region: playSessions.region,
      status: playSessions.status,
      idemKey: playSessions.idempotencyKey,
      createdAt: playSessions.createdAt,
      updatedAt: playSessions.updatedAt,
      streamBase: clusterNodes.streamBaseUrl,
    })
    .from(playSessions)
    .leftJoin(clusterNodes, eq(clusterNodes.id, playSessions.nodeId))
    .where(and(eq(playSessions.orgId, orgId), inArray(playSessions.status, [...OPEN_STATUSES])));
}
