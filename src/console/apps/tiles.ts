/**
 * The launcher's catalog tiles (`AppTile`, contract §2.1 and §4.3), the tile model and its
 * mapping from stored rows (their statements are in `./queries.ts`): the chart of a date joined
 * with games and the `apps` overrides, with `installed` (install ready for the org) and `owned`
 * (a verified library entry of the user in the org). One query, whatever the number of tiles.
 * Without a chart for the date, the `apps` table is the catalog (contract §4.3 fallback).
 *
 *   const d = db(c.env);
 *   const orgId = await tileOrgFor(d, c.get('user'), userId, query.org_id);
 *   const tiles = await buildTiles(d, c.env, { userId, orgId, chartDate: null });
 */
import { membershipRole } from '../../auth/queries/users';
import type { Db } from '../../db/client';
import { Forbidden } from '../../http/errors';
import { primaryOrgId } from '../tenancy/queries';
import { appRows, chartTileRows } from './queries';

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

/** A chart row joined with its game and `apps` override (apps/queries.ts `tileColumns`): what a tile is derived from. */
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

/** The scope's tiles: the chart of the date when there is one, else the `apps` table. */
export async function buildTiles(d: Db, env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>, scope: TileScope): Promise<AppTile[]> {
  const rows = await chartTileRows(d, env, scope);
  if (rows.length > 0) return rows.map(chartTile);
  return (await appRows(d)).map((a) => ({
    id: a.id,
    name: a.name,
    moonlight_name: a.moonlightName,
    enabled: a.enabled,
    sort_order: a.sortOrder,
    description: null,
    cover_url: null,
    chart_rank: null,
    chart_date: null,
    game_id: null,
    installed: a.enabled,
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
  d: Db,
  caller: { id: number; role: 'admin' | 'user' },
  userId: number,
  requested: number | undefined,
): Promise<number | null> {
  if (requested === undefined) return primaryOrgId(d, userId);
  if ((await membershipRole(d, userId, requested)) !== null) return requested;
  if (caller.role === 'admin' && caller.id === userId) return requested;
  throw new Forbidden('not a member of this organization', 'not_org_member');
}
