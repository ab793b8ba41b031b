/**
 * The SQL of catalog enrichment: creating stub games for unknown Steam appids, queueing games,
 * recording attempts, and writing what the store said — every write to a field guarded by
 * `notManual` inside the statement, so an admin's edit is never overwritten, even one that lands
 * while a fetch is in flight.
 *
 *   const { added, queued } = await createStubsAndQueue(env, ['620', '1245620']);
 *   await runBatch(db(env), applyDetails(gameId, details, cover));
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import { changes, db } from '../../db/client';
import { gameEnrichment } from '../../db/schema';
import { nowIso } from '../../world';
import { placeholderName } from '../charts/snapshot';
import { runBatch } from '../../db/helpers';
import type { EnrichedField } from './manual';
import type { AppDetails } from './steam-store';

/** True while an admin has not set `field` on game `gameId` (usable in any statement). */
function notManualFor(gameId: number, field: EnrichedField): SQL {
  return sql`NOT EXISTS (SELECT 1 FROM games gm, json_each(gm.manual_fields) m WHERE gm.id = ${gameId} AND m.value = ${field})`;
}

export interface EnrichTarget {
  gameId: number;
  appid: string;
  coverKey: string | null;
  artSourceUrl: string | null;
  manual: EnrichedField[];
}

export async function enrichTarget(env: Env, gameId: number): Promise<EnrichTarget | null> {
  const row = await db(env).get<{ id: number; appid: string; cover_key: string | null; art_source_url: string | null; manual_fields: string }>(sql`
    SELECT g.id, e.external_id AS appid, g.cover_key, en.art_source_url, g.manual_fields
    FROM games g JOIN game_external_ids e ON e.game_id = g.id AND e.platform = 'steam'
    LEFT JOIN game_enrichment en ON en.game_id = g.id WHERE g.id = ${gameId}`);
  if (!row) return null;
  let manual: EnrichedField[] = [];
  try {
    manual = JSON.parse(row.manual_fields) as EnrichedField[];
  } catch {
    manual = [];
  }
  return { gameId: row.id, appid: row.appid, coverKey: row.cover_key, artSourceUrl: row.art_source_url, manual };
}

/**
 * Creates a stub game (+ Steam id) for every appid the catalog does not know, then queues every
 * stub among `appids` that has never been queued. Idempotent: running it twice adds nothing.
 * Returns how many games were added and the ids to send to the queue.
 */
export async function createStubsAndQueue(env: Env, appids: string[], opts: { create: boolean }): Promise<{ added: number; queued: number[] }> {
  if (appids.length === 0) return { added: 0, queued: [] };
  const list = JSON.stringify(appids);
  const now = nowIso();
  // The chart scrape's placeholder (`placeholderName`), built in SQL for the whole list at once.
  const stubName = placeholderName(0).slice(0, -1);
  const creates = opts.create
    ? [
        sql`INSERT INTO games (slug, name, is_stub, created_at, updated_at)
          SELECT 'steam-app-' || j.value, ${stubName} || j.value, 1, ${now}, ${now} FROM json_each(${list}) j
          WHERE NOT EXISTS (SELECT 1 FROM game_external_ids e WHERE e.platform = 'steam' AND e.external_id = j.value)
            AND NOT EXISTS (SELECT 1 FROM games g WHERE g.slug = 'steam-app-' || j.value)`,
        sql`INSERT INTO game_external_ids (game_id, platform, external_id)
          SELECT g.id, 'steam', j.value FROM json_each(${list}) j JOIN games g ON g.slug = 'steam-app-' || j.value AND g.is_stub = 1
          WHERE NOT EXISTS (SELECT 1 FROM game_external_ids e WHERE e.platform = 'steam' AND e.external_id = j.value)
            AND NOT EXISTS (SELECT 1 FROM game_external_ids e WHERE e.game_id = g.id AND e.platform = 'steam')`,
      ]
    : [];
  const results = await runBatch(db(env), [
    ...creates,
    sql`INSERT INTO game_enrichment (game_id, source, external_id, status, attempts, requested_at, updated_at)
      SELECT e.game_id, 'steam', e.external_id, 'queued', 0, ${now}, ${now}
      FROM json_each(${list}) j JOIN game_external_ids e ON e.platform = 'steam' AND e.external_id = j.value
      JOIN games g ON g.id = e.game_id AND g.is_stub = 1
      WHERE true ON CONFLICT (game_id) DO NOTHING RETURNING game_id`,
  ]);
  const queued = ((results.at(-1)?.results ?? []) as Array<{ game_id: number }>).map((r) => r.game_id);
  return { added: opts.create ? changes(results[0]!) : 0, queued };
}

/** Puts one game back in the queue (an admin's re-fetch); false when it has no Steam id. */
export async function requeueGame(env: Env, gameId: number): Promise<boolean> {
  const now = nowIso();
  const rows = await db(env).all<{ game_id: number }>(sql`
    INSERT INTO game_enrichment (game_id, source, external_id, status, attempts, requested_at, updated_at)
    SELECT e.game_id, 'steam', e.external_id, 'queued', 0, ${now}, ${now} FROM game_external_ids e
    WHERE e.game_id = ${gameId} AND e.platform = 'steam'
    ON CONFLICT (game_id) DO UPDATE SET status = 'queued', attempts = 0, last_error = NULL, external_id = excluded.external_id,
      requested_at = excluded.requested_at, updated_at = excluded.updated_at
    RETURNING game_id`);
  return rows.length === 1;
}

/** A failed attempt: counted, and `failed` for good once the consumer gives up. */
export async function recordAttempt(env: Env, gameId: number, attempts: number, error: string, final: boolean) {
  await db(env)
    .update(gameEnrichment)
    .set({ attempts, lastError: error.slice(0, 500), status: final ? 'failed' : 'queued', updatedAt: nowIso() })
    .where(eq(gameEnrichment.gameId, gameId))
    .run();
}

export async function recordNotFound(env: Env, gameId: number, attempts: number) {
  const now = nowIso();
  await db(env)
    .update(gameEnrichment)
    .set({ attempts, status: 'not_found', lastError: 'the store has no page for this app', fetchedAt: now, updatedAt: now })
    .where(eq(gameEnrichment.gameId, gameId))
    .run();
}

export interface CoverWrite {
  objectKey: string;
  coverUrl: string;
  sourceUrl: string;
}

/**
 * Every statement that records a successful fetch, for one atomic batch. The first statement is the
 * cover update (when there is one), so the caller can tell from its changed-row count whether the
 * new cover was taken.
 */
export function applyDetails(gameId: number, appid: string, attempts: number, d: AppDetails, cover: CoverWrite | null, artError: string | null): SQL[] {
  const now = nowIso();
  const out: SQL[] = [];
  if (cover) {
    out.push(sql`UPDATE games SET cover_key = ${cover.objectKey}, cover_url = ${cover.coverUrl}, updated_at = ${now}
      WHERE id = ${gameId} AND ${notManualFor(gameId, 'cover')} AND cover_key IS NOT ${cover.objectKey}`);
  }
  out.push(
    sql`UPDATE games SET name = ${d.name}, is_stub = 0, updated_at = ${now} WHERE id = ${gameId} AND ${notManualFor(gameId, 'name')}`,
    sql`UPDATE games SET is_stub = 0 WHERE id = ${gameId}`,
  );
  if (d.description !== null) {
    out.push(sql`UPDATE games SET description = ${d.description}, updated_at = ${now} WHERE id = ${gameId} AND ${notManualFor(gameId, 'description')}`);
  }
  // The store's own rating row is replaced; rows an admin typed (other sources) are left alone.
  out.push(sql`DELETE FROM game_ratings WHERE game_id = ${gameId} AND source = 'metacritic' AND ${notManualFor(gameId, 'ratings')}`);
  if (d.metacritic) {
    out.push(sql`INSERT INTO game_ratings (game_id, source, score, details)
      SELECT ${gameId}, 'metacritic', ${d.metacritic.score}, ${d.metacritic.url} WHERE ${notManualFor(gameId, 'ratings')}`);
  }
  out.push(sql`INSERT INTO game_enrichment (game_id, source, external_id, status, attempts, last_error, genres_json, os_platforms_json, release_date,
      header_url, capsule_url, art_source_url, requested_at, fetched_at, updated_at)
    VALUES (${gameId}, 'steam', ${appid}, 'done', ${attempts}, ${artError}, ${JSON.stringify(d.genres)}, ${JSON.stringify(d.osPlatforms)},
      ${d.releaseDate}, ${d.headerUrl}, ${d.capsuleUrl}, ${cover?.sourceUrl ?? null}, ${now}, ${now}, ${now})
    ON CONFLICT (game_id) DO UPDATE SET status = 'done', attempts = excluded.attempts, last_error = excluded.last_error,
      genres_json = excluded.genres_json, os_platforms_json = excluded.os_platforms_json, release_date = excluded.release_date,
      header_url = excluded.header_url, capsule_url = excluded.capsule_url,
      art_source_url = COALESCE(excluded.art_source_url, game_enrichment.art_source_url),
      fetched_at = excluded.fetched_at, updated_at = excluded.updated_at`);
  return out;
}

export interface GameMetadata {
  status: string;
  attempts: number;
  last_error: string | null;
  genres: string[];
  os_platforms: string[];
  release_date: string | null;
  fetched_at: string | null;
}

/** The enrichment facts of one game for `GET /games/{id}`, or null when it was never enriched. */
export async function gameMetadata(env: Env, gameId: number): Promise<GameMetadata | null> {
  const r = await db(env).select().from(gameEnrichment).where(eq(gameEnrichment.gameId, gameId)).get();
  if (!r) return null;
  const arr = (s: string | null) => {
    try {
      const v = s ? (JSON.parse(s) as unknown) : [];
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  };
  return {
    status: r.status,
    attempts: r.attempts,
    last_error: r.lastError,
    genres: arr(r.genresJson),
    os_platforms: arr(r.osPlatformsJson),
    release_date: r.releaseDate,
    fetched_at: r.fetchedAt,
  };
}

/** `manual_fields` with `fields` added (for an UPDATE of `games`). */
export function withManual(fields: readonly EnrichedField[]) {
  return sql<string>`(SELECT json_group_array(value) FROM (SELECT value FROM json_each(games.manual_fields) UNION SELECT value FROM json_each(${JSON.stringify(fields)})))`;
}
