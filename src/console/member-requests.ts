/**
 * Joining an org by consent (issue 11 item 9): an org admin asks a person, named by username, to
 * join; that person sees the request and accepts or declines it. Nobody is enrolled without
 * consent, and the requester learns nothing about which usernames exist:
 * - the request is stored by username digest whether or not an account has that name, and the
 *   answer (202), the org's request list and the cancel route look identical either way;
 * - only the account holding that name sees the request (matched through its own digest), and the
 *   accept is one batch whose conditional UPDATE also checks that the requester still holds
 *   admin/owner in the org (or is a platform admin).
 *
 *   POST   /orgs/{org_id}/member-requests                org admin/owner: { username, role } → 202
 *   GET    /orgs/{org_id}/member-requests                org admin/owner: the org's requests
 *   DELETE /orgs/{org_id}/member-requests/{request_id}   org admin/owner: cancel a pending one
 *   GET    /orgs/requests                                any user: requests addressed to them
 *   POST   /orgs/requests/{request_id}/accept            the addressee: joins the org
 *   POST   /orgs/requests/{request_id}/decline           the addressee
 */
import { createRoute } from '@hono/zod-openapi';
import { usernameProblem, usernamesByIds } from '../auth/accounts';
import { audit, auditIfChanged } from '../auth/audit';
import { requireUser } from '../auth/middleware';
import { membershipRole } from '../auth/queries/users';
import { displayUsername, usernameKeys } from '../auth/usernames';
import { changes, db } from '../db/client';
import { BadRequest, Conflict, NotFound } from '../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../http/openapi';
import { nowIso, world } from '../world';
import { assertOrgAccess } from './tenancy/access';
import {
  acceptMemberRequestStatements,
  cancelMemberRequestStatement,
  declineMemberRequestStatement,
  incomingMemberRequests,
  memberByDigest,
  orgMemberRequestList,
  upsertMemberRequest,
} from './tenancy/queries';

export const MEMBER_REQUEST_TTL_MS = 14 * 24 * 3600_000;

const OrgParams = z.object({ org_id: IntId });
const OrgRequestParams = z.object({ org_id: IntId, request_id: IntId });
const RequestParams = z.object({ request_id: IntId });
const RequestIn = z
  .object({ username: z.string().min(1).max(256), role: z.enum(['admin', 'member']).default('member') })
  .strict()
  .openapi('OrgMemberRequestIn');
const Status = z.enum(['pending', 'accepted', 'declined', 'cancelled', 'expired']);
const RequestOut = z
  .object({
    id: z.number().int(),
    org_id: z.number().int(),
    username: z.string().openapi({ description: 'As the requester typed it' }),
    role: z.enum(['admin', 'member']),
    status: Status,
    requested_by: z.object({ user_id: z.number().int(), username: z.string() }).nullable(),
    created_at: z.string(),
    expires_at: z.string(),
    answered_at: z.string().nullable(),
  })
  .openapi('OrgMemberRequest');
const IncomingOut = z
  .object({
    id: z.number().int(),
    org: z.object({ id: z.number().int(), slug: z.string(), name: z.string() }),
    role: z.enum(['admin', 'member']),
    requested_by: z.string().nullable().openapi({ description: 'Username of the org admin who asked' }),
    created_at: z.string(),
    expires_at: z.string(),
  })
  .openapi('IncomingOrgMemberRequest');

export const memberRequestRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listMyMemberRequests',
      tags: ['orgs'],
      summary: 'Pending requests to join an org addressed to the caller',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      responses: { 200: json(z.array(IncomingOut), 'Pending requests, newest first'), ...errors(401) },
    }),
    async (c) => {
      const me = c.get('user');
      const rows = await incomingMemberRequests(db(c.env), me.id, nowIso());
      const names = await usernamesByIds(c.env, rows.map((r) => r.requestedBy));
      return c.json(
        rows.map((r) => ({
          id: r.id,
          org: { id: r.orgId, slug: r.slug, name: r.name },
          role: r.role,
          requested_by: r.requestedBy === null ? null : (names.get(r.requestedBy) ?? null),
          created_at: r.createdAt,
          expires_at: r.expiresAt,
        })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{request_id}/accept',
      operationId: 'acceptMemberRequest',
      tags: ['orgs'],
      summary: 'Accept a request addressed to the caller: joins the org with the requested role',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: RequestParams },
      responses: { 200: json(z.object({ org_id: z.number().int(), role: z.enum(['owner', 'admin', 'member']) }), 'Joined'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { request_id } = c.req.valid('param');
      const me = c.get('user');
      const now = nowIso();
      const d = db(c.env);
      const [accepted] = await d.batch(acceptMemberRequestStatements(d, me.id, request_id, now));
      const row = accepted[0];
      if (!row) throw new NotFound('no pending request with this id for you', 'request_not_found');
      await audit(c, 'org.member.join', { orgId: row.orgId, targetType: 'user', targetId: me.id, details: { role: row.role, via: 'request', request_id } });
      const role = await membershipRole(d, me.id, row.orgId);
      return c.json({ org_id: row.orgId, role: role ?? row.role }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{request_id}/decline',
      operationId: 'declineMemberRequest',
      tags: ['orgs'],
      summary: 'Decline a request addressed to the caller',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: RequestParams },
      responses: { 200: json(z.object({ declined: z.number().int() }), 'Declined'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { request_id } = c.req.valid('param');
      const me = c.get('user');
      const now = nowIso();
      const d = db(c.env);
      const [res] = await d.batch([
        declineMemberRequestStatement(d, me.id, request_id, now),
        auditIfChanged(c, 'org.member.request.decline', { targetType: 'member_request', targetId: request_id }),
      ]);
      if (changes(res) === 0) throw new NotFound('no pending request with this id for you', 'request_not_found');
      return c.json({ declined: request_id }, 200);
    },
  );

export const orgMemberRequestRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createMemberRequest',
      tags: ['orgs'],
      summary: 'Ask a person, by username, to join the org (org admin/owner). Always 202 for a non-member name: the answer never says whether the name exists',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: OrgParams, body: jsonBody(RequestIn) },
      responses: { 202: json(RequestOut, 'Requested; the person sees it if the name is theirs'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      const body = c.req.valid('json');
      await assertOrgAccess(c, org_id, 'admin');
      const problem = usernameProblem(body.username);
      if (problem) throw new BadRequest(problem, 'invalid_username');
      const display = displayUsername(body.username);
      const keys = await usernameKeys(c.env.COUCHSUITE_USERNAME_SECRET);
      const digest = await keys.digest(display);
      const d = db(c.env);
      // The members of the org are visible to its admins already: saying so reveals nothing new.
      const member = await memberByDigest(d, org_id, digest);
      if (member) throw new Conflict('already a member of this organization', 'already_member');
      const now = nowIso();
      const expiresAt = new Date(world.now() + MEMBER_REQUEST_TTL_MS).toISOString();
      const usernameEnc = await keys.encrypt(display, digest);
      const me = c.get('user');
      const row = await upsertMemberRequest(d, org_id, digest, { usernameEnc, role: body.role, requestedBy: me.id, createdAt: now, expiresAt });
      await audit(c, 'org.member.request', { orgId: org_id, targetType: 'member_request', targetId: row.id, details: { role: body.role } });
      const names = await usernamesByIds(c.env, [me.id]);
      return c.json(
        { id: row.id, org_id, username: display, role: row.role, status: 'pending' as const, requested_by: { user_id: me.id, username: names.get(me.id) ?? '' }, created_at: now, expires_at: expiresAt, answered_at: null },
        202,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listOrgMemberRequests',
      tags: ['orgs'],
      summary: 'The org’s requests, pending first (org admin/owner)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: OrgParams },
      responses: { 200: json(z.array(RequestOut), 'Requests'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      await assertOrgAccess(c, org_id, 'admin');
      const rows = await orgMemberRequestList(db(c.env), org_id);
      const keys = await usernameKeys(c.env.COUCHSUITE_USERNAME_SECRET);
      const names = await usernamesByIds(c.env, rows.map((r) => r.requestedBy));
      const now = nowIso();
      const out = await Promise.all(
        rows.map(async (r) => ({
          id: r.id,
          org_id,
          username: await keys.decrypt(r.usernameEnc, r.usernameDigest).catch(() => ''),
          role: r.role,
          status: r.status === 'pending' && r.expiresAt <= now ? ('expired' as const) : r.status,
          requested_by: r.requestedBy === null ? null : { user_id: r.requestedBy, username: names.get(r.requestedBy) ?? '' },
          created_at: r.createdAt,
          expires_at: r.expiresAt,
          answered_at: r.answeredAt,
        })),
      );
      return c.json(out, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{request_id}',
      operationId: 'cancelMemberRequest',
      tags: ['orgs'],
      summary: 'Cancel a pending request (org admin/owner)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: OrgRequestParams },
      responses: { 200: json(z.object({ cancelled: z.number().int(), org_id: z.number().int() }), 'Cancelled'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, request_id } = c.req.valid('param');
      await assertOrgAccess(c, org_id, 'admin');
      const d = db(c.env);
      const [res] = await d.batch([
        cancelMemberRequestStatement(d, org_id, request_id, nowIso()),
        auditIfChanged(c, 'org.member.request.cancel', { orgId: org_id, targetType: 'member_request', targetId: request_id }),
      ]);
      if (changes(res) === 0) throw new NotFound('no pending request with this id in this organization', 'request_not_found');
      return c.json({ cancelled: request_id, org_id }, 200);
    },
  );
