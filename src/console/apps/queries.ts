/**
 * Every D1 statement of the launcher's tiles and the `apps` table behind them, typed against the
 * schema, and what "install ready" means (defined once here, used by tiles, chart entries and
 * library entries). Functions take the drizzle client first; the ones named `…Statement` return an
 * unexecuted statement for the caller's `d.batch([...])`, so a change and its audit row land together.
 *
 *   const d = db(c.env);
 *   const rows = await chartTileRows(d, c.env, { userId, orgId, chartDate: null });   // TileRow[]
 *   const [created] = await d.batch([insertAppStatement(d, app), auditStatement(c, …)]);
 *
 * The tile columns stay a `sql` template (a chart row left-joined with its game and `apps` override,
 * selected under the TileRow keys), every table and column named through the schema.
 */
import { asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { outer } from '../../db/helpers';
import { apps, chartsTop10, clusterNodes, downloadedGames, games, userGameLibrary } from '../../db/schema';
import { nodeOnlineCutoff } from '../nodes/model';
import { readyInstall } from '../play/queries';
import type { TileRow, TileScope } from './tiles';

/**
 * Install ready: the game is installed on a node of the org that is `active` (not draining) and
 * has sent a heartbeat within `NODE_OFFLINE_AFTER_SECONDS`. A boolean SQL expression; false when
 * `orgId` is null (anonymous callers see no tenant's installs).
 *
 *   sql`SELECT ..., ${installReady(env, orgId, sql`g.id`)} AS installed FROM games g`
 */
export function installReady(env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>, orgId: number | null, gameIdExpr: SQL, region?: string | null): SQL {
  if (orgId === null) return sql`0`;
  const regionFilter = region ? sql` AND ${outer(clusterNodes.region)} = ${region}` : sql``;
  return sql`EXISTS (SELECT 1 FROM ${downloadedGames} JOIN ${clusterNodes} ON ${outer(clusterNodes.id)} = ${outer(downloadedGames.nodeId)}
    WHERE ${readyInstall(orgId, gameIdExpr, nodeOnlineCutoff(env))}${regionFilter})`;
}

/**
 * The `TileRow` columns of a chart row `c` left-joined with `games g` and `apps a` (see
 * `CHART_TILE_JOINS`); `installed` and `owned` are computed for the org and user (false without them).
 * Shared by the tiles and the chart API, so a chart entry's tile keys are always a tile's.
 */
export function tileColumns(env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>, scope: { orgId: number | null; userId: number | null }): SQL {
  const owned =
    scope.userId === null || scope.orgId === null
      ? sql`0`
      : sql`EXISTS (SELECT 1 FROM ${userGameLibrary} WHERE ${outer(userGameLibrary.orgId)} = ${scope.orgId} AND ${outer(userGameLibrary.userId)} = ${scope.userId}
          AND ${outer(userGameLibrary.gameId)} = ${outer(games.id)} AND ${outer(userGameLibrary.verifiedAt)} IS NOT NULL)`;
  const c = chartsTop10;
  const g = games;
  const a = apps;
  // Aliased to the TileRow keys (snake_case: the tile model reads them as they come).
  return sql`${outer(c.rank)} AS rank, ${outer(c.chartDate)} AS chart_date, ${outer(c.name)} AS chart_name, ${outer(c.steamAppid)} AS steam_appid,
           ${outer(g.id)} AS game_id, ${outer(g.slug)} AS slug, ${outer(g.name)} AS name, ${outer(g.description)} AS description,
           ${outer(g.coverUrl)} AS cover_url, ${outer(a.moonlightName)} AS moonlight_name, ${outer(a.enabled)} AS enabled, ${outer(a.sortOrder)} AS sort_order,
           CASE WHEN ${outer(g.id)} IS NULL THEN 0 ELSE ${installReady(env, scope.orgId, outer(g.id))} END AS installed,
           CASE WHEN ${outer(g.id)} IS NULL THEN 0 ELSE ${owned} END AS owned`;
}

const CHART_TILE_JOINS = sql`FROM ${chartsTop10}
    LEFT JOIN ${games} ON ${outer(games.id)} = ${outer(chartsTop10.gameId)}
    LEFT JOIN ${apps} ON ${outer(apps.id)} = ${outer(games.slug)}`;

/** The chart rows of the scope's date (the latest chart when null) as tile rows, by rank. */
export function chartTileRows(d: Db, env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>, scope: TileScope): Promise<TileRow[]> {
  const date = scope.chartDate === null ? sql`(SELECT MAX(${chartsTop10.chartDate}) FROM ${chartsTop10})` : sql`${scope.chartDate}`;
  return d.all<TileRow>(sql`
    SELECT ${tileColumns(env, scope)}
    ${CHART_TILE_JOINS}
    WHERE ${outer(chartsTop10.chartDate)} = ${date}
    ORDER BY ${outer(chartsTop10.rank)}`);
}

/** The `apps` table in tile order: the catalog when no chart exists (contract §4.3 fallback). */
export function appRows(d: Db) {
  return d
    .select({ id: apps.id, name: apps.name, moonlightName: apps.moonlightName, enabled: apps.enabled, sortOrder: apps.sortOrder })
    .from(apps)
    .orderBy(asc(apps.sortOrder), asc(apps.id));
}

export async function appExists(d: Db, appId: string): Promise<boolean> {
  return (await d.select({ id: apps.id }).from(apps).where(eq(apps.id, appId)).get()) !== undefined;
}

export type AppValues = Omit<typeof apps.$inferInsert, 'id'>;

export function insertAppStatement(d: Db, app: AppValues & { id: string }) {
  return d.insert(apps).values(app).returning();
}

/** Returns the updated row; none when the app was deleted in between. */
export function updateAppStatement(d: Db, appId: string, set: AppValues) {
  return d.update(apps).set(set).where(eq(apps.id, appId)).returning();
}

/** `user_apps` rows go with it (foreign key cascade). */
export function deleteAppStatement(d: Db, appId: string) {
  return d.delete(apps).where(eq(apps.id, appId));
}
