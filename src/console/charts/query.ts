/**
 * Reading a chart: one D1 query returns the ten entries of the chosen day with their games,
 * external ids, `apps` overrides, `install_ready` and `owned`. Each entry carries the contract's
 * `ChartEntry` keys (§2.4) plus the `AppTile` keys (§2.1, filled as `buildTiles` fills them, §4.3),
 * so the JavaFX launcher, which parses this answer as tiles, can render it (§6.1.3, §8).
 *
 *   const entries = await loadChart(env, { date: '2026-11-22', orgId: 3, userId: 7 });
 *   const [rows] = await d.batch([chartRowsQuery(d, env, scope)]);  const entries = toChartEntries(rows);
 *
 * Date rule: the snapshot of `date`, else the latest one before it; without `date`, the latest.
 * A date before the first snapshot gives `[]`.
 */
import { db } from '../../db/client';
import type { GameSummary } from '../catalog/game-summary';
import { chartTile, type AppTile, type TileRow } from '../apps/tiles';
import { chartRowsQuery, type ChartRowOut, type ChartScope } from './queries';

export type { ChartScope };

/** The contract's GameSummary (§2.3). */
export type ChartGame = GameSummary;

export interface ChartEntry extends AppTile {
  rank: number;
  chart_date: string;
  install_ready: boolean;
  game: ChartGame;
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
  return toChartEntries(await chartRowsQuery(db(env), env, scope));
}

/** The entries of `chartRowsQuery`'s rows (a handler batching the query maps them with this). */
export function toChartEntries(rows: ChartRowOut[]): ChartEntry[] {
  return rows.map(entryOf);
}

/** The tile of the row (exactly as the launcher's tiles) plus the `ChartEntry` keys. */
function entryOf(r: ChartRowOut, position: number): ChartEntry {
  const row: TileRow = {
    rank: r.rank,
    chart_date: r.chartDate,
    chart_name: r.chartName,
    steam_appid: r.steamAppid,
    game_id: r.gameId,
    slug: r.slug,
    name: r.name,
    description: r.description,
    cover_url: r.coverUrl,
    moonlight_name: r.moonlightName,
    enabled: r.enabled === null ? null : Number(r.enabled),
    sort_order: r.sortOrder,
    installed: r.installed,
    owned: r.owned,
  };
  const { chart_date: _date, steam_appid: _appid, ...tile } = chartTile(row, position);
  const game: ChartGame =
    r.gameId === null
      ? // The game was deleted after the snapshot (`ON DELETE SET NULL`): contract §3.5's placeholder.
        { id: 0, slug: tile.id, name: r.chartName, description: null, rating: null, cover_url: null, external_ids: {} }
      : {
          id: r.gameId,
          slug: r.slug ?? '',
          name: tile.name,
          description: r.description,
          rating: r.rating,
          cover_url: r.coverUrl,
          external_ids: externalIds(r.externalIds),
        };
  return { rank: r.rank, chart_date: r.chartDate, steam_appid: r.steamAppid, game, install_ready: tile.installed, ...tile };
}
