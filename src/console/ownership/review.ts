/**
 * The review side of non-Steam proofs: the org's queue of pending proofs (oldest first, with the
 * member's name and the game) and the owner's withdrawal of a proof still waiting for review.
 *
 *   const items = await pendingProofs(env, orgId);                 // GET /orgs/{id}/library/pending
 *   const entry = await withdrawProof(c, userId, entryId, 'manual'); // pending → withdrawn
 */
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { auditStatement } from '../../auth/audit';
import { usernamesOf } from '../../auth/accounts';
import { db } from '../../db/client';
import { Conflict, NotFound } from '../../http/errors';
import { z } from '../../http/openapi';
import { nowIso } from '../../world';
import { toGameSummary } from '../catalog/game-summary';
import { GameSummarySchema } from '../schemas';
import { runBatch } from '../../db/helpers';
import { listLibrary, type LibraryEntry } from './entries';
import { libraryEntryOf, moveProof, pendingProofsQuery, proofStatus, refreshEntriesStatement } from './queries';
import { forgetPlayFacts } from '../play/facts';

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

/** Pending proofs of the org's members, oldest first; capped (a queue page, not an archive). */
export async function pendingProofs(env: Env, orgId: number, limit = 200): Promise<PendingProof[]> {
  const rows = await pendingProofsQuery(db(env), orgId, limit);
  const names = await usernamesOf(env, rows.map((r) => ({ id: r.userId, usernameEnc: r.usernameEnc, usernameDigest: r.usernameDigest })));
  return rows.map((r) => {
    let proof: unknown = null;
    try {
      proof = JSON.parse(r.proofJson);
    } catch {
      proof = null;
    }
    return {
      entry_id: r.entryId,
      proof_id: r.proofId,
      kind: r.kind,
      user: { id: r.userId, username: names.get(r.userId) ?? '' },
      game: toGameSummary(r),
      proof,
      submitted_at: r.updatedAt,
    };
  });
}

/** The owner takes back a proof still waiting for review. Another user's entry is a plain 404. */
export async function withdrawProof(c: Context<AppEnv>, userId: number, entryId: number, kind: string): Promise<LibraryEntry> {
  const d = db(c.env);
  const entry = await libraryEntryOf(d, entryId, { userId });
  if (!entry) throw new NotFound('library entry not found');
  const now = nowIso();
  if (!(await moveProof(d, entry.id, kind, ['pending'], { status: 'withdrawn', now }))) {
    const status = await proofStatus(d, entry.id, kind);
    if (!status) throw new NotFound(`no ${kind} proof on this entry`);
    throw new Conflict(`the ${kind} proof is ${status}: only pending proofs can be withdrawn`, 'proof_state');
  }
  await runBatch(db(c.env), [
    refreshEntriesStatement(entry.orgId, userId, now),
    auditStatement(c, 'library.proof.withdraw', { orgId: entry.orgId, targetType: 'library_entry', targetId: entry.id, details: { kind, user_id: userId, game_id: entry.gameId } }),
  ]);
  await forgetPlayFacts(c.env, entry.orgId);
  return (await listLibrary(c.env, entry.orgId, userId, entry.id))[0]!;
}
