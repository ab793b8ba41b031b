/**
 * Users' libraries, per org (contract §2.5, §3.16), and the review of non-Steam proofs.
 *
 *   GET  /users/{user_id}/library?org_id=            self (or platform admin), or an admin of that org
 *   POST /users/{user_id}/library/proofs             self (or platform admin): one proof, by kind
 *                                                    (see ownership/proofs.ts); starts `pending`
 *   POST /orgs/{org_id}/library/{entry_id}/verify    org admin: `{ kind, note? }` → proof verified
 *   POST /orgs/{org_id}/library/{entry_id}/reject    org admin: `{ kind, note? }` → proof rejected
 *   GET  /orgs/{org_id}/library/pending              org admin: the review queue, oldest first
 *   POST /orgs/{org_id}/library/review               org admin: one decision for many proofs (bulk)
 *   POST /users/{user_id}/library/{entry_id}/withdraw   the owner withdraws a pending proof `{ kind }`
 *
 * Only verified proofs make an entry owned (`verified_at` non-null; tiles use the same rule).
 * Reviewers cannot review their own proofs (a platform admin can). Every decision is audited.
 */
import { createRoute } from '@hono/zod-openapi';
import { and, eq, inArray } from 'drizzle-orm';
import { auditStatement } from '../auth/audit';
import { assertOrgRole, assertSelfOrAdmin, orgRoleOf, requireUser } from '../auth/middleware';
import { changes, db } from '../db/client';
import { gameExternalIds, games, libraryProofs, userGameLibrary } from '../db/schema';
import { ApiError, BadRequest, Conflict, Forbidden, NotFound } from '../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../http/openapi';
import { nowIso } from '../world';
import { assertOrgAccess } from './tenancy/access';
import { runBatch } from './ownership/batch';
import { LibraryEntrySchema, listLibrary, refreshEntries, upsertEntry, upsertProof } from './ownership/entries';
import { proofFacts, ProofIn, REVIEWABLE_KINDS } from './ownership/proofs';
import { pendingProofs, PendingProofSchema, withdrawProof } from './ownership/review';
import { primaryOrgId } from './tenancy/queries';
import { cleanText, isForeignKeyViolation, OptionalOrgQuery } from './schemas';
import { notify } from '../notifications/publish';

const ReviewIn = z.object({ kind: z.enum(REVIEWABLE_KINDS), note: cleanText(500, { multiline: true }).optional() }).strict().openapi('ProofReviewIn');
const ReviewParams = z.object({ org_id: IntId, entry_id: IntId });
const BulkIn = z
  .object({
    decision: z.enum(['verify', 'reject']),
    note: cleanText(500, { multiline: true }).optional(),
    items: z.array(z.object({ entry_id: z.number().int().positive(), kind: z.enum(REVIEWABLE_KINDS) }).strict()).min(1).max(50),
  })
  .strict()
  .openapi('ProofBulkReviewIn');
const BulkOut = z
  .object({
    results: z.array(z.object({ entry_id: z.number().int(), kind: z.string(), ok: z.boolean(), code: z.string().nullable(), error: z.string().nullable() })),
    done: z.number().int(),
  })
  .openapi('ProofBulkReviewOut');

function reviewRoute(decision: 'verify' | 'reject') {
  return createRoute({
    method: 'post',
    path: `/{entry_id}/${decision}`,
    operationId: decision === 'verify' ? 'verifyLibraryProof' : 'rejectLibraryProof',
    tags: ['library'],
    summary: decision === 'verify' ? 'Approve a pending (or rejected) proof of a member’s entry (org admin)' : 'Reject a pending or verified proof of a member’s entry (org admin)',
    middleware: [requireUser],
    security: [{ bearer: [] }],
    request: { params: ReviewParams, body: jsonBody(ReviewIn) },
    responses: { 200: json(LibraryEntrySchema, 'The entry after the decision'), ...errors(400, 401, 403, 404, 409) },
  });
}


async function decide(
  c: Parameters<typeof assertOrgAccess>[0],
  decision: 'verify' | 'reject',
  p: { org_id: number; entry_id: number },
  body: z.infer<typeof ReviewIn>,
) {
  const actor = await assertOrgAccess(c, p.org_id, 'admin');
  const d = db(c.env);
  const entry = await d
    .select({ id: userGameLibrary.id, userId: userGameLibrary.userId, gameId: userGameLibrary.gameId })
    .from(userGameLibrary)
    .where(and(eq(userGameLibrary.id, p.entry_id), eq(userGameLibrary.orgId, p.org_id)))
    .get();
  if (!entry) throw new NotFound('library entry not found');
  const reviewer = c.get('user');
  if (entry.userId === reviewer.id && actor !== 'platform_admin') throw new Forbidden('you cannot review your own proof; ask another admin', 'self_review');
  const from = decision === 'verify' ? (['pending', 'rejected'] as const) : (['pending', 'verified'] as const);
  const now = nowIso();
  const res = await d
    .update(libraryProofs)
    .set(
      decision === 'verify'
        ? { status: 'verified', verifiedAt: now, reviewedBy: reviewer.id, reviewNote: body.note ?? null, updatedAt: now }
        : { status: 'rejected', verifiedAt: null, reviewedBy: reviewer.id, reviewNote: body.note ?? null, updatedAt: now },
    )
    .where(and(eq(libraryProofs.entryId, entry.id), eq(libraryProofs.kind, body.kind), inArray(libraryProofs.status, [...from])))
    .run();
  if (changes(res) === 0) {
    const proof = await d.select({ status: libraryProofs.status }).from(libraryProofs).where(and(eq(libraryProofs.entryId, entry.id), eq(libraryProofs.kind, body.kind))).get();
    if (!proof) throw new NotFound(`no ${body.kind} proof on this entry`);
    throw new Conflict(`the ${body.kind} proof is ${proof.status}`, 'proof_state');
  }
  await runBatch(c.env, [
    refreshEntries(p.org_id, entry.userId),
    auditStatement(c, decision === 'verify' ? 'library.proof.verify' : 'library.proof.reject', {
      orgId: p.org_id,
      targetType: 'library_entry',
      targetId: entry.id,
      details: { kind: body.kind, user_id: entry.userId, game_id: entry.gameId, note: body.note ?? null },
    }),
  ]);
  return (await listLibrary(c.env, p.org_id, entry.userId, entry.id))[0]!;
}

export const userLibraryRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listUserLibrary',
      tags: ['library'],
      summary: 'A user’s library in an org (self, or an admin of that org), with proofs and install readiness',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ user_id: IntId }), query: z.object({ org_id: OptionalOrgQuery }) },
      responses: { 200: json(z.array(LibraryEntrySchema), 'Entries by game id'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      const { org_id } = c.req.valid('query');
      const caller = c.get('user');
      let orgId: number;
      if (caller.id === user_id || caller.role === 'admin') {
        const chosen = org_id ?? (await primaryOrgId(db(c.env), user_id));
        if (chosen === null) return c.json([], 200);
        orgId = chosen;
      } else {
        // Another user's library: only an admin of the named org may read it.
        if (org_id === undefined) throw new Forbidden('not allowed to read another user’s library', 'not_self');
        await assertOrgRole(c, org_id, 'admin');
        orgId = org_id;
      }
      if ((await orgRoleOf(c.env, user_id, orgId)) === null) {
        throw new Forbidden(caller.id === user_id ? 'not a member of this organization' : 'user not in organization', caller.id === user_id ? 'not_org_member' : 'user_not_in_org');
      }
      return c.json(await listLibrary(c.env, orgId, user_id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/proofs',
      operationId: 'submitLibraryProof',
      tags: ['library'],
      summary: 'Submit an ownership proof (xbox, microsoft, ea, epic, gog, manual); it stays unverified until an org admin approves it',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ user_id: IntId }), body: jsonBody(ProofIn) },
      responses: { 201: json(LibraryEntrySchema, 'The entry with the new pending proof'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      const body = c.req.valid('json');
      assertSelfOrAdmin(c, user_id);
      if ((await orgRoleOf(c.env, user_id, body.org_id)) === null) throw new Forbidden('not a member of this organization', 'not_org_member');
      const d = db(c.env);
      if (!(await d.select({ id: games.id }).from(games).where(eq(games.id, body.game_id)).get())) throw new NotFound('game not found');
      const facts = proofFacts(body);
      const known = await d
        .select({ externalId: gameExternalIds.externalId })
        .from(gameExternalIds)
        .where(and(eq(gameExternalIds.gameId, body.game_id), eq(gameExternalIds.platform, facts.platform)))
        .get();
      // A store id the catalog knows must match: an Epic manifest of another game proves nothing here.
      if (known && facts.externalIds.length > 0 && !facts.externalIds.includes(known.externalId)) {
        throw new BadRequest(`the proof does not match this game’s ${facts.platform} id`, 'proof_mismatch');
      }
      const externalId = known?.externalId ?? facts.externalIds[0] ?? null;
      try {
        await runBatch(c.env, [
          upsertEntry({ orgId: body.org_id, userId: user_id, gameId: body.game_id, platform: facts.platform, externalId, source: body.kind }),
          upsertProof({ orgId: body.org_id, userId: user_id, gameId: body.game_id, kind: body.kind, proof: facts.proof, status: 'pending' }),
          refreshEntries(body.org_id, user_id),
          auditStatement(c, 'library.proof.submit', { orgId: body.org_id, targetType: 'user', targetId: user_id, details: { kind: body.kind, game_id: body.game_id } }),
        ]);
      } catch (e) {
        // The game (or org) was deleted between the checks and the batch; nothing was written.
        if (isForeignKeyViolation(e)) throw new NotFound('game not found');
        throw e;
      }
      const entry = (await listLibrary(c.env, body.org_id, user_id)).find((e) => e.game.id === body.game_id)!;
      notify(c.env, c, { type: 'proof.pending_review', orgId: body.org_id, data: { user_id, game_id: body.game_id, entry_id: entry.id, kind: body.kind } });
      return c.json(entry, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{entry_id}/withdraw',
      operationId: 'withdrawLibraryProof',
      tags: ['library'],
      summary: 'Withdraw one of your own pending proofs (`{ kind }`) before it is reviewed',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ user_id: IntId, entry_id: IntId }), body: jsonBody(z.object({ kind: z.enum(REVIEWABLE_KINDS) }).strict().openapi('ProofWithdrawIn')) },
      responses: { 200: json(LibraryEntrySchema, 'The entry after the withdrawal'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { user_id, entry_id } = c.req.valid('param');
      assertSelfOrAdmin(c, user_id);
      const entry = await withdrawProof(c, user_id, entry_id, c.req.valid('json').kind);
      return c.json(entry, 200);
    },
  );

export const orgLibraryRoutes = newRouter()
  .openapi(reviewRoute('verify'), async (c) => c.json(await decide(c, 'verify', c.req.valid('param'), c.req.valid('json')), 200))
  .openapi(reviewRoute('reject'), async (c) => c.json(await decide(c, 'reject', c.req.valid('param'), c.req.valid('json')), 200))
  .openapi(
    createRoute({
      method: 'get',
      path: '/pending',
      operationId: 'listPendingProofs',
      tags: ['library'],
      summary: 'The review queue: pending proofs of the org’s members, oldest first (org admin)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ org_id: IntId }) },
      responses: { 200: json(z.object({ items: z.array(PendingProofSchema), total: z.number().int() }).openapi('ReviewQueue'), 'Pending proofs'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      await assertOrgAccess(c, org_id, 'admin');
      const items = await pendingProofs(c.env, org_id);
      return c.json({ items, total: items.length }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/review',
      operationId: 'reviewProofs',
      tags: ['library'],
      summary: 'Approve or reject many proofs at once (org admin); each item succeeds or fails on its own',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ org_id: IntId }), body: jsonBody(BulkIn) },
      responses: { 200: json(BulkOut, 'One result per item, in order'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      const body = c.req.valid('json');
      await assertOrgAccess(c, org_id, 'admin');
      const results: z.infer<typeof BulkOut>['results'] = [];
      // One by one: each decision is its own conditional update and audit row, like the single routes.
      for (const item of body.items) {
        try {
          await decide(c, body.decision, { org_id, entry_id: item.entry_id }, { kind: item.kind, ...(body.note !== undefined ? { note: body.note } : {}) });
          results.push({ entry_id: item.entry_id, kind: item.kind, ok: true, code: null, error: null });
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          results.push({ entry_id: item.entry_id, kind: item.kind, ok: false, code: e.code, error: e.message });
        }
      }
      return c.json({ results, done: results.filter((r) => r.ok).length }, 200);
    },
  );
