/**
 * The catalog's `GameSummary` model (contract §2.3): its type, the camelCase row its columns
 * select (`gameSummaryFields` in ./queries.ts, external ids gathered by `json_group_object`, never
 * one query per game), and the one row mapping. The games router, library entries, the review
 * queue and the charts all read games through it.
 *
 *   const summary = await gameSummary(env, 7);   // GameSummary | null
 */
import { db } from '../../db/client';
import { gameSummaryById } from './queries';

export interface GameSummary {
  id: number;
  slug: string;
  name: string;
  description: string | null;
  rating: number | null;
  cover_url: string | null;
  external_ids: Record<string, string>;
}

/** What `gameSummaryFields` selects. */
export interface GameSummaryRow {
  gameId: number;
  gameSlug: string;
  gameName: string;
  gameDescription: string | null;
  gameRating: number | null;
  gameCoverUrl: string | null;
  gameExternalIds: string | null;
}

export function toGameSummary(r: GameSummaryRow): GameSummary {
  let ext: Record<string, string> = {};
  try {
    ext = r.gameExternalIds ? (JSON.parse(r.gameExternalIds) as Record<string, string>) : {};
  } catch {
    ext = {};
  }
  return { id: r.gameId, slug: r.gameSlug, name: r.gameName, description: r.gameDescription, rating: r.gameRating, cover_url: r.gameCoverUrl, external_ids: ext };
}

export async function gameSummary(env: Env, gameId: number): Promise<GameSummary | null> {
  const row = await gameSummaryById(db(env), gameId);
  return row ? toGameSummary(row) : null;
}
