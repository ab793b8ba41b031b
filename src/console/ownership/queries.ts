/**
 * Every D1 statement of libraries and their proofs (`user_game_library`, `library_proofs`), typed
 * against the schema. Functions take the drizzle client first; the ones named `…Query` return an
 * unexecuted statement for a caller's `d.batch([...])` (GET /users/{id}/library sends the caller's
 * check, both memberships and the list in one batch); the ones named `…Statement` return raw `sql`
 * for `runBatch` (./batch.ts), which mixes them with audit rows in one atomic batch.
 *
 * `runBatch` sends drizzle builders and raw `sql` together: drizzle 0.45's D1 `batch()` cannot take
 * raw `sql` with parameters (it loses the prepared statement), so both are rendered to SQL + params
 * and sent through D1's own `batch()`, which is one transaction (the chart snapshot writer and
 * enrichment use it too).
 *
 *   const [rows] = await d.batch([libraryEntriesQuery(d, env, orgId, userId)]);
 *   await runBatch(env, [upsertEntryStatement(...), upsertProofStatement(...), refreshEntriesStatement(orgId, userId), auditStatement(...)]);
 */
import { and, asc, eq, inArray, lt, ne, sql, type SQL } from 'drizzle-orm';
import { changes, db, type Db } from '../../db/client';
import { col, outer, runBatch } from '../../db/helpers';
import { gameExternalIds, games, libraryProofs, openidNonces, userAccounts, userGameLibrary, users } from '../../db/schema';
import { installReady } from '../apps/queries';
import { gameSummaryFields } from '../catalog/queries';


// The raw statements below (what drizzle's builders cannot say: INSERT … SELECT with ON CONFLICT,
// json_each, the `changes()` guard, per-column correlated subqueries) name every table and column
// through the schema: `outer()` for a qualified reference, `col()` for a bare name.
const L = userGameLibrary;
const P = libraryProofs;
/** The entry's columns in an INSERT column list. */
const entryColumns = sql`(${col(L.orgId)}, ${col(L.userId)}, ${col(L.gameId)}, ${col(L.platform)}, ${col(L.externalId)}, ${col(L.ownershipSource)}, ${col(L.createdAt)}, ${col(L.updatedAt)})`;
const entryKey = sql`(${col(L.orgId)}, ${col(L.userId)}, ${col(L.gameId)})`;
const proofKey = sql`(${col(P.entryId)}, ${col(P.kind)})`;


type ProofStatus = (typeof libraryProofs.$inferSelect)['status'];

/** The entries of (org, user) with their games, proofs (a JSON array) and install readiness, by game id. */
export function libraryEntriesQuery(d: Db, env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>, orgId: number, userId: number, entryId?: number) {
  const p = libraryProofs;
  return d
    .select({
      id: userGameLibrary.id,
      orgId: userGameLibrary.orgId,
      userId: userGameLibrary.userId,
      ownershipSource: userGameLibrary.ownershipSource,
      proofType: userGameLibrary.proofType,
      proofValue: userGameLibrary.proofValue,
      verifiedAt: userGameLibrary.verifiedAt,
      ...gameSummaryFields,
      installReady: sql<number>`${installReady(env, orgId, outer(games.id))}`.as('install_ready'),
      proofs: sql<string>`(SELECT json_group_array(json_object('id', ${p.id}, 'kind', ${p.kind}, 'status', ${p.status}, 'verified_at', ${p.verifiedAt},
          'created_at', ${p.createdAt}, 'updated_at', ${p.updatedAt}, 'review_note', ${p.reviewNote}, 'proof', json(${p.proofJson})))
        FROM ${p} WHERE ${p.entryId} = ${userGameLibrary.id})`.as('proofs'),
    })
    .from(userGameLibrary)
    .innerJoin(games, eq(games.id, userGameLibrary.gameId))
    .where(and(eq(userGameLibrary.orgId, orgId), eq(userGameLibrary.userId, userId), entryId === undefined ? undefined : eq(userGameLibrary.id, entryId)))
    .orderBy(asc(userGameLibrary.gameId)); // = games.id, and the (org, user, game) index gives the order: no sort
}

export type LibraryEntryRow = Awaited<ReturnType<typeof libraryEntriesQuery>>[number];

/** Pending proofs of the org's members, oldest first, with the member's encrypted name; capped. */
export function pendingProofsQuery(d: Db, orgId: number, limit: number) {
  return d
    .select({
      entryId: userGameLibrary.id,
      proofId: sql<number>`${libraryProofs.id}`.as('proof_id'),
      kind: libraryProofs.kind,
      userId: userGameLibrary.userId,
      usernameEnc: users.usernameEnc,
      usernameDigest: users.usernameDigest,
      proofJson: libraryProofs.proofJson,
      updatedAt: sql<string>`${libraryProofs.updatedAt}`.as('proof_updated_at'),
      ...gameSummaryFields,
    })
    .from(libraryProofs)
    .innerJoin(userGameLibrary, eq(userGameLibrary.id, libraryProofs.entryId))
    .innerJoin(games, eq(games.id, userGameLibrary.gameId))
    .innerJoin(users, eq(users.id, userGameLibrary.userId))
    .where(and(eq(userGameLibrary.orgId, orgId), eq(libraryProofs.status, 'pending')))
    .orderBy(asc(libraryProofs.updatedAt), asc(libraryProofs.id))
    .limit(limit);
}

/** An entry of the org (for a reviewer) or of the user (for its owner), or undefined. */
export async function libraryEntryOf(d: Db, entryId: number, owner: { orgId: number } | { userId: number }) {
  const scope = 'orgId' in owner ? eq(userGameLibrary.orgId, owner.orgId) : eq(userGameLibrary.userId, owner.userId);
  return d
    .select({ id: userGameLibrary.id, orgId: userGameLibrary.orgId, userId: userGameLibrary.userId, gameId: userGameLibrary.gameId })
    .from(userGameLibrary)
    .where(and(eq(userGameLibrary.id, entryId), scope))
    .get();
}

/**
 * Moves the entry's proof of `kind` from one of `from` to `to` (a reviewer's decision, or the
 * owner's withdrawal); false when no proof in one of those states was there (then `proofStatus`
 * says why).
 */
export async function moveProof(
  d: Db,
  entryId: number,
  kind: string,
  from: readonly ProofStatus[],
  to: { status: ProofStatus; now: string; verifiedAt?: string | null; reviewedBy?: number; reviewNote?: string | null },
): Promise<boolean> {
  const res = await d
    .update(libraryProofs)
    .set({
      status: to.status,
      updatedAt: to.now,
      ...(to.verifiedAt !== undefined ? { verifiedAt: to.verifiedAt } : {}),
      ...(to.reviewedBy !== undefined ? { reviewedBy: to.reviewedBy, reviewNote: to.reviewNote ?? null } : {}),
    })
    .where(and(eq(libraryProofs.entryId, entryId), eq(libraryProofs.kind, kind), inArray(libraryProofs.status, [...from])))
    .run();
  return changes(res) > 0;
}

/** The status of the entry's proof of `kind`, or undefined when there is none. */
export async function proofStatus(d: Db, entryId: number, kind: string): Promise<ProofStatus | undefined> {
  return (await d.select({ status: libraryProofs.status }).from(libraryProofs).where(and(eq(libraryProofs.entryId, entryId), eq(libraryProofs.kind, kind))).get())?.status;
}

/** True when the catalog has the game. */
export async function gameIsKnown(d: Db, gameId: number): Promise<boolean> {
  return (await d.select({ id: games.id }).from(games).where(eq(games.id, gameId)).get()) !== undefined;
}

/** The game's id on a store, if the catalog knows it. */
export async function storeIdOf(d: Db, gameId: number, platform: string): Promise<string | undefined> {
  return (
    await d
      .select({ externalId: gameExternalIds.externalId })
      .from(gameExternalIds)
      .where(and(eq(gameExternalIds.gameId, gameId), eq(gameExternalIds.platform, platform)))
      .get()
  )?.externalId;
}

/** Creates the entry if missing; an existing entry keeps its columns (`refreshEntriesStatement` sets them). */
export function upsertEntryStatement(e: { orgId: number; userId: number; gameId: number; platform: string; externalId: string | null; source: string; now: string }) {
  return sql`INSERT INTO ${L} ${entryColumns}
    VALUES (${e.orgId}, ${e.userId}, ${e.gameId}, ${e.platform}, ${e.externalId}, ${e.source}, ${e.now}, ${e.now})
    ON CONFLICT ${entryKey} DO NOTHING`;
}

/** Sets the entry's proof of `kind` (one per kind); a resubmitted proof is reviewed afresh. */
export function upsertProofStatement(
  p: { orgId: number; userId: number; gameId: number; kind: string; proof: unknown; status: 'pending' | 'verified'; reviewedBy?: number | null; now: string },
) {
  const verifiedAt = p.status === 'verified' ? p.now : null;
  return sql`INSERT INTO ${P} (${col(P.entryId)}, ${col(P.kind)}, ${col(P.proofJson)}, ${col(P.status)}, ${col(P.verifiedAt)}, ${col(P.reviewedBy)}, ${col(P.createdAt)}, ${col(P.updatedAt)})
    SELECT ${outer(L.id)}, ${p.kind}, ${JSON.stringify(p.proof)}, ${p.status}, ${verifiedAt}, ${p.reviewedBy ?? null}, ${p.now}, ${p.now}
    FROM ${L} WHERE ${outer(L.orgId)} = ${p.orgId} AND ${outer(L.userId)} = ${p.userId} AND ${outer(L.gameId)} = ${p.gameId}
    ON CONFLICT ${proofKey} DO UPDATE SET ${col(P.proofJson)} = excluded.${col(P.proofJson)}, ${col(P.status)} = excluded.${col(P.status)},
      ${col(P.verifiedAt)} = CASE WHEN excluded.${col(P.status)} = 'verified' AND ${outer(P.status)} = 'verified' THEN ${outer(P.verifiedAt)} ELSE excluded.${col(P.verifiedAt)} END,
      ${col(P.reviewedBy)} = excluded.${col(P.reviewedBy)}, ${col(P.reviewNote)} = NULL, ${col(P.updatedAt)} = excluded.${col(P.updatedAt)}`;
}

/** Recomputes the derived columns of every entry of (org, user) from their proofs. */
export function refreshEntriesStatement(orgId: number, userId: number, now: string) {
  // The entry's proofs, best first: verified, then pending, then the newest.
  const best = (column: typeof P.kind | typeof P.proofJson) =>
    sql`(SELECT ${outer(column)} FROM ${P} WHERE ${outer(P.entryId)} = ${outer(L.id)}
      ORDER BY (${outer(P.status)} = 'verified') DESC, (${outer(P.status)} = 'pending') DESC, ${outer(P.updatedAt)} DESC, ${outer(P.id)} DESC LIMIT 1)`;
  return sql`UPDATE ${L} SET
      ${col(L.verifiedAt)} = (SELECT MIN(${outer(P.verifiedAt)}) FROM ${P} WHERE ${outer(P.entryId)} = ${outer(L.id)} AND ${outer(P.status)} = 'verified'),
      ${col(L.ownershipSource)} = COALESCE(${best(P.kind)}, ${outer(L.ownershipSource)}),
      ${col(L.proofType)} = ${best(P.kind)},
      ${col(L.proofValue)} = ${best(P.proofJson)},
      ${col(L.updatedAt)} = ${now}
    WHERE ${outer(L.orgId)} = ${orgId} AND ${outer(L.userId)} = ${userId}`;
}

// ───────────── Steam links ─────────────

const steamLinkOf = (orgId: number, userId: number) => and(eq(userAccounts.orgId, orgId), eq(userAccounts.userId, userId), eq(userAccounts.platform, 'steam'));

/** The user's Steam link in the org, if any. */
export async function steamLink(d: Db, orgId: number, userId: number) {
  return d
    .select({ id: userAccounts.id, accountId: userAccounts.accountId, metadataJson: userAccounts.metadataJson, createdAt: userAccounts.createdAt })
    .from(userAccounts)
    .where(steamLinkOf(orgId, userId))
    .get();
}

/** Another member of the org who already linked this Steam account, if any. */
export async function steamAccountHolder(d: Db, orgId: number, steamId: string, exceptUserId: number) {
  return d
    .select({ userId: userAccounts.userId })
    .from(userAccounts)
    .where(and(eq(userAccounts.orgId, orgId), eq(userAccounts.platform, 'steam'), eq(userAccounts.accountId, steamId), ne(userAccounts.userId, exceptUserId)))
    .get();
}

/** Creates or replaces the member's Steam link (one per org and user). */
export function putSteamLinkStatement(d: Db, l: { orgId: number; userId: number; steamId: string; displayName: string | null; metadataJson: string; now: string }) {
  return d
    .insert(userAccounts)
    .values({ orgId: l.orgId, userId: l.userId, platform: 'steam', accountId: l.steamId, displayName: l.displayName, metadataJson: l.metadataJson, createdAt: l.now, updatedAt: l.now })
    .onConflictDoUpdate({
      target: [userAccounts.orgId, userAccounts.userId, userAccounts.platform],
      set: { accountId: l.steamId, displayName: l.displayName, metadataJson: l.metadataJson, updatedAt: l.now },
    });
}

export function deleteSteamLinkStatement(d: Db, linkId: number) {
  return d.delete(userAccounts).where(eq(userAccounts.id, linkId));
}

/** Game ids of the member's Steam proofs in these states, by id. */
export async function steamProofGames(d: Db, orgId: number, userId: number, statuses: ProofStatus[]): Promise<number[]> {
  const rows = await d
    .select({ gameId: userGameLibrary.gameId })
    .from(libraryProofs)
    .innerJoin(userGameLibrary, eq(userGameLibrary.id, libraryProofs.entryId))
    .where(and(eq(userGameLibrary.orgId, orgId), eq(userGameLibrary.userId, userId), eq(libraryProofs.kind, 'steam'), inArray(libraryProofs.status, statuses)))
    .orderBy(asc(userGameLibrary.gameId));
  return rows.map((r) => r.gameId);
}

/**
 * Withdraws the member's live Steam proofs, only when the statement just before it in the batch
 * changed a row (the unlink: of two concurrent unlinks the second withdraws nothing new).
 */
export function withdrawSteamProofsAfterUnlinkStatement(orgId: number, userId: number, now: string) {
  return sql`UPDATE ${P} SET ${col(P.status)} = 'withdrawn', ${col(P.verifiedAt)} = NULL, ${col(P.updatedAt)} = ${now}
    WHERE ${outer(P.kind)} = 'steam' AND ${outer(P.status)} IN ('verified', 'pending') AND changes() = 1
      AND ${outer(P.entryId)} IN (SELECT ${outer(L.id)} FROM ${L} WHERE ${outer(L.orgId)} = ${orgId} AND ${outer(L.userId)} = ${userId})`;
}

/** Every Steam appid the catalog knows, with its game. */
export async function steamCatalog(d: Db) {
  return d.select({ gameId: gameExternalIds.gameId, externalId: gameExternalIds.externalId }).from(gameExternalIds).where(eq(gameExternalIds.platform, 'steam'));
}

/**
 * The statements of a Steam verification, for one batch: an entry and a verified proof per matched
 * game, and the withdrawal of Steam proofs of games no longer owned. `matched` travels as one JSON
 * parameter (json_each) instead of one bound value per game: no 100-parameter limit.
 */
export function steamVerificationStatements(orgId: number, userId: number, matched: Array<{ g: number; a: number; p: number | null }>, now: string) {
  const list = JSON.stringify(matched);
  return [
    sql`INSERT INTO ${L} ${entryColumns}
      SELECT ${orgId}, ${userId}, json_extract(j.value, '$.g'), 'steam', CAST(json_extract(j.value, '$.a') AS TEXT), 'steam', ${now}, ${now}
      FROM json_each(${list}) j WHERE 1
      ON CONFLICT ${entryKey} DO NOTHING`,
    sql`INSERT INTO ${P} (${col(P.entryId)}, ${col(P.kind)}, ${col(P.proofJson)}, ${col(P.status)}, ${col(P.verifiedAt)}, ${col(P.createdAt)}, ${col(P.updatedAt)})
      SELECT ${outer(L.id)}, 'steam', json_object('appid', json_extract(j.value, '$.a'), 'playtime', json_extract(j.value, '$.p'), 'timestamp', ${now}),
             'verified', ${now}, ${now}, ${now}
      FROM json_each(${list}) j JOIN ${L}
        ON ${outer(L.orgId)} = ${orgId} AND ${outer(L.userId)} = ${userId} AND ${outer(L.gameId)} = json_extract(j.value, '$.g')
      WHERE 1
      ON CONFLICT ${proofKey} DO UPDATE SET ${col(P.proofJson)} = excluded.${col(P.proofJson)}, ${col(P.status)} = 'verified',
        ${col(P.verifiedAt)} = CASE WHEN ${outer(P.status)} = 'verified' THEN ${outer(P.verifiedAt)} ELSE excluded.${col(P.verifiedAt)} END,
        ${col(P.reviewedBy)} = NULL, ${col(P.updatedAt)} = excluded.${col(P.updatedAt)}`,
    sql`UPDATE ${P} SET ${col(P.status)} = 'withdrawn', ${col(P.verifiedAt)} = NULL, ${col(P.updatedAt)} = ${now}
      WHERE ${outer(P.kind)} = 'steam' AND ${outer(P.status)} = 'verified' AND ${outer(P.entryId)} IN (
        SELECT ${outer(L.id)} FROM ${L} WHERE ${outer(L.orgId)} = ${orgId} AND ${outer(L.userId)} = ${userId}
          AND ${outer(L.gameId)} NOT IN (SELECT json_extract(value, '$.g') FROM json_each(${list})))`,
  ];
}

/** Records an OpenID nonce (false: already used, a replay) and prunes those seen before `cutoff`; one batch. */
export async function recordNonce(d: Db, nonce: string, now: string, cutoff: string): Promise<boolean> {
  const [inserted] = await runBatch(d, [
    d.insert(openidNonces).values({ nonce, seenAt: now }).onConflictDoNothing({ target: openidNonces.nonce }),
    d.delete(openidNonces).where(lt(openidNonces.seenAt, cutoff)),
  ]);
  return changes(inserted!) === 1;
}
