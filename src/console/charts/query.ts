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
import { installReady } from '../availability';
import type { AppTile } from '../tiles';

export interface ChartGame {
  id: number;
  slug: string;
  name: string;
  description: string | null;
  rating: number | null;
  cover_url: string | null;
  external_ids: Record<string, string>;
}

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

interface Row {
  rank: number;
  chart_date: string;
  chart_name: string;
  steam_appid: number | null;
  game_id: number | null;
  slug: string | null;
  name: string | null;
  description: string | null;
  rating: number | null;
  cover_url: string | null;
  external_ids: string | null;
  moonlight_name: string | null;
  enabled: number | null;
  sort_order: number | null;
  install_ready: number;
  owned: number;
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
  const owned =
    scope.userId === null || scope.orgId === null
      ? sql`0`
      : sql`EXISTS (SELECT 1 FROM user_game_library l WHERE l.org_id = ${scope.orgId} AND l.user_id = ${scope.userId}
          AND l.game_id = g.id AND l.verified_at IS NOT NULL)`;
  const day =
    scope.date === null
      ? sql`(SELECT MAX(chart_date) FROM charts_top10)`
      : sql`(SELECT MAX(chart_date) FROM charts_top10 WHERE chart_date <= ${scope.date})`;
  const rows = await db(env).all<Row>(sql`
    SELECT c.rank, c.chart_date, c.name AS chart_name, c.steam_appid,
           g.id AS game_id, g.slug, g.name, g.description, g.rating, g.cover_url,
           (SELECT json_group_object(e.platform, e.external_id) FROM game_external_ids e WHERE e.game_id = g.id) AS external_ids,
           a.moonlight_name, a.enabled, a.sort_order,
           CASE WHEN g.id IS NULL THEN 0 ELSE ${installReady(env, scope.orgId, sql`g.id`)} END AS install_ready,
           CASE WHEN g.id IS NULL THEN 0 ELSE ${owned} END AS owned
    FROM charts_top10 c
    LEFT JOIN games g ON g.id = c.game_id
    LEFT JOIN apps a ON a.id = g.slug
    WHERE c.chart_date = ${day}
    ORDER BY c.rank`);
  return rows.map(entryOf);
}

function entryOf(r: Row, position: number): ChartEntry {
  if (r.game_id === null) {
    // The game was deleted after the snapshot (`ON DELETE SET NULL`): contract §3.5's placeholder.
    const slug = `chart-${r.chart_date}-${r.rank}`;
    return {
      rank: r.rank,
      chart_date: r.chart_date,
      steam_appid: r.steam_appid,
      game: { id: 0, slug, name: r.chart_name, description: null, rating: null, cover_url: null, external_ids: {} },
      install_ready: false,
      id: slug,
      name: r.chart_name,
      moonlight_name: r.chart_name,
      enabled: true,
      sort_order: position + 1,
      description: null,
      cover_url: null,
      chart_rank: r.rank,
      game_id: null,
      installed: false,
      owned: false,
    };
  }
  const name = r.name ?? r.chart_name;
  const ready = !!r.install_ready;
  return {
    rank: r.rank,
    chart_date: r.chart_date,
    steam_appid: r.steam_appid,
    game: {
      id: r.game_id,
      slug: r.slug ?? '',
      name,
      description: r.description,
      rating: r.rating,
      cover_url: r.cover_url,
      external_ids: externalIds(r.external_ids),
    },
    install_ready: ready,
    id: r.slug || `game-${r.game_id}`,
    name,
    moonlight_name: r.moonlight_name ?? name,
    enabled: r.enabled === null ? true : !!r.enabled,
    sort_order: r.sort_order ?? r.rank,
    description: r.description,
    cover_url: r.cover_url,
    chart_rank: r.rank,
    game_id: r.game_id,
    installed: ready,
    owned: !!r.owned,
  };
}
