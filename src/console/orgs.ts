/**
 * Tenancy: orgs, their members and invite codes (contract §3.10–3.13, hardened per §7.3–7.4).
 *
 *   GET    /orgs                                 platform admin: every org; others: their memberships
 *   POST   /orgs                                 platform admin; `owner_user_id` makes someone owner
 *   GET    /orgs/{org_id}/members                any member of the org (or platform admin)
 *   POST   /orgs/{org_id}/members                platform admin only: add a user by id
 *   PUT    /orgs/{org_id}/members/{user_id}      org admin/owner: change a role
 *   DELETE /orgs/{org_id}/members/{user_id}      org admin/owner: remove a member
 *   POST   /orgs/{org_id}/leave                  any member: leave
 *   POST   /orgs/{org_id}/invites                org admin/owner: a single-use, expiring code
 *   GET    /orgs/{org_id}/invites                org admin/owner: every invite and its state (never the code)
 *   DELETE /orgs/{org_id}/invites/{invite_id}    org admin/owner: revoke an open invite
 *
 * Org admins do not enroll people: members join by invite code or by accepting an add-by-username
 * request (member-requests.ts). Only platform admins add a user directly.
 *
 * Rules: only an owner (or platform admin) can grant, change or remove the `owner` role; the last
 * owner can be neither demoted nor removed (settled by conditional SQL, so two concurrent
 * demotions cannot both succeed). A role change or removal revokes, in the same batch, the open
 * invites of a creator who no longer holds admin/owner. Authorization reads `memberships` on every
 * request, so a change applies to the very next request. Non-members get one 403 whether or not
 * the org exists.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { usernamesByIds, usernamesOf } from '../auth/accounts';
import { audit, auditIfChanged, auditStatement } from '../auth/audit';
import { requireAdmin, requireUser, type OrgRole } from '../auth/middleware';
import { membershipRole } from '../auth/queries/users';
import { changes, db } from '../db/client';
import { Conflict, Forbidden, NotFound } from '../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../http/openapi';
import { nowIso } from '../world';
import { createInvite, listInvites, revokeInvite } from './invites';
import { assertOrgAccess, type Actor } from './tenancy/access';
import {
  addMembership,
  allOrgsFor,
  deleteMembershipStatement,
  insertOrgStatement,
  insertOwnerBySlugStatement,
  memberOrgsOf,
  orgMembers,
  revokeInvitesOfFormerAdminStatement,
  setRoleStatement,
  userExists,
  userNameRow,
} from './tenancy/queries';
import { cleanText, isForeignKeyViolation, isUniqueViolation, OrgOutSchema, OrgRoleSchema } from './schemas';
import { forgetPlayFacts } from './play/facts';

const OrgParams = z.object({ org_id: IntId });
const MemberParams = z.object({ org_id: IntId, user_id: IntId });

const Slug = z
  .string()
  .trim()
  .min(1, 'slug and name required')
  .max(64)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'slug: lowercase letters, digits and inner hyphens only');

const OrgIn = z
  .object({ slug: Slug, name: cleanText(100), owner_user_id: z.number().int().positive().optional() })
  .strict()
  .openapi('OrgIn');

const MemberOut = z.object({ user_id: z.number().int(), username: z.string(), role: OrgRoleSchema }).openapi('OrgMemberOut');
const MemberIn = z.object({ user_id: z.number().int().positive(), role: OrgRoleSchema.default('member') }).strict().openapi('OrgMemberIn');
const RoleIn = z.object({ role: OrgRoleSchema }).strict();
const InviteIn = z
  .object({
    role: z.enum(['admin', 'member']).default('member'),
    ttl_seconds: z.number().int().min(300).max(30 * 24 * 3600).default(7 * 24 * 3600),
  })
  .strict();
const InviteOut = z
  .object({ id: z.number().int(), code: z.string(), org_id: z.number().int(), role: z.enum(['admin', 'member']), expires_at: z.string() })
  .openapi('OrgInvite');
const InviteParams = z.object({ org_id: IntId, invite_id: IntId });
const PersonRef = z.object({ user_id: z.number().int(), username: z.string() }).nullable();
const InviteListItem = z
  .object({
    id: z.number().int(),
    org_id: z.number().int(),
    role: z.enum(['admin', 'member']),
    status: z.enum(['open', 'used', 'expired', 'revoked']),
    created_by: PersonRef.openapi({ description: 'null once the creator’s account is deleted' }),
    created_at: z.string(),
    expires_at: z.string(),
    used_by: PersonRef,
    used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    revoke_reason: z.string().nullable(),
  })
  .openapi('OrgInviteListItem');

const canTouchOwners = (a: Actor) => a === 'owner' || a === 'platform_admin';

/** Role changes involving `owner` need an owner (or platform admin); admins manage admins and members. */
function assertMayAssign(actor: Actor, from: OrgRole | null, to: OrgRole | null): void {
  if ((from === 'owner' || to === 'owner') && !canTouchOwners(actor)) {
    throw new Forbidden('only an owner can grant, change or remove the owner role', 'owner_required');
  }
}

async function presentMember(env: Env, userId: number, role: OrgRole) {
  const u = await userNameRow(db(env), userId);
  const names = u ? await usernamesOf(env, [u]) : new Map<number, string>();
  return { user_id: userId, username: names.get(userId) ?? '', role };
}

async function removeMembership(c: Context<AppEnv>, orgId: number, userId: number, action: string): Promise<void> {
  const d = db(c.env);
  const [res] = await d.batch([
    deleteMembershipStatement(d, orgId, userId),
    auditIfChanged(c, action, { orgId, targetType: 'user', targetId: userId }),
    revokeInvitesOfFormerAdminStatement(d, userId, nowIso()),
  ]);
  if (changes(res) === 0) {
    if ((await membershipRole(db(c.env), userId, orgId)) === null) throw new NotFound('member not found');
    throw new Conflict('the last owner of an organization cannot be removed; make someone else owner first', 'last_owner');
  }
  // The allocator's cached roles: the next POST /sessions must refuse a former member.
  await forgetPlayFacts(c.env, orgId);
}

export const orgRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listOrgs',
      tags: ['orgs'],
      summary: 'Orgs visible to the caller: their memberships with their role (platform admins: every org)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      responses: { 200: json(z.array(OrgOutSchema), 'Orgs by name'), ...errors(401) },
    }),
    async (c) => {
      const user = c.get('user');
      const d = db(c.env);
      // A platform admin without a membership sees `platform_admin` as the role, never a made-up one.
      const rows = user.role === 'admin' ? await allOrgsFor(d, user.id) : await memberOrgsOf(d, user.id);
      return c.json(rows, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createOrg',
      tags: ['orgs'],
      summary: 'Create an org (platform admin). `owner_user_id` (the caller or anyone) becomes its owner',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { body: jsonBody(OrgIn) },
      responses: { 201: json(OrgOutSchema, 'Created'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const owner = body.owner_user_id;
      const d = db(c.env);
      if (owner !== undefined && !(await userExists(d, owner))) {
        throw new NotFound('user not found');
      }
      const now = nowIso();
      const insertOrg = insertOrgStatement(d, { slug: body.slug, name: body.name, createdAt: now });
      try {
        const batch = await d.batch([
          insertOrg,
          ...(owner !== undefined ? [insertOwnerBySlugStatement(d, body.slug, owner, now)] : []),
          auditStatement(c, 'org.create', { targetType: 'org', targetId: body.slug, details: { slug: body.slug, owner_user_id: owner ?? null } }),
        ] as const);
        const org = batch[0][0]!;
        const user = c.get('user');
        const role = owner === user.id ? 'owner' : 'platform_admin';
        return c.json({ id: org.id, slug: org.slug, name: org.name, role }, 201);
      } catch (e) {
        if (isUniqueViolation(e)) throw new Conflict('org slug already exists', 'slug_taken');
        throw e;
      }
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{org_id}/leave',
      operationId: 'leaveOrg',
      tags: ['orgs'],
      summary: 'Leave an org (the last owner cannot leave)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: OrgParams },
      responses: { 200: json(z.object({ left: z.number().int() }), 'Left'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      const user = c.get('user');
      if ((await membershipRole(db(c.env), user.id, org_id)) === null) throw new Forbidden('not a member of this organization', 'not_org_member');
      await removeMembership(c, org_id, user.id, 'org.member.leave');
      return c.json({ left: org_id }, 200);
    },
  );

export const orgMemberRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listOrgMembers',
      tags: ['orgs'],
      summary: 'Members of an org (members of that org and platform admins only)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: OrgParams },
      responses: { 200: json(z.array(MemberOut), 'Owners, then admins, then members'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      await assertOrgAccess(c, org_id, 'member');
      const rows = await orgMembers(db(c.env), org_id);
      const names = await usernamesOf(c.env, rows);
      return c.json(rows.map((r) => ({ user_id: r.id, username: names.get(r.id) ?? '', role: r.role })), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'addOrgMember',
      tags: ['orgs'],
      summary: 'Add a user directly by id (platform admins only). Org admins invite (`/invites`) or request by username (`/member-requests`): people join by consent',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { params: OrgParams, body: jsonBody(MemberIn) },
      responses: { 201: json(MemberOut, 'Added'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      const body = c.req.valid('json');
      await assertOrgAccess(c, org_id, 'admin');
      const d = db(c.env);
      if (!(await userExists(d, body.user_id))) throw new NotFound('user not found');
      // An existing member keeps their role here: role changes go through PUT, where the owner rules apply.
      let res;
      try {
        res = await addMembership(d, { orgId: org_id, userId: body.user_id, role: body.role, createdAt: nowIso() });
      } catch (e) {
        // The org or the user was deleted between the checks and the insert.
        if (isForeignKeyViolation(e)) throw new NotFound('org or user not found');
        throw e;
      }
      if (changes(res) === 0) throw new Conflict('already a member; change the role with PUT', 'already_member');
      await audit(c, 'org.member.add', { orgId: org_id, targetType: 'user', targetId: body.user_id, details: { role: body.role } });
      return c.json(await presentMember(c.env, body.user_id, body.role), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/{user_id}',
      operationId: 'setOrgMemberRole',
      tags: ['orgs'],
      summary: 'Change a member’s role (org admin/owner; the last owner cannot be demoted)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: MemberParams, body: jsonBody(RoleIn) },
      responses: { 200: json(MemberOut, 'Updated'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id, user_id } = c.req.valid('param');
      const { role } = c.req.valid('json');
      const actor = await assertOrgAccess(c, org_id, 'admin');
      const current = await membershipRole(db(c.env), user_id, org_id);
      if (current === null) throw new NotFound('member not found');
      assertMayAssign(actor, current, role);
      if (current !== role) {
        const d = db(c.env);
        const [res] = await d.batch([
          setRoleStatement(d, org_id, user_id, role),
          auditIfChanged(c, 'org.member.role', { orgId: org_id, targetType: 'user', targetId: user_id, details: { from: current, to: role } }),
          revokeInvitesOfFormerAdminStatement(d, user_id, nowIso()),
        ]);
        if (changes(res) === 0) {
          if ((await membershipRole(db(c.env), user_id, org_id)) === null) throw new NotFound('member not found');
          throw new Conflict('the last owner of an organization cannot be demoted; make someone else owner first', 'last_owner');
        }
        await forgetPlayFacts(c.env, org_id);
      }
      return c.json(await presentMember(c.env, user_id, role), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{user_id}',
      operationId: 'removeOrgMember',
      tags: ['orgs'],
      summary: 'Remove a member (org admin/owner; removing an owner needs an owner; never the last owner)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: MemberParams },
      responses: { 200: json(z.object({ removed: z.number().int(), org_id: z.number().int() }), 'Removed'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id, user_id } = c.req.valid('param');
      const actor = await assertOrgAccess(c, org_id, 'admin');
      const current = await membershipRole(db(c.env), user_id, org_id);
      if (current === null) throw new NotFound('member not found');
      assertMayAssign(actor, current, null);
      await removeMembership(c, org_id, user_id, 'org.member.remove');
      return c.json({ removed: user_id, org_id }, 200);
    },
  );

export const inviteRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createOrgInvite',
      tags: ['orgs'],
      summary: 'Create a single-use, expiring invite code (org admin/owner). Registering or logging in with it joins the org',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: OrgParams, body: jsonBody(InviteIn) },
      responses: { 201: json(InviteOut, 'The code, shown once'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      const body = c.req.valid('json');
      await assertOrgAccess(c, org_id, 'admin');
      const user = c.get('user');
      const { id, code, expiresAt } = await createInvite(db(c.env), org_id, body.role, user.id, body.ttl_seconds);
      await audit(c, 'org.invite.create', { orgId: org_id, targetType: 'invite', targetId: id, details: { role: body.role, expires_at: expiresAt } });
      return c.json({ id, code, org_id, role: body.role, expires_at: expiresAt }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listOrgInvites',
      tags: ['orgs'],
      summary: 'The org’s invites, newest first, with their state (org admin/owner). Codes are never shown again',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: OrgParams },
      responses: { 200: json(z.array(InviteListItem), 'Invites'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      await assertOrgAccess(c, org_id, 'admin');
      const rows = await listInvites(db(c.env), org_id);
      const names = await usernamesByIds(c.env, rows.flatMap((r) => [r.createdBy, r.usedBy]));
      const who = (id: number | null) => (id === null ? null : { user_id: id, username: names.get(id) ?? '' });
      return c.json(
        rows.map((r) => ({
          id: r.id,
          org_id,
          role: r.role,
          status: r.status,
          created_by: who(r.createdBy),
          created_at: r.createdAt,
          expires_at: r.expiresAt,
          used_by: who(r.usedBy),
          used_at: r.usedAt,
          revoked_at: r.revokedAt,
          revoke_reason: r.revokeReason,
        })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{invite_id}',
      operationId: 'revokeOrgInvite',
      tags: ['orgs'],
      summary: 'Revoke an open invite (org admin/owner); a used, expired or already revoked invite is a 404',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: InviteParams },
      responses: { 200: json(z.object({ revoked: z.number().int(), org_id: z.number().int() }), 'Revoked'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, invite_id } = c.req.valid('param');
      await assertOrgAccess(c, org_id, 'admin');
      if (!(await revokeInvite(db(c.env), org_id, invite_id, 'revoked by an admin'))) throw new NotFound('no open invite with this id in this organization', 'invite_not_found');
      await audit(c, 'org.invite.revoke', { orgId: org_id, targetType: 'invite', targetId: invite_id });
      return c.json({ revoked: invite_id, org_id }, 200);
    },
  );
