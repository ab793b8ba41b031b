/**
 * Every D1 statement of the game catalog's routes (games), typed against the schema. Functions
 * take the drizzle client first; the ones named `…Statements` return unexecuted statements for
 * the caller's `d.batch([...])`, so a change and its audit row land together.
 *
 * `gameSummaryFields` selects a `GameSummaryRow` (./game-summary.ts) from `games` in any query
 * (the library, the review queue, the game pages), aliased so its columns never collide with the
 * other table's in a batch (D1 answers batch rows as objects keyed by column name).
 */
import { and, asc, count, eq, exists, getTableName, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../../db/client';
import type { SQLiteUpdateSetSource } from 'drizzle-orm/sqlite-core';
import { gameExternalIds, gameRatings, games } from '../../db/schema';

/**
 * A column always written `"table"."column"`: drizzle leaves the table out of a one-table select,
 * which would turn the correlated subquery below into `"game_id" = "id"` of its own table.
 */
const qualified = (col: AnyColumn) => sql`${sql.identifier(getTableName(col.table))}.${sql.identifier(col.name)}`;

/** The columns of a `GameSummaryRow`, to spread into a `d.select({...})` that reads `games`. */
export const gameSummaryFields = {
  gameId: sql<number>`${games.id}`.as('game_id'),
  gameSlug: sql<string>`${games.slug}`.as('game_slug'),
  gameName: sql<string>`${games.name}`.as('game_name'),
  gameDescription: sql<string | null>`${games.description}`.as('game_description'),
  gameRating: sql<number | null>`${games.rating}`.as('game_rating'),
  gameCoverUrl: sql<string | null>`${games.coverUrl}`.as('game_cover_url'),
  gameExternalIds: sql<string | null>`(SELECT json_group_object(${qualified(gameExternalIds.platform)}, ${qualified(gameExternalIds.externalId)})
    FROM ${gameExternalIds} WHERE ${qualified(gameExternalIds.gameId)} = ${qualified(games.id)})`.as('game_external_ids'),
};

export async function gameSummaryById(d: Db, gameId: number) {
  return d.select(gameSummaryFields).from(games).where(eq(games.id, gameId)).get();
}

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
  const where: SQL[] = [];
  if (filter.q) {
    const pattern = `%${escapeLike(filter.q)}%`;
    where.push(sql`(${games.name} LIKE ${pattern} ESCAPE '\\' OR ${games.slug} LIKE ${pattern} ESCAPE '\\')`);
  }
  if (filter.platform) {
    where.push(exists(d.select({ one: sql`1` }).from(gameExternalIds).where(and(eq(gameExternalIds.gameId, games.id), eq(gameExternalIds.platform, filter.platform)))));
  }
  const cond = and(...where);
  const [rows, counted] = await Promise.all([
    d.select(gameSummaryFields).from(games).where(cond).orderBy(asc(games.name), asc(games.id)).limit(limit).offset(offset),
    d.select({ n: count() }).from(games).where(cond).get(),
  ]);
  return { rows, total: counted?.n ?? 0 };
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
