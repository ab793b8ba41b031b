/**
 * Reading a chart: one D1 query returns the ten entries of the chosen day with their games,
 * external ids, `apps` overrides, `install_ready` and `owned`. Each entry carries the contract's
 * `ChartEntry` keys (§2.4) plus the `AppTile` keys (§2.1, filled as `buildTiles` fills them, §4.3),
 * so the JavaFX launcher, which parses this answer as tiles, can render it (§6.1.3, §8).
 *
 *   const entries = await loadChart(env, { date: '2026-11-22', orgId: 3, userId: 7 });
 *
 * Date rule: the snapshot of `date`, else the latest one before it; without `date`, the latest.
 * A date before the first snapshot gives `[]`.
 */
import { sql } from 'drizzle-orm';
import { db } from '../../db/client';
import type { GameSummary } from '../catalog/game-summary';
import { CHART_TILE_JOINS, tileColumns } from '../apps/queries';
import { chartTile, type AppTile, type TileRow } from '../apps/tiles';

/** The contract's GameSummary (§2.3). */
export type ChartGame = GameSummary;

export interface ChartEntry extends AppTile {
  rank: number;
  chart_date: string;
  install_ready: boolean;
  game: ChartGame;
}

export interface ChartScope {
  /** `YYYY-MM-DD`; null = the latest snapshot. */
  date: string | null;
  /** Flags are computed only for an org the caller was checked against; null = public chart. */
  orgId: number | null;
  userId: number | null;
}

/** A tile row plus what a `ChartEntry` adds: the game's rating and external ids. */
interface Row extends TileRow {
  rating: number | null;
  external_ids: string | null;
}

function externalIds(raw: string | null): Record<string, string> {
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== 'object') return {};
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  } catch {
    return {};
  }
}

export async function loadChart(env: Env, scope: ChartScope): Promise<ChartEntry[]> {
  const day =
    scope.date === null
      ? sql`(SELECT MAX(chart_date) FROM charts_top10)`
      : sql`(SELECT MAX(chart_date) FROM charts_top10 WHERE chart_date <= ${scope.date})`;
  const rows = await db(env).all<Row>(sql`
    SELECT ${tileColumns(env, scope)}, g.rating,
           (SELECT json_group_object(e.platform, e.external_id) FROM game_external_ids e WHERE e.game_id = g.id) AS external_ids
    ${CHART_TILE_JOINS}
    WHERE c.chart_date = ${day}
    ORDER BY c.rank`);
  return rows.map(entryOf);
}

/** The tile of the row (exactly as the launcher's tiles) plus the `ChartEntry` keys. */
function entryOf(r: Row, position: number): ChartEntry {
  const { chart_date: _date, steam_appid: _appid, ...tile } = chartTile(r, position);
  const game: ChartGame =
    r.game_id === null
      ? // The game was deleted after the snapshot (`ON DELETE SET NULL`): contract §3.5's placeholder.
        { id: 0, slug: tile.id, name: r.chart_name, description: null, rating: null, cover_url: null, external_ids: {} }
      : {
          id: r.game_id,
          slug: r.slug ?? '',
          name: tile.name,
          description: r.description,
          rating: r.rating,
          cover_url: r.cover_url,
          external_ids: externalIds(r.external_ids),
        };
  return { rank: r.rank, chart_date: r.chart_date, steam_appid: r.steam_appid, game, install_ready: tile.installed, ...tile };
}
