/**
 * The D1 statements of game covers (the images are in R2: `catalog/cover-store.ts`), typed against
 * the schema. `…Statement` returns an unexecuted statement for the caller's `d.batch([...])`.
 *
 *   const game = await gameCover(d, gameId);   // { id, coverKey } | undefined
 *   await d.batch([setGameCoverStatement(d, gameId, key, url, nowIso()), auditStatement(c, …)]);
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { games } from '../../db/schema';
import { withManual } from '../enrichment/manual';

/** The game's stored cover key (null without a cover), or undefined for an unknown game. */
export function gameCover(d: Db, gameId: number) {
  return d.select({ id: games.id, coverKey: games.coverKey }).from(games).where(eq(games.id, gameId)).get();
}

/** Points the game at a new cover. An uploaded cover is the admin's choice: enrichment never replaces it (`manual_fields`). */
export function setGameCoverStatement(d: Db, gameId: number, coverKey: string, coverUrl: string, now: string) {
  return d.update(games).set({ coverKey, coverUrl, manualFields: withManual(['cover']), updatedAt: now }).where(eq(games.id, gameId));
}
