/**
 * The node-agent statements added with the shipped agent (issue 15): enrolment codes, node-token
 * rollover and the catalog lookup by store id. Handlers in nodes.ts and node-auth.ts call these;
 * nothing else touches these columns.
 *
 *   const code = await issueEnrolmentCode(env, { orgId, nodeId, createdBy, codeHash, expiresAt });
 *   const node = await redeemEnrolmentCode(env, { codeHash, tokenHash, now, orgId });   // null: unknown, used or expired
 *   const ids = await gamesByExternalIds(env, [{ platform: 'steam', external_id: '730' }]);
 */
import { and, eq, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { db } from '../db/client';
import { clusterNodes, nodeEnrolmentCodes } from '../db/schema';

export interface NodeAuthRow {
  id: number;
  orgId: number;
  name: string;
  region: string | null;
  capacity: number | null;
  status: string | null;
  streamBaseUrl: string | null;
  tokenHash: string | null;
  previousTokenHash: string | null;
  tokenRolloverAt: string | null;
}

/** The node whose current or (during a rollover) previous token hashes to `hash`. */
export function nodeByTokenHash(env: Env, hash: string): Promise<NodeAuthRow | undefined> {
  return db(env)
    .select({
      id: clusterNodes.id,
      orgId: clusterNodes.orgId,
      name: clusterNodes.name,
      region: clusterNodes.region,
      capacity: clusterNodes.capacity,
      status: clusterNodes.status,
      streamBaseUrl: clusterNodes.streamBaseUrl,
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
export async function rollNodeToken(env: Env, nodeId: number, presented: string, via: 'current' | 'previous', newHash: string, now: string): Promise<boolean> {
  const d = db(env);
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
  return (r.meta.changes ?? 0) === 1;
}

/** The agent used its new token: the previous one stops working. */
export async function forgetPreviousToken(env: Env, nodeId: number, current: string): Promise<void> {
  await db(env)
    .update(clusterNodes)
    .set({ previousTokenHash: null })
    .where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.tokenHash, current), isNotNull(clusterNodes.previousTokenHash)))
    .run();
}

/** Admin: ask for a rollover at the agent's next heartbeat. Returns false for a node of another org. */
export async function requestTokenRollover(env: Env, orgId: number, nodeId: number, now: string): Promise<boolean> {
  const r = await db(env)
    .update(clusterNodes)
    .set({ tokenRolloverAt: now, updatedAt: now })
    .where(and(eq(clusterNodes.id, nodeId), eq(clusterNodes.orgId, orgId)))
    .run();
  return (r.meta.changes ?? 0) === 1;
}

/** A new code for the node; its earlier unused codes die (one live code per node). Atomic. */
export async function issueEnrolmentCode(
  env: Env,
  c: { orgId: number; nodeId: number; createdBy: number | null; codeHash: string; expiresAt: string },
): Promise<void> {
  const d = db(env);
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
  env: Env,
  r: { codeHash: string; tokenHash: string; now: string; orgId?: number | undefined },
): Promise<RedeemResult> {
  const d = db(env);
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
  external_id: string;
}

/**
 * Catalog game ids for store ids, one statement whatever the count: the pairs travel as one JSON
 * parameter (json_each), because an IN list would hit D1's 100-parameter cap and drizzle has no
 * row-value IN.
 */
export async function gamesByExternalIds(env: Env, refs: ExternalRef[]): Promise<Array<ExternalRef & { game_id: number }>> {
  if (refs.length === 0) return [];
  return db(env).all<ExternalRef & { game_id: number }>(sql`
    SELECT x.platform AS platform, x.external_id AS external_id, x.game_id AS game_id
      FROM game_external_ids x
      JOIN json_each(${JSON.stringify(refs)}) j
        ON x.platform = json_extract(j.value, '$.platform') AND x.external_id = json_extract(j.value, '$.external_id')`);
}
