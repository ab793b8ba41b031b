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
import { auditStatement } from '../auth/audit';
import type { AuthUser } from '../env';
import { assertSelfOrAdmin, callerCheck, orgRoleVerdict, requireCallerDeferred, requireUser } from '../auth/middleware';
import { membershipRole, membershipRoleQuery } from '../auth/queries/users';
import { db } from '../db/client';
import { ApiError, BadRequest, Conflict, Forbidden, NotFound } from '../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../http/openapi';
import { nowIso } from '../world';
import { assertOrgAccess } from './tenancy/access';
import { runBatch } from '../db/helpers';
import { LibraryEntrySchema, listLibrary, toLibraryEntries } from './ownership/entries';
import { gameIsKnown, libraryEntriesQuery, libraryEntryOf, moveProof, proofStatus, refreshEntriesStatement, storeIdOf, upsertEntryStatement, upsertProofStatement } from './ownership/queries';
import { proofFacts, ProofIn, REVIEWABLE_KINDS } from './ownership/proofs';
import { pendingProofs, PendingProofSchema, withdrawProof } from './ownership/review';
import { primaryOrgId } from './tenancy/queries';
import { cleanText, isForeignKeyViolation, OptionalOrgQuery } from './schemas';
import { notify } from '../notifications/publish';
import { forgetPlayFacts } from './play/facts';

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
  const entry = await libraryEntryOf(d, p.entry_id, { orgId: p.org_id });
  if (!entry) throw new NotFound('library entry not found');
  const reviewer = c.get('user');
  if (entry.userId === reviewer.id && actor !== 'platform_admin') throw new Forbidden('you cannot review your own proof; ask another admin', 'self_review');
  const now = nowIso();
  const moved =
    decision === 'verify'
      ? await moveProof(d, entry.id, body.kind, ['pending', 'rejected'], { status: 'verified', now, verifiedAt: now, reviewedBy: reviewer.id, reviewNote: body.note ?? null })
      : await moveProof(d, entry.id, body.kind, ['pending', 'verified'], { status: 'rejected', now, verifiedAt: null, reviewedBy: reviewer.id, reviewNote: body.note ?? null });
  if (!moved) {
    const status = await proofStatus(d, entry.id, body.kind);
    if (!status) throw new NotFound(`no ${body.kind} proof on this entry`);
    throw new Conflict(`the ${body.kind} proof is ${status}`, 'proof_state');
  }
  await runBatch(db(c.env), [
    refreshEntriesStatement(p.org_id, entry.userId, now),
    auditStatement(c, decision === 'verify' ? 'library.proof.verify' : 'library.proof.reject', {
      orgId: p.org_id,
      targetType: 'library_entry',
      targetId: entry.id,
      details: { kind: body.kind, user_id: entry.userId, game_id: entry.gameId, note: body.note ?? null },
    }),
  ]);
  // A rejected proof can take the entitlement away: the allocator's cached copy goes with it.
  await forgetPlayFacts(c.env, p.org_id);
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
      middleware: [requireCallerDeferred],
      security: [{ bearer: [] }],
      request: { params: z.object({ user_id: IntId }), query: z.object({ org_id: OptionalOrgQuery }) },
      responses: { 200: json(z.array(LibraryEntrySchema), 'Entries by game id'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      const { org_id } = c.req.valid('query');
      const d = db(c.env);
      const caller = callerCheck(c, d);
      const notMember = (user: AuthUser) =>
        new Forbidden(user.id === user_id ? 'not a member of this organization' : 'user not in organization', user.id === user_id ? 'not_org_member' : 'user_not_in_org');
      if (org_id === undefined) {
        // The caller's own (or, for a platform admin, the user's) first org: two round trips, the
        // caller's check beside the org lookup, then the list.
        const [[callerRows], primary] = await Promise.all([d.batch([caller.query]), primaryOrgId(d, user_id)]);
        const user = caller.confirm(callerRows);
        if (user.id !== user_id && user.role !== 'admin') throw new Forbidden('not allowed to read another user’s library', 'not_self');
        if (primary === null) return c.json([], 200);
        return c.json(await listLibrary(c.env, primary, user_id), 200);
      }
      // One storage round trip (issue 17): the caller's check, the caller's and the user's roles in
      // the org and the list in one batch, decided after in the order of the checks: the caller
      // (401), another user's library without the org's admin role (403), the user's membership (403).
      const [callerRows, callerRole, userRole, rows] = await d.batch([
        caller.query,
        membershipRoleQuery(d, caller.userId, org_id),
        membershipRoleQuery(d, user_id, org_id),
        libraryEntriesQuery(d, c.env, org_id, user_id),
      ]);
      const user = caller.confirm(callerRows);
      if (user.id !== user_id && user.role !== 'admin') orgRoleVerdict(user, callerRole[0]?.role ?? null, 'admin');
      if (!userRole[0]) throw notMember(user);
      return c.json(toLibraryEntries(rows), 200);
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
      const d = db(c.env);
      if ((await membershipRole(d, user_id, body.org_id)) === null) throw new Forbidden('not a member of this organization', 'not_org_member');
      if (!(await gameIsKnown(d, body.game_id))) throw new NotFound('game not found');
      const facts = proofFacts(body);
      const known = await storeIdOf(d, body.game_id, facts.platform);
      // A store id the catalog knows must match: an Epic manifest of another game proves nothing here.
      if (known !== undefined && facts.externalIds.length > 0 && !facts.externalIds.includes(known)) {
        throw new BadRequest(`the proof does not match this game’s ${facts.platform} id`, 'proof_mismatch');
      }
      const externalId = known ?? facts.externalIds[0] ?? null;
      try {
        const now = nowIso();
        await runBatch(db(c.env), [
          upsertEntryStatement({ orgId: body.org_id, userId: user_id, gameId: body.game_id, platform: facts.platform, externalId, source: body.kind, now }),
          upsertProofStatement({ orgId: body.org_id, userId: user_id, gameId: body.game_id, kind: body.kind, proof: facts.proof, status: 'pending', now }),
          refreshEntriesStatement(body.org_id, user_id, now),
          auditStatement(c, 'library.proof.submit', { orgId: body.org_id, targetType: 'user', targetId: user_id, details: { kind: body.kind, game_id: body.game_id } }),
        ]);
      } catch (e) {
        // The game (or org) was deleted between the checks and the batch; nothing was written.
        if (isForeignKeyViolation(e)) throw new NotFound('game not found');
        throw e;
      }
      // A resubmitted proof goes back to review (a verified entry can lose its entitlement).
      await forgetPlayFacts(c.env, body.org_id);
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
