/**
 * The review side of non-Steam proofs: the org's queue of pending proofs (oldest first, with the
 * member's name and the game) and the owner's withdrawal of a proof still waiting for review.
 *
 *   const items = await pendingProofs(env, orgId);                 // GET /orgs/{id}/library/pending
 *   const entry = await withdrawProof(c, userId, entryId, 'manual'); // pending → withdrawn
 */
import type { Context } from 'hono';
import { and, eq, sql } from 'drizzle-orm';
import type { AppEnv } from '../../env';
import { auditStatement } from '../../auth/audit';
import { usernamesOf } from '../../auth/accounts';
import { changes, db } from '../../db/client';
import { libraryProofs, userGameLibrary } from '../../db/schema';
import { Conflict, NotFound } from '../../http/errors';
import { z } from '../../http/openapi';
import { nowIso } from '../../world';
import { gameSummaryColumns, toGameSummary, type GameSummaryRow } from '../catalog/game-summary';
import { GameSummarySchema } from '../schemas';
import { runBatch } from './batch';
import { listLibrary, refreshEntries, type LibraryEntry } from './entries';

export const PendingProofSchema = z
  .object({
    entry_id: z.number().int(),
    proof_id: z.number().int(),
    kind: z.string(),
    user: z.object({ id: z.number().int(), username: z.string() }),
    game: GameSummarySchema,
    proof: z.unknown(),
    submitted_at: z.string().openapi({ description: 'When this proof was (re)submitted' }),
  })
  .openapi('PendingProof');
export type PendingProof = z.infer<typeof PendingProofSchema>;

interface PendingRow extends GameSummaryRow {
  entry_id: number;
  proof_id: number;
  kind: string;
  user_id: number;
  username_enc: string;
  username_digest: string;
  proof_json: string;
  updated_at: string;
}

/** Pending proofs of the org's members, oldest first; capped (a queue page, not an archive). */
export async function pendingProofs(env: Env, orgId: number, limit = 200): Promise<PendingProof[]> {
  const rows = await db(env).all<PendingRow>(sql`
    SELECT l.id AS entry_id, p.id AS proof_id, p.kind, l.user_id, u.username_enc, u.username_digest, p.proof_json, p.updated_at, ${gameSummaryColumns}
    FROM library_proofs p JOIN user_game_library l ON l.id = p.entry_id JOIN games g ON g.id = l.game_id JOIN users u ON u.id = l.user_id
    WHERE l.org_id = ${orgId} AND p.status = 'pending'
    ORDER BY p.updated_at, p.id LIMIT ${limit}`);
  const names = await usernamesOf(env, rows.map((r) => ({ id: r.user_id, usernameEnc: r.username_enc, usernameDigest: r.username_digest })));
  return rows.map((r) => {
    let proof: unknown = null;
    try {
      proof = JSON.parse(r.proof_json);
    } catch {
      proof = null;
    }
    return {
      entry_id: r.entry_id,
      proof_id: r.proof_id,
      kind: r.kind,
      user: { id: r.user_id, username: names.get(r.user_id) ?? '' },
      game: toGameSummary(r),
      proof,
      submitted_at: r.updated_at,
    };
  });
}

/** The owner takes back a proof still waiting for review. Another user's entry is a plain 404. */
export async function withdrawProof(c: Context<AppEnv>, userId: number, entryId: number, kind: string): Promise<LibraryEntry> {
  const d = db(c.env);
  const entry = await d
    .select({ id: userGameLibrary.id, orgId: userGameLibrary.orgId, gameId: userGameLibrary.gameId })
    .from(userGameLibrary)
    .where(and(eq(userGameLibrary.id, entryId), eq(userGameLibrary.userId, userId)))
    .get();
  if (!entry) throw new NotFound('library entry not found');
  const now = nowIso();
  const res = await d
    .update(libraryProofs)
    .set({ status: 'withdrawn', updatedAt: now })
    .where(and(eq(libraryProofs.entryId, entry.id), eq(libraryProofs.kind, kind), eq(libraryProofs.status, 'pending')))
    .run();
  if (changes(res) === 0) {
    const proof = await d.select({ status: libraryProofs.status }).from(libraryProofs).where(and(eq(libraryProofs.entryId, entry.id), eq(libraryProofs.kind, kind))).get();
    if (!proof) throw new NotFound(`no ${kind} proof on this entry`);
    throw new Conflict(`the ${kind} proof is ${proof.status}: only pending proofs can be withdrawn`, 'proof_state');
  }
  await runBatch(c.env, [
    refreshEntries(entry.orgId, userId),
    auditStatement(c, 'library.proof.withdraw', { orgId: entry.orgId, targetType: 'library_entry', targetId: entry.id, details: { kind, user_id: userId, game_id: entry.gameId } }),
  ]);
  return (await listLibrary(c.env, entry.orgId, userId, entry.id))[0]!;
}
