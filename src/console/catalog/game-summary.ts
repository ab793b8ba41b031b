/**
 * The catalog's `GameSummary` model (contract §2.3): its type, the columns that select it for a
 * `games g` row (external ids gathered by `json_group_object`, never one query per game), and the
 * one row mapping. The games router, library entries, the review queue and the charts all read
 * games through it.
 *
 *   const summary = await gameSummary(env, 7);   // GameSummary | null
 */
import { sql } from 'drizzle-orm';
import { db } from '../../db/client';

export interface GameSummary {
  id: number;
  slug: string;
  name: string;
  description: string | null;
  rating: number | null;
  cover_url: string | null;
  external_ids: Record<string, string>;
}

/** Columns of a `GameSummary` for `games g`, to splice into a SELECT. */
export const gameSummaryColumns = sql`g.id AS game_id, g.slug AS game_slug, g.name AS game_name, g.description AS game_description,
  g.rating AS game_rating, g.cover_url AS game_cover_url,
  (SELECT json_group_object(e.platform, e.external_id) FROM game_external_ids e WHERE e.game_id = g.id) AS game_external_ids`;

export interface GameSummaryRow {
  game_id: number;
  game_slug: string;
  game_name: string;
  game_description: string | null;
  game_rating: number | null;
  game_cover_url: string | null;
  game_external_ids: string | null;
}

export function toGameSummary(r: GameSummaryRow): GameSummary {
  let ext: Record<string, string> = {};
  try {
    ext = r.game_external_ids ? (JSON.parse(r.game_external_ids) as Record<string, string>) : {};
  } catch {
    ext = {};
  }
  return { id: r.game_id, slug: r.game_slug, name: r.game_name, description: r.game_description, rating: r.game_rating, cover_url: r.game_cover_url, external_ids: ext };
}

export async function gameSummary(env: Env, gameId: number): Promise<GameSummary | null> {
  const row = await db(env).get<GameSummaryRow>(sql`SELECT ${gameSummaryColumns} FROM games g WHERE g.id = ${gameId}`);
  return row ? toGameSummary(row) : null;
}

