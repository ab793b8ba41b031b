/**
 * Library entries and their proofs: the model every ownership route shares (statements in ./queries.ts).
 *
 * A `user_game_library` row is one (org, user, game); `library_proofs` holds every proof behind
 * it, one per kind. The entry is *owned* while at least one proof is `verified`: `refreshEntriesStatement`
 * recomputes the entry's `verified_at` (earliest still-verified proof), `ownership_source`,
 * `proof_type` and `proof_value` (the best proof: verified, else pending, newest first) from its
 * proofs, so those columns never drift from the proofs. Run it in the same `db.batch` as the
 * proof writes (`runBatch`, ./batch.ts).
 *
 *   await runBatch(env, [upsertEntryStatement(...), upsertProofStatement(...), refreshEntriesStatement(orgId, userId, now), auditStatement(...)]);
 *   const entries = await listLibrary(env, orgId, userId);
 */
import { db } from '../../db/client';
import { toGameSummary, type GameSummary } from '../catalog/game-summary';
import { z } from '../../http/openapi';
import { GameSummarySchema } from '../schemas';
import { libraryEntriesQuery, type LibraryEntryRow } from './queries';

export type ProofStatus = 'pending' | 'verified' | 'rejected' | 'withdrawn';

export interface ProofOut {
  id: number;
  kind: string;
  status: ProofStatus;
  verified_at: string | null;
  created_at: string;
  updated_at: string;
  review_note: string | null;
  proof: unknown;
}

export interface LibraryEntry {
  id: number;
  org_id: number;
  user_id: number;
  game: GameSummary;
  ownership_source: string;
  proof_type: string | null;
  proof_value: string | null;
  verified_at: string | null;
  owned: boolean;
  install_ready: boolean;
  proofs: ProofOut[];
}

export const ProofOutSchema = z
  .object({
    id: z.number().int(),
    kind: z.string(),
    status: z.enum(['pending', 'verified', 'rejected', 'withdrawn']),
    verified_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    review_note: z.string().nullable().openapi({ description: 'The reviewer’s note (why it was rejected, or anything on approval)' }),
    proof: z.unknown(),
  })
  .openapi('LibraryProof');

export const LibraryEntrySchema = z
  .object({
    id: z.number().int(),
    org_id: z.number().int(),
    user_id: z.number().int(),
    game: GameSummarySchema,
    ownership_source: z.string(),
    proof_type: z.string().nullable(),
    proof_value: z.string().nullable().openapi({ description: 'The best proof as a JSON string (contract §2.5)' }),
    verified_at: z.string().nullable(),
    owned: z.boolean().openapi({ description: 'At least one proof is verified' }),
    install_ready: z.boolean(),
    proofs: z.array(ProofOutSchema),
  })
  .openapi('LibraryEntry');

function parseProofs(text: string): ProofOut[] {
  try {
    const list = JSON.parse(text) as ProofOut[];
    return list.sort((a, b) => a.id - b.id);
  } catch {
    return [];
  }
}

/** The library of (org, user), one query; `entryId` narrows it to one entry. */
export async function listLibrary(env: Env, orgId: number, userId: number, entryId?: number): Promise<LibraryEntry[]> {
  return toLibraryEntries(await libraryEntriesQuery(db(env), env, orgId, userId, entryId));
}

/** The entries of `libraryEntriesQuery`'s rows (a handler batching the query maps them with this). */
export function toLibraryEntries(rows: LibraryEntryRow[]): LibraryEntry[] {
  return rows.map((r) => ({
    id: r.id,
    org_id: r.orgId,
    user_id: r.userId,
    game: toGameSummary(r),
    ownership_source: r.ownershipSource,
    proof_type: r.proofType,
    proof_value: r.proofValue,
    verified_at: r.verifiedAt,
    owned: r.verifiedAt !== null,
    install_ready: !!r.installReady,
    proofs: parseProofs(r.proofs),
  }));
}
