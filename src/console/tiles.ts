/**
 * The launcher's catalog tiles (`AppTile`, contract §2.1 and §4.3): the chart of a date joined
 * with games and the `apps` overrides, with `installed` (install ready for the org) and `owned`
 * (a verified library entry of the user in the org). One query, whatever the number of tiles.
 * Without a chart for the date, the `apps` table is the catalog (contract §4.3 fallback).
 *
 *   const tiles = await buildTiles(env, { userId, orgId, chartDate: null });
 *   const orgId = await tileOrgFor(env, c.get('user'), userId, query.org_id);
 */
import { sql, type SQL } from 'drizzle-orm';
import { db } from '../db/client';
import { orgRoleOf } from '../auth/middleware';
import { Forbidden } from '../http/errors';
import { installReady } from './availability';
import { primaryOrgId } from './profile';

export interface AppTile {
  id: string;
  name: string;
  moonlight_name: string;
  enabled: boolean;
  sort_order: number;
  description: string | null;
  cover_url: string | null;
  chart_rank: number | null;
  chart_date: string | null;
  game_id: number | null;
  installed: boolean;
  owned: boolean;
  steam_appid: number | null;
}

/** A chart row joined with its game and `apps` override: what a tile is derived from. */
export interface TileRow {
  rank: number;
  chart_date: string;
  chart_name: string;
  steam_appid: number | null;
  game_id: number | null;
  slug: string | null;
  name: string | null;
  description: string | null;
  cover_url: string | null;
  moonlight_name: string | null;
  enabled: number | null;
  sort_order: number | null;
  installed: number;
  owned: number;
}

export interface TileScope {
  userId: number | null;
  orgId: number | null;
  /** `YYYY-MM-DD`; null = the latest chart. */
  chartDate: string | null;
}

/**
 * The `TileRow` columns of a chart row `c` left-joined with `games g` and `apps a` (see
 * `CHART_TILE_JOINS`); `installed` and `owned` are computed for the org and user (false without them).
 * Shared by the tiles and the chart API, so a chart entry's tile keys are always a tile's.
 */
export function tileColumns(env: Env, scope: { orgId: number | null; userId: number | null }): SQL {
  const owned =
    scope.userId === null || scope.orgId === null
      ? sql`0`
      : sql`EXISTS (SELECT 1 FROM user_game_library l WHERE l.org_id = ${scope.orgId} AND l.user_id = ${scope.userId}
          AND l.game_id = g.id AND l.verified_at IS NOT NULL)`;
  return sql`c.rank, c.chart_date, c.name AS chart_name, c.steam_appid, g.id AS game_id, g.slug, g.name,
           g.description, g.cover_url, a.moonlight_name, a.enabled, a.sort_order,
           CASE WHEN g.id IS NULL THEN 0 ELSE ${installReady(env, scope.orgId, sql`g.id`)} END AS installed,
           CASE WHEN g.id IS NULL THEN 0 ELSE ${owned} END AS owned`;
}

export const CHART_TILE_JOINS = sql`FROM charts_top10 c
    LEFT JOIN games g ON g.id = c.game_id
    LEFT JOIN apps a ON a.id = g.slug`;

export async function buildTiles(env: Env, scope: TileScope): Promise<AppTile[]> {
  const d = db(env);
  const date = scope.chartDate === null ? sql`(SELECT MAX(chart_date) FROM charts_top10)` : sql`${scope.chartDate}`;
  const rows = await d.all<TileRow>(sql`
    SELECT ${tileColumns(env, scope)}
    ${CHART_TILE_JOINS}
    WHERE c.chart_date = ${date}
    ORDER BY c.rank`);
  if (rows.length > 0) return rows.map(chartTile);
  const apps = await d.all<{ id: string; name: string; moonlight_name: string; enabled: number; sort_order: number }>(
    sql`SELECT id, name, moonlight_name, enabled, sort_order FROM apps ORDER BY sort_order, id`,
  );
  return apps.map((a) => ({
    id: a.id,
    name: a.name,
    moonlight_name: a.moonlight_name,
    enabled: !!a.enabled,
    sort_order: a.sort_order,
    description: null,
    cover_url: null,
    chart_rank: null,
    chart_date: null,
    game_id: null,
    installed: !!a.enabled,
    owned: false,
    steam_appid: null,
  }));
}

/** Contract §4.3: the tile of one chart row (`position` is its 0-based place in the day's list). */
export function chartTile(r: TileRow, position: number): AppTile {
  if (r.game_id === null) {
    return {
      id: `chart-${r.chart_date}-${r.rank}`,
      name: r.chart_name,
      moonlight_name: r.chart_name,
      enabled: true,
      sort_order: position + 1,
      description: null,
      cover_url: null,
      chart_rank: r.rank,
      chart_date: r.chart_date,
      game_id: null,
      installed: false,
      owned: false,
      steam_appid: r.steam_appid,
    };
  }
  const name = r.name ?? r.chart_name;
  return {
    id: r.slug || `game-${r.game_id}`,
    name,
    moonlight_name: r.moonlight_name ?? name,
    enabled: r.enabled === null ? true : !!r.enabled,
    sort_order: r.sort_order ?? r.rank,
    description: r.description,
    cover_url: r.cover_url,
    chart_rank: r.rank,
    chart_date: r.chart_date,
    game_id: r.game_id,
    installed: !!r.installed,
    owned: !!r.owned,
    steam_appid: r.steam_appid,
  };
}

/**
 * The org whose installs and ownership a user's tiles show: the requested one if the user belongs to
 * it (a platform admin may look at any org), else the user's primary org. One 403 message whether or
 * not the org exists, so org ids cannot be probed.
 */
export async function tileOrgFor(
  env: Env,
  caller: { id: number; role: 'admin' | 'user' },
  userId: number,
  requested: number | undefined,
): Promise<number | null> {
  if (requested === undefined) return primaryOrgId(env, userId);
  if ((await orgRoleOf(env, userId, requested)) !== null) return requested;
  if (caller.role === 'admin' && caller.id === userId) return requested;
  throw new Forbidden('not a member of this organization', 'not_org_member');
}
