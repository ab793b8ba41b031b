/**
 * Every D1 statement of cluster nodes: the admin's node management (list, register, update,
 * delete, installs), the node-agent protocol (token lookup and rollover, enrolment codes, the
 * heartbeat's install batch, the catalog lookup by store id). Drizzle column references, camelCase
 * rows; each function takes the request's drizzle client first.
 *
 *   const d = db(c.env);
 *   const [node] = await listNodes(d, orgId, nodeOnlineCutoff(c.env), nodeId);
 *   await issueEnrolmentCode(d, { orgId, nodeId, createdBy, codeHash, expiresAt });
 *   const r = await redeemEnrolmentCode(d, { codeHash, tokenHash, now, orgId });   // { ok: false, reason } when unknown, used or expired
 *   const ids = await gamesByExternalIds(d, [{ platform: 'steam', external_id: '730' }]);
 */
import { and, asc, count, eq, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { changes, type Db } from '../../db/client';
import { clusterNodes, downloadedGames, gameExternalIds, games, nodeEnrolmentCodes } from '../../db/schema';
import { livePlaySessionsPerNode } from '../play/queries';
import { clusterNodeFromRow, isOnline, type ClusterNode, type ClusterNodeRow } from './model';

// ─────────────── admin: node management ───────────────

/** A node as its org's admins see it: the model plus liveness, token state and counts. */
export interface NodeListing extends ClusterNode {
  online: boolean;
  lastSeen: string | null;
  agentStatus: string | null;
  hasToken: boolean;
  tokenRolloverPending: boolean;
  livePlaySessions: number;
  installs: number;
  createdAt: string;
  updatedAt: string;
}

const nodeColumns = {
  id: clusterNodes.id,
  orgId: clusterNodes.orgId,
  name: clusterNodes.name,
  region: clusterNodes.region,
  capacity: clusterNodes.capacity,
  status: clusterNodes.status,
  streamBaseUrl: clusterNodes.streamBaseUrl,
};

/** Nodes of an org (or one of them) with their live-play-session and install counts: one statement. */
export async function listNodes(d: Db, orgId: number, onlineCutoff: string, nodeId?: number): Promise<NodeListing[]> {
  const rows = await d
    .select({
      ...nodeColumns,
      lastSeen: clusterNodes.lastSeen,
      agentStatus: clusterNodes.agentStatus,
      hasToken: sql<number>`${clusterNodes.tokenHash} IS NOT NULL`,
      tokenRolloverPending: sql<number>`${clusterNodes.tokenRolloverAt} IS NOT NULL`,
      livePlaySessions: livePlaySessionsPerNode(d),
      installs: sql<number>`(${d.select({ n: count() }).from(downloadedGames).where(eq(downloadedGames.nodeId, clusterNodes.id))})`,
      createdAt: clusterNodes.createdAt,
      updatedAt: clusterNodes.updatedAt,
    })
    .from(clusterNodes)
    .where(and(eq(clusterNodes.orgId, orgId), nodeId === undefined ? undefined : eq(clusterNodes.id, nodeId)))
    .orderBy(asc(clusterNodes.name));
  return rows.map((r) => ({
    ...clusterNodeFromRow(r),
    online: isOnline(r.lastSeen, onlineCutoff),
    lastSeen: r.lastSeen,
    agentStatus: r.agentStatus,
    hasToken: Boolean(r.hasToken),
    tokenRolloverPending: Boolean(r.tokenRolloverPending),
    livePlaySessions: Number(r.livePlaySessions),
    installs: Number(r.installs),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }));
}

/** Registers a node; null when the org already has a node of that name. */
export async function insertNode(
  d: Db,
  n: { orgId: number; name: string; region: string; capacity: number; streamBaseUrl: string; tokenHash: string; now: string },
): Promise<number | null> {
  const row = await d
    .insert(clusterNodes)
    .values({ orgId: n.orgId, name: n.name, region: n.region, capacity: n.capacity, status: 'active', streamBaseUrl: n.streamBaseUrl, tokenHash: n.tokenHash, createdAt: n.now, updatedAt: n.now })
    .onConflictDoNothing({ target: [clusterNodes.orgId, clusterNodes.name] })
    .returning({ id: clusterNodes.id })
    .get();
  return row?.id ?? null;
}

export type NodePatch = Partial<Pick<typeof clusterNodes.$inferInsert, 'name' | 'region' | 'capacity' | 'streamBaseUrl' | 'status' | 'tokenHash' | 'previousTokenHash' | 'tokenRolloverAt'>>;

/** Sets columns of a node of the org; false when it is not one. A taken name throws (unique index). */
export async function updateNode(d: Db, orgId: number, nodeId: number, patch: NodePatch, now: string): Promise<boolean> {
  const r = await d
    .update(clusterNodes)
    .set({ ...patch, updatedAt: now })
    .where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.orgId, orgId)))
    .run();
  return changes(r) === 1;
}

export async function deleteNode(d: Db, orgId: number, nodeId: number): Promise<void> {
  await d.delete(clusterNodes).where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.orgId, orgId))).run();
}

/** The games installed on a node, as its agent last reported them, by game name. */
export async function nodeInstalls(d: Db, orgId: number, nodeId: number) {
  const rows = await d
    .select({
      gameId: downloadedGames.gameId,
      gameName: games.name,
      installPath: downloadedGames.installPath,
      launcher: downloadedGames.launcher,
      executable: downloadedGames.executable,
      proofJson: downloadedGames.proofJson,
      lastSeen: downloadedGames.lastSeen,
    })
    .from(downloadedGames)
    .innerJoin(games, eq(games.id, downloadedGames.gameId))
    .where(and(eq(downloadedGames.orgId, orgId), eq(downloadedGames.nodeId, nodeId)))
    .orderBy(asc(games.name), asc(downloadedGames.gameId));
  return rows.map(({ proofJson, ...r }) => ({ ...r, proof: proofJson ? (JSON.parse(proofJson) as Record<string, unknown>) : null }));
}

// ─────────────── agent: heartbeat ───────────────

export interface ReportedInstall {
  game_id: number;
  install_path: string;
  launcher: string | null;
  executable: string | null;
  proof: unknown;
}

/** Which of these game ids the catalog knows: one statement, one parameter (json_each), whatever the count. */
export async function knownGameIds(d: Db, ids: number[]): Promise<Set<number>> {
  const rows = await d
    .select({ id: games.id })
    .from(games)
    .where(sql`${games.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
  return new Set(rows.map((r) => r.id));
}

/**
 * A heartbeat in one atomic batch: the node is seen, its install set becomes exactly `installs`
 * (upsert what is reported for games the catalog knows, delete what is not reported). Four bound
 * parameters whatever the number of installs: the set travels as one JSON parameter (json_each),
 * which drizzle's select builder cannot read from, hence the `sql` SELECT (its values in the
 * table's column order, `id` NULL so SQLite assigns it).
 */
export async function recordHeartbeat(
  d: Db,
  node: { id: number; orgId: number },
  agentStatus: string | null,
  installs: ReportedInstall[],
  now: string,
): Promise<void> {
  const payload = JSON.stringify(installs);
  const dg = downloadedGames;
  // The JSON paths are this module's own constant keys, so they are inlined rather than bound.
  const field = (name: keyof ReportedInstall) => sql`json_extract(j.value, ${sql.raw(`'$.${name}'`)})`;
  await d.batch([
    d.update(clusterNodes).set({ lastSeen: now, agentStatus }).where(eq(clusterNodes.id, node.id)),
    d
      .insert(dg)
      .select(
        sql`SELECT NULL, ${node.orgId}, ${node.id}, ${field('game_id')}, ${field('install_path')}, ${field('launcher')}, ${field('executable')}, ${field('proof')}, ${now}
              FROM json_each(${payload}) j JOIN ${games} ON ${games.id} = ${field('game_id')}
             WHERE true`,
      )
      .onConflictDoUpdate({
        target: [dg.orgId, dg.nodeId, dg.gameId],
        set: {
          installPath: sql`excluded.install_path`,
          launcher: sql`excluded.launcher`,
          executable: sql`excluded.executable`,
          proofJson: sql`excluded.proof_json`,
          lastSeen: sql`excluded.last_seen`,
        },
      }),
    d.delete(dg).where(and(eq(dg.nodeId, node.id), sql`${dg.gameId} NOT IN (SELECT json_extract(value, '$.game_id') FROM json_each(${payload}))`)),
  ]);
}

// ─────────────── agent: credentials ───────────────

export interface NodeAuthRow extends ClusterNodeRow {
  tokenHash: string | null;
  previousTokenHash: string | null;
  tokenRolloverAt: string | null;
}

/** The node whose current or (during a rollover) previous token hashes to `hash`. */
export function nodeByTokenHash(d: Db, hash: string): Promise<NodeAuthRow | undefined> {
  return d
    .select({
      ...nodeColumns,
      tokenHash: clusterNodes.tokenHash,
      previousTokenHash: clusterNodes.previousTokenHash,
      tokenRolloverAt: clusterNodes.tokenRolloverAt,
    })
    .from(clusterNodes)
    .where(or(eq(clusterNodes.tokenHash, hash), eq(clusterNodes.previousTokenHash, hash)))
    .get();
}

/**
 * Hands the agent a new token. From the current token (an admin asked for a rollover): the current
 * hash becomes the previous one. From the previous token (the agent never received or stored the
 * last new token): only the current hash is replaced. Each is conditional on the hash the agent
 * presented, so two concurrent heartbeats cannot both hand out a token. Returns whether it changed.
 */
export async function rollNodeToken(d: Db, nodeId: number, presented: string, via: 'current' | 'previous', newHash: string, now: string): Promise<boolean> {
  const r =
    via === 'current'
      ? await d
          .update(clusterNodes)
          .set({ previousTokenHash: clusterNodes.tokenHash, tokenHash: newHash, tokenRolloverAt: null, updatedAt: now })
          .where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.tokenHash, presented), isNotNull(clusterNodes.tokenRolloverAt)))
          .run()
      : await d
          .update(clusterNodes)
          .set({ tokenHash: newHash, tokenRolloverAt: null, updatedAt: now })
          .where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.previousTokenHash, presented)))
          .run();
  return changes(r) === 1;
}

/** The agent used its new token: the previous one stops working. */
export async function forgetPreviousToken(d: Db, nodeId: number, current: string): Promise<void> {
  await d
    .update(clusterNodes)
    .set({ previousTokenHash: null })
    .where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.tokenHash, current), isNotNull(clusterNodes.previousTokenHash)))
    .run();
}

/** Admin: ask for a rollover at the agent's next heartbeat. Returns false for a node of another org. */
export async function requestTokenRollover(d: Db, orgId: number, nodeId: number, now: string): Promise<boolean> {
  const r = await d
    .update(clusterNodes)
    .set({ tokenRolloverAt: now, updatedAt: now })
    .where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.orgId, orgId)))
    .run();
  return changes(r) === 1;
}

/** A new code for the node; its earlier unused codes die (one live code per node). Atomic. */
export async function issueEnrolmentCode(
  d: Db,
  c: { orgId: number; nodeId: number; createdBy: number | null; codeHash: string; expiresAt: string },
): Promise<void> {
  await d.batch([
    d.delete(nodeEnrolmentCodes).where(and(eq(nodeEnrolmentCodes.nodeId, c.nodeId), isNull(nodeEnrolmentCodes.usedAt))),
    d.insert(nodeEnrolmentCodes).values({ orgId: c.orgId, nodeId: c.nodeId, codeHash: c.codeHash, expiresAt: c.expiresAt, createdBy: c.createdBy }),
  ]);
}

export type RedeemResult = { ok: true; nodeId: number; orgId: number; name: string } | { ok: false; reason: 'invalid' | 'wrong_org' };

/**
 * Single use, settled in one atomic batch: the first statement claims the code only while it is
 * unused and unexpired (and of `orgId` when the agent named one) and records the token it issues;
 * the second installs that token on the node only if this very batch claimed the code. A second
 * redemption racing the first finds `used_at` set and changes nothing. Enrolling replaces any
 * token the node had (and ends a rollover).
 */
export async function redeemEnrolmentCode(
  d: Db,
  r: { codeHash: string; tokenHash: string; now: string; orgId?: number | undefined },
): Promise<RedeemResult> {
  const orgMatch = r.orgId === undefined ? sql`true` : eq(nodeEnrolmentCodes.orgId, r.orgId);
  const [claimed] = await d.batch([
    d
      .update(nodeEnrolmentCodes)
      .set({ usedAt: r.now, issuedTokenHash: r.tokenHash })
      .where(and(eq(nodeEnrolmentCodes.codeHash, r.codeHash), isNull(nodeEnrolmentCodes.usedAt), sql`${nodeEnrolmentCodes.expiresAt} > ${r.now}`, orgMatch))
      .returning({ nodeId: nodeEnrolmentCodes.nodeId, orgId: nodeEnrolmentCodes.orgId }),
    d
      .update(clusterNodes)
      .set({ tokenHash: r.tokenHash, previousTokenHash: null, tokenRolloverAt: null, updatedAt: r.now })
      .where(
        eq(
          clusterNodes.id,
          sql`(SELECT ${nodeEnrolmentCodes.nodeId} FROM ${nodeEnrolmentCodes} WHERE ${nodeEnrolmentCodes.codeHash} = ${r.codeHash} AND ${nodeEnrolmentCodes.issuedTokenHash} = ${r.tokenHash})`,
        ),
      ),
  ]);
  const row = claimed[0];
  if (row) {
    const node = await d.select({ name: clusterNodes.name }).from(clusterNodes).where(eq(clusterNodes.id, row.nodeId)).get();
    return { ok: true, nodeId: row.nodeId, orgId: row.orgId, name: node?.name ?? '' };
  }
  if (r.orgId !== undefined) {
    // Distinguish "wrong org" only for a code that is otherwise redeemable; it was not consumed.
    const other = await d
      .select({ id: nodeEnrolmentCodes.id })
      .from(nodeEnrolmentCodes)
      .where(and(eq(nodeEnrolmentCodes.codeHash, r.codeHash), isNull(nodeEnrolmentCodes.usedAt), sql`${nodeEnrolmentCodes.expiresAt} > ${r.now}`))
      .get();
    if (other) return { ok: false, reason: 'wrong_org' };
  }
  return { ok: false, reason: 'invalid' };
}

export interface ExternalRef {
  platform: string;
  externalId: string;
}

/**
 * Catalog game ids for store ids, one statement whatever the count: the pairs travel as one JSON
 * parameter (json_each), because an IN list would hit D1's 100-parameter cap and drizzle has no
 * row-value IN.
 */
export async function gamesByExternalIds(d: Db, refs: ExternalRef[]): Promise<Array<ExternalRef & { gameId: number }>> {
  if (refs.length === 0) return [];
  const x = gameExternalIds;
  return d.all<ExternalRef & { gameId: number }>(sql`
    SELECT ${x.platform} AS platform, ${x.externalId} AS externalId, ${x.gameId} AS gameId
      FROM ${x}
      JOIN json_each(${JSON.stringify(refs)}) j
        ON ${x.platform} = json_extract(j.value, '$.platform') AND ${x.externalId} = json_extract(j.value, '$.externalId')`);
}
