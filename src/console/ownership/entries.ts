/**
 * Library entries and their proofs: the SQL every ownership route shares.
 *
 * A `user_game_library` row is one (org, user, game); `library_proofs` holds every proof behind
 * it, one per kind. The entry is *owned* while at least one proof is `verified`: `refreshEntries`
 * recomputes the entry's `verified_at` (earliest still-verified proof), `ownership_source`,
 * `proof_type` and `proof_value` (the best proof: verified, else pending, newest first) from its
 * proofs, so those columns never drift from the proofs. Run it in the same `db.batch` as the
 * proof writes (`runBatch`, ./batch.ts).
 *
 *   await runBatch(env, [upsertEntry(...), upsertProof(...), refreshEntries(orgId, userId), auditStatement(...)]);
 *   const entries = await listLibrary(env, orgId, userId);
 */
import { sql } from 'drizzle-orm';
import { db } from '../../db/client';
import { nowIso } from '../../world';
import { installReady } from '../apps/queries';
import { gameSummaryColumns, toGameSummary, type GameSummary, type GameSummaryRow } from '../catalog/game-summary';
import { z } from '../../http/openapi';
import { GameSummarySchema } from '../schemas';

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

/** Creates the entry if missing; an existing entry keeps its columns (`refreshEntries` sets them). */
export function upsertEntry(e: { orgId: number; userId: number; gameId: number; platform: string; externalId: string | null; source: string }) {
  const now = nowIso();
  return sql`INSERT INTO user_game_library (org_id, user_id, game_id, platform, external_id, ownership_source, created_at, updated_at)
    VALUES (${e.orgId}, ${e.userId}, ${e.gameId}, ${e.platform}, ${e.externalId}, ${e.source}, ${now}, ${now})
    ON CONFLICT (org_id, user_id, game_id) DO NOTHING`;
}

/** Sets the entry's proof of `kind` (one per kind); a resubmitted proof is reviewed afresh. */
export function upsertProof(
  p: { orgId: number; userId: number; gameId: number; kind: string; proof: unknown; status: 'pending' | 'verified'; reviewedBy?: number | null },
) {
  const now = nowIso();
  const verifiedAt = p.status === 'verified' ? now : null;
  return sql`INSERT INTO library_proofs (entry_id, kind, proof_json, status, verified_at, reviewed_by, created_at, updated_at)
    SELECT l.id, ${p.kind}, ${JSON.stringify(p.proof)}, ${p.status}, ${verifiedAt}, ${p.reviewedBy ?? null}, ${now}, ${now}
    FROM user_game_library l WHERE l.org_id = ${p.orgId} AND l.user_id = ${p.userId} AND l.game_id = ${p.gameId}
    ON CONFLICT (entry_id, kind) DO UPDATE SET proof_json = excluded.proof_json, status = excluded.status,
      verified_at = CASE WHEN excluded.status = 'verified' AND library_proofs.status = 'verified' THEN library_proofs.verified_at ELSE excluded.verified_at END,
      reviewed_by = excluded.reviewed_by, review_note = NULL, updated_at = excluded.updated_at`;
}

/** Recomputes the derived columns of every entry of (org, user) from their proofs. */
export function refreshEntries(orgId: number, userId: number) {
  const best = (col: string) =>
    sql.raw(`(SELECT p.${col} FROM library_proofs p WHERE p.entry_id = user_game_library.id
      ORDER BY (p.status = 'verified') DESC, (p.status = 'pending') DESC, p.updated_at DESC, p.id DESC LIMIT 1)`);
  return sql`UPDATE user_game_library SET
      verified_at = (SELECT MIN(p.verified_at) FROM library_proofs p WHERE p.entry_id = user_game_library.id AND p.status = 'verified'),
      ownership_source = COALESCE(${best('kind')}, ownership_source),
      proof_type = ${best('kind')},
      proof_value = ${best('proof_json')},
      updated_at = ${nowIso()}
    WHERE org_id = ${orgId} AND user_id = ${userId}`;
}

interface EntryRow extends GameSummaryRow {
  id: number;
  org_id: number;
  user_id: number;
  ownership_source: string;
  proof_type: string | null;
  proof_value: string | null;
  verified_at: string | null;
  install_ready: number;
  proofs: string;
}

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
  const only = entryId === undefined ? sql`` : sql` AND l.id = ${entryId}`;
  const rows = await db(env).all<EntryRow>(sql`
    SELECT l.id, l.org_id, l.user_id, l.ownership_source, l.proof_type, l.proof_value, l.verified_at, ${gameSummaryColumns},
      ${installReady(env, orgId, sql`g.id`)} AS install_ready,
      (SELECT json_group_array(json_object('id', p.id, 'kind', p.kind, 'status', p.status, 'verified_at', p.verified_at,
              'created_at', p.created_at, 'updated_at', p.updated_at, 'review_note', p.review_note, 'proof', json(p.proof_json)))
         FROM library_proofs p WHERE p.entry_id = l.id) AS proofs
    FROM user_game_library l JOIN games g ON g.id = l.game_id
    WHERE l.org_id = ${orgId} AND l.user_id = ${userId}${only}
    ORDER BY g.id`);
  return rows.map((r) => ({
    id: r.id,
    org_id: r.org_id,
    user_id: r.user_id,
    game: toGameSummary(r),
    ownership_source: r.ownership_source,
    proof_type: r.proof_type,
    proof_value: r.proof_value,
    verified_at: r.verified_at,
    owned: r.verified_at !== null,
    install_ready: !!r.install_ready,
    proofs: parseProofs(r.proofs),
  }));
}
