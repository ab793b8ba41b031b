/**
 * Every D1 statement of the game catalog's routes (games), typed against the schema. Functions
 * take the drizzle client first; the ones named `…Statements` return unexecuted statements for
 * the caller's `d.batch([...])`, so a change and its audit row land together.
 *
 * The page query keeps the `g` alias of `gameSummaryColumns` (catalog/game-summary.ts), which
 * every summary shares.
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../../db/client';
import type { SQLiteUpdateSetSource } from 'drizzle-orm/sqlite-core';
import { gameExternalIds, gameRatings, games } from '../../db/schema';
import { gameSummaryColumns, type GameSummaryRow } from './game-summary';

export async function gameExists(d: Db, gameId: number): Promise<boolean> {
  return (await d.select({ id: games.id }).from(games).where(eq(games.id, gameId)).get()) !== undefined;
}

/** The game's ratings, in the order they were given. */
export function gameRatingsOf(d: Db, gameId: number) {
  return d.select({ source: gameRatings.source, score: gameRatings.score, details: gameRatings.details }).from(gameRatings).where(eq(gameRatings.gameId, gameId)).orderBy(gameRatings.id);
}

/** The JSON list of fields an admin typed (enrichment leaves them alone), or undefined. */
export function gameManualFields(d: Db, gameId: number) {
  return d.select({ m: games.manualFields }).from(games).where(eq(games.id, gameId)).get();
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** One page of summaries by name, filtered by a name/slug search and a platform, and the total. */
export async function gamePage(d: Db, filter: { q?: string; platform?: string }, limit: number, offset: number) {
  const where: SQL[] = [sql`1 = 1`];
  if (filter.q) {
    const pattern = `%${escapeLike(filter.q)}%`;
    where.push(sql`(g.name LIKE ${pattern} ESCAPE '\\' OR g.slug LIKE ${pattern} ESCAPE '\\')`);
  }
  if (filter.platform) {
    where.push(sql`EXISTS (SELECT 1 FROM ${gameExternalIds} WHERE ${gameExternalIds.gameId} = g.id AND ${gameExternalIds.platform} = ${filter.platform})`);
  }
  const cond = sql.join(where, sql` AND `);
  const [rows, count] = await Promise.all([
    d.all<GameSummaryRow>(sql`SELECT ${gameSummaryColumns} FROM ${games} g WHERE ${cond} ORDER BY g.name, g.id LIMIT ${limit} OFFSET ${offset}`),
    d.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM ${games} g WHERE ${cond}`),
  ]);
  return { rows, total: count?.n ?? 0 };
}

type RatingIn = { source: string; score: number | null; details?: string | null };

/**
 * A new game with its external ids and ratings, for one batch (the first statement returns the id).
 * The new id is not known inside the batch: later statements find the game by its (unique) slug.
 */
export function createGameStatements(d: Db, game: typeof games.$inferInsert & { slug: string }, externalIds: Record<string, string>, ratings: RatingIn[]) {
  const idOf = sql<number>`(SELECT ${games.id} FROM ${games} WHERE ${games.slug} = ${game.slug})`;
  return [
    d.insert(games).values(game).returning({ id: games.id }),
    ...Object.entries(externalIds).map(([platform, externalId]) => d.insert(gameExternalIds).values({ gameId: idOf, platform, externalId })),
    ...ratings.map((r) => d.insert(gameRatings).values({ gameId: idOf, source: r.source, score: r.score, details: r.details ?? null })),
  ] as const;
}

/** A game's update for one batch; `externalIds` / `ratings`, when given, replace the stored ones. */
export function updateGameStatements(d: Db, gameId: number, set: SQLiteUpdateSetSource<typeof games>, externalIds?: Record<string, string>, ratings?: RatingIn[]) {
  const all: BatchItem<'sqlite'>[] = [
    d.update(games).set(set).where(eq(games.id, gameId)),
    ...(externalIds !== undefined
      ? [
          d.delete(gameExternalIds).where(eq(gameExternalIds.gameId, gameId)),
          ...Object.entries(externalIds).map(([platform, externalId]) => d.insert(gameExternalIds).values({ gameId, platform, externalId })),
        ]
      : []),
    ...(ratings !== undefined
      ? [d.delete(gameRatings).where(eq(gameRatings.gameId, gameId)), ...ratings.map((r) => d.insert(gameRatings).values({ gameId, source: r.source, score: r.score, details: r.details ?? null }))]
      : []),
  ];
  return all as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]];
}

/** What deleting a game needs: its slug (for the audit) and its R2 cover key. */
export function gameForDelete(d: Db, gameId: number) {
  return d.select({ id: games.id, slug: games.slug, coverKey: games.coverKey }).from(games).where(eq(games.id, gameId)).get();
}

export function deleteGameStatement(d: Db, gameId: number) {
  return d.delete(games).where(eq(games.id, gameId));
}
