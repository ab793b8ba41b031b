/**
 * Every D1 statement the play-session routes run (the allocator's own statements are in
 * mirror-queries.ts). Drizzle column references throughout, camelCase rows; each function takes the
 * request's drizzle client first.
 *
 *   const d = db(c.env);
 *   const playSession = await playSessionById(d, id);                     // PlaySessionRecord | null
 *   const pool = await readyNodes(d, orgId, gameId, nodeOnlineCutoff(c.env));
 */
import { and, asc, count, desc, eq, exists, inArray, isNotNull, notInArray, sql, type Placeholder, type SQL } from 'drizzle-orm';
import { chunk, type Db } from '../../db/client';
import { prepared, type Slots } from '../../db/prepared';
import { outer } from '../../db/helpers';
import { clusterNodes, downloadedGames, gameExternalIds, games, memberships, orgs, playSessions, userGameLibrary, users } from '../../db/schema';
import { LIVE_STATUSES, PLAY_SESSION_ID_TAGS, playSessionFromRow, type Candidate, type PlaySessionRecord } from './model';

/** The D1 history row of a play session (with its node's stream base), as the allocator would report it. */
export async function playSessionById(d: Db, id: number): Promise<PlaySessionRecord | null> {
  return toPlaySessionRecord(await playSessionByIdQuery(d, id));
}

/** `playSessionById` unexecuted, for a caller's `d.batch([...])`; its rows go to `toPlaySessionRecord`. */
export function playSessionByIdQuery(d: Db, id: number) {
  return d
    .select({
      id: playSessions.id,
      orgId: playSessions.orgId,
      userId: playSessions.userId,
      gameId: playSessions.gameId,
      nodeId: playSessions.nodeId,
      region: playSessions.region,
      streamBaseUrl: clusterNodes.streamBaseUrl,
      status: playSessions.status,
      endReason: playSessions.endReason,
      idempotencyKey: playSessions.idempotencyKey,
      createdAt: playSessions.createdAt,
      updatedAt: playSessions.updatedAt,
      endedAt: playSessions.endedAt,
    })
    .from(playSessions)
    .leftJoin(clusterNodes, eq(clusterNodes.id, playSessions.nodeId))
    .where(eq(playSessions.id, id))
    .limit(1);
}

export function toPlaySessionRecord(rows: Awaited<ReturnType<typeof playSessionByIdQuery>>): PlaySessionRecord | null {
  const row = rows[0];
  return row ? playSessionFromRow(row) : null;
}

/**
 * The caller's orgs (with the caller's role) whose id has the tag a play-session id carries
 * (`playSessionIdTag`): the allocators that may hold a session D1 does not show yet. Usually one.
 */
export function callerOrgsByTagQuery(d: Db, userId: number, tag: number) {
  return d
    .select({ orgId: memberships.orgId, role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), sql`${memberships.orgId} % ${PLAY_SESSION_ID_TAGS} = ${tag}`));
}

/** Orgs where someone holds a library entry for the game: the allocators that may have cached it (facts.ts). */
export async function orgIdsWithLibraryEntriesFor(d: Db, gameId: number): Promise<number[]> {
  const rows = await d.selectDistinct({ orgId: userGameLibrary.orgId }).from(userGameLibrary).where(eq(userGameLibrary.gameId, gameId));
  return rows.map((r) => r.orgId);
}

/** Orgs with a queued or live play session in D1 (housekeeping sweeps their allocators). */
export async function orgIdsWithOpenPlaySessions(d: Db): Promise<number[]> {
  const rows = await d
    .selectDistinct({ orgId: playSessions.orgId })
    .from(playSessions)
    .where(inArray(playSessions.status, ['queued', ...LIVE_STATUSES]));
  return rows.map((r) => r.orgId);
}

/** The user's play sessions that hold a seat, with their org (whose allocator ends them). */
export function livePlaySessionsOfUser(d: Db, userId: number) {
  return d
    .select({ id: playSessions.id, orgId: playSessions.orgId })
    .from(playSessions)
    .where(and(eq(playSessions.userId, userId), inArray(playSessions.status, [...LIVE_STATUSES])));
}

export interface PlayContext {
  policy: 'spread' | 'pack';
  maxPerUser: number;
  /** The target user's role in the org; null when not a member. */
  role: string | null;
  gameExists: boolean;
  /** A verified library entry of the user for the game in the org. */
  owned: boolean;
}

/** Org policy, target membership, game existence and verified ownership: one statement. Null for an unknown org. */
export async function playContext(d: Db, orgId: number, userId: number, gameId: number): Promise<PlayContext | null> {
  return toPlayContext(await playContextQuery(d, orgId, userId, gameId));
}

type ContextValues = { orgId: number; userId: number; gameId: number };

/** `playContext` unexecuted, for a caller's `d.batch([...])`; its rows go to `toPlayContext`. */
export function playContextQuery(d: Db, orgId: number, userId: number, gameId: number) {
  return playContextOf(d, { orgId, userId, gameId });
}

// Built once per isolate (src/db/prepared.ts): `POST /sessions` reads it on every allocation.
const playContextOf = prepared((d, { orgId, userId, gameId }: Slots<ContextValues>) =>
  d
    .select({
      policy: orgs.allocationPolicy,
      maxPerUser: orgs.maxSessionsPerUser,
      role: sql<string | null>`(${d
        .select({ role: memberships.role })
        .from(memberships)
        .where(and(eq(memberships.orgId, orgs.id), eq(memberships.userId, userId)))})`,
      gameExists: sql<number>`${exists(d.select({ one: sql`1` }).from(games).where(eq(games.id, gameId)))}`,
      owned: sql<number>`${exists(
        d
          .select({ one: sql`1` })
          .from(userGameLibrary)
          .where(
            and(
              eq(userGameLibrary.orgId, orgs.id),
              eq(userGameLibrary.userId, userId),
              eq(userGameLibrary.gameId, gameId),
              isNotNull(userGameLibrary.verifiedAt),
            ),
          ),
      )}`,
    })
    .from(orgs)
    .where(eq(orgs.id, orgId))
    .limit(1),
);

export function toPlayContext(rows: Awaited<ReturnType<typeof playContextQuery>>): PlayContext | null {
  const row = rows[0];
  if (!row) return null;
  return {
    policy: row.policy === 'pack' ? 'pack' : 'spread',
    maxPerUser: row.maxPerUser,
    role: row.role,
    gameExists: Boolean(row.gameExists),
    owned: Boolean(row.owned),
  };
}

/**
 * What "install ready" means, defined once: the game is installed on a node of the org that is
 * `active` (not draining) and heard from since `cutoff` (NODE_OFFLINE_AFTER_SECONDS). The
 * allocator's candidates use it as a join's WHERE; tiles, charts and library entries through
 * apps/queries.ts `installReady` (an EXISTS).
 */
export function readyInstall(orgId: number | Placeholder, gameId: number | SQL | Placeholder, cutoff: string | Placeholder): SQL {
  // Qualified references (outer): this condition also runs inside an EXISTS that sits in a selected
  // field (apps/queries installReady), where drizzle would write a bare, ambiguous column name.
  return sql`${outer(downloadedGames.orgId)} = ${orgId} AND ${outer(downloadedGames.gameId)} = ${gameId}
    AND ${outer(clusterNodes.orgId)} = ${orgId} AND ${outer(clusterNodes.status)} = 'active'
    AND ${outer(clusterNodes.lastSeen)} >= ${cutoff}`;
}

/** Online, active nodes of the org with the game installed: the allocator's candidates. */
export async function readyNodes(d: Db, orgId: number, gameId: number, cutoff: string): Promise<Candidate[]> {
  return toCandidates(await readyNodesQuery(d, orgId, gameId, cutoff), cutoff);
}

// Built once per isolate: `POST /sessions` and every queued poll read the candidates.
const readyNodesOf = prepared((d, $: Slots<{ orgId: number; gameId: number; cutoff: string }>) =>
  d
    .select({
      nodeId: clusterNodes.id,
      region: clusterNodes.region,
      capacity: clusterNodes.capacity,
      streamBaseUrl: clusterNodes.streamBaseUrl,
      lastSeen: clusterNodes.lastSeen,
    })
    .from(downloadedGames)
    .innerJoin(clusterNodes, eq(clusterNodes.id, downloadedGames.nodeId))
    .where(readyInstall($.orgId, $.gameId, $.cutoff)),
);

/** `readyNodes` unexecuted, for a caller's `d.batch([...])`; its rows go to `toCandidates`. */
export function readyNodesQuery(d: Db, orgId: number, gameId: number, cutoff: string) {
  return readyNodesOf(d, { orgId, gameId, cutoff });
}

export function toCandidates(rows: Awaited<ReturnType<typeof readyNodesQuery>>, cutoff: string): Candidate[] {
  // A capacity-0 node makes the game install ready but has no seat.
  return rows.map((r) => ({ ...r, capacity: r.capacity ?? 0, lastSeen: r.lastSeen ?? cutoff }));
}

/**
 * Live play sessions on each node of an outer query over `cluster_nodes` (a correlated count, built
 * with drizzle so its column references stay qualified: in a single-table select drizzle renders
 * bare `sql` column references unqualified, which would bind them to the inner table).
 */
export function livePlaySessionsPerNode(d: Db): SQL<number> {
  return sql<number>`(${d
    .select({ n: count() })
    .from(playSessions)
    .where(and(eq(playSessions.nodeId, clusterNodes.id), inArray(playSessions.status, [...LIVE_STATUSES])))})`;
}

/** The ready nodes with their region, capacity and live load, for the availability view. */
export async function readyNodeLoad(d: Db, orgId: number, gameId: number, cutoff: string) {
  const rows = await d
    .select({ region: clusterNodes.region, capacity: clusterNodes.capacity, live: livePlaySessionsPerNode(d) })
    .from(downloadedGames)
    .innerJoin(clusterNodes, eq(clusterNodes.id, downloadedGames.nodeId))
    .where(readyInstall(orgId, gameId, cutoff));
  return rows.map((r) => ({ region: r.region, capacity: r.capacity ?? 0, live: Number(r.live) }));
}

export async function gameExists(d: Db, gameId: number): Promise<boolean> {
  return (await d.select({ id: games.id }).from(games).where(eq(games.id, gameId)).get()) !== undefined;
}

/** The install to launch locally: on `nodeId` when given, else online nodes first, then the most recently seen. */
export async function localInstall(d: Db, orgId: number, gameId: number, nodeId: number | undefined, cutoff: string) {
  const online = sql<number>`(${clusterNodes.status} = 'active' AND ${clusterNodes.lastSeen} >= ${cutoff})`;
  const row = await d
    .select({
      nodeId: downloadedGames.nodeId,
      installPath: downloadedGames.installPath,
      launcher: downloadedGames.launcher,
      executable: downloadedGames.executable,
      online,
      steamAppid: sql<string | null>`(${d
        .select({ id: gameExternalIds.externalId })
        .from(gameExternalIds)
        .where(and(eq(gameExternalIds.gameId, downloadedGames.gameId), eq(gameExternalIds.platform, 'steam')))})`,
    })
    .from(downloadedGames)
    .innerJoin(clusterNodes, eq(clusterNodes.id, downloadedGames.nodeId))
    .where(
      and(eq(downloadedGames.orgId, orgId), eq(downloadedGames.gameId, gameId), nodeId === undefined ? undefined : eq(clusterNodes.id, nodeId)),
    )
    .orderBy(desc(online), desc(clusterNodes.lastSeen), asc(clusterNodes.id))
    .limit(1)
    .get();
  return row ? { ...row, online: Boolean(row.online) } : null;
}

export type OrgPlaySessionFilter = 'live' | 'queued' | 'ended' | 'all';

/** An org's play-session history, newest first, with player, game and node names: one statement. */
export async function orgPlaySessions(d: Db, orgId: number, filter: OrgPlaySessionFilter, limit: number) {
  const where =
    filter === 'live'
      ? inArray(playSessions.status, [...LIVE_STATUSES])
      : filter === 'queued'
        ? eq(playSessions.status, 'queued')
        : filter === 'ended'
          ? notInArray(playSessions.status, ['queued', ...LIVE_STATUSES])
          : undefined;
  return d
    .select({
      id: playSessions.id,
      orgId: playSessions.orgId,
      userId: playSessions.userId,
      usernameEnc: users.usernameEnc,
      usernameDigest: users.usernameDigest,
      gameId: playSessions.gameId,
      gameName: games.name,
      nodeId: playSessions.nodeId,
      nodeName: clusterNodes.name,
      region: playSessions.region,
      status: playSessions.status,
      endReason: playSessions.endReason,
      createdAt: playSessions.createdAt,
      updatedAt: playSessions.updatedAt,
      endedAt: playSessions.endedAt,
      mirrorRepair: playSessions.mirrorRepair,
      mirrorRepairedAt: playSessions.mirrorRepairedAt,
    })
    .from(playSessions)
    .innerJoin(users, eq(users.id, playSessions.userId))
    .innerJoin(games, eq(games.id, playSessions.gameId))
    .leftJoin(clusterNodes, eq(clusterNodes.id, playSessions.nodeId))
    .where(and(eq(playSessions.orgId, orgId), where))
    .orderBy(desc(playSessions.createdAt), desc(playSessions.id))
    .limit(limit);
}

/** Player and game names for the queue view: one batch, ≤ 90 ids per statement. */
export async function playerAndGameNames(d: Db, userIds: number[], gameIds: number[]) {
  const uniq = (xs: number[]) => [...new Set(xs)];
  const u = chunk(uniq(userIds), 90).map((ids) =>
    d.select({ id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest }).from(users).where(inArray(users.id, ids)),
  );
  const g = chunk(uniq(gameIds), 90).map((ids) => d.select({ id: games.id, name: games.name }).from(games).where(inArray(games.id, ids)));
  const [first, ...rest] = [...u, ...g];
  const results = first ? await d.batch([first, ...rest]) : [];
  return {
    users: results.slice(0, u.length).flat() as Array<{ id: number; usernameEnc: string; usernameDigest: string }>,
    games: results.slice(u.length).flat() as Array<{ id: number; name: string }>,
  };
}
