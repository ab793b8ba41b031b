/**
 * `/api/users` CRUD for the dashboard's admin pages (contract §3.8), admin only, on the shared
 * identity (usernames are stored as digest + ciphertext, see auth/usernames.ts). Deviations for
 * safety: roles are validated on update too, a duplicate username on update is 409 (not 404),
 * passwords follow the platform policy, an admin password reset revokes the user's logins, every
 * edit is all-or-nothing with the invariants in SQL (auth/user-admin.ts: never without a platform
 * admin, no self-deletion, an org's last owner stays, live play seats ended first), and deleting a
 * user stops every recorder whose last active subscriber they were (§7.10 fixed).
 *
 *   POST /api/users {"username":"bob","password":"...","role":"user"} → 201 User
 *   DELETE /api/users/7                                            → 204
 */
import { createRoute } from '@hono/zod-openapi';
import { createUser, findUserById, presentUser, usernamesOf } from '../auth/accounts';
import { audit } from '../auth/audit';
import { requireAdmin, requireCallerDeferred, requireUser } from '../auth/middleware';
import { applyUserEdit, deleteUserAccount, planUserEdit } from '../auth/user-admin';
import { BadRequest, NotFound } from '../http/errors';
import { describeIssues, errors, failWith, json, jsonBody, newRouter, z } from '../http/openapi';
import { db } from '../db/client';
import { overseerLink } from './overseer';
import { UserIdParams } from './paths';
import { adminOnly, conditionalList, IfNoneMatchHeaders, notModified } from './conditional';
import { activeSubscriptions, listUserRows, scopes, soleSubscribedSources } from './queries';
import { UserSchema } from './user-schema';

const tags = ['dvr users'];
const admin = [requireUser, requireAdmin];
const IdParams = UserIdParams;
const security = [{ bearer: [] }];
const Role = z.enum(['admin', 'user']);

const CreateUser = z.object({ username: z.string().min(1).max(256), password: z.string().min(1).max(1024), role: Role.optional() }).openapi('CreateUser');
const UpdateUser = z
  .object({ username: z.string().min(1).max(256).optional(), password: z.string().min(1).max(1024).optional(), role: Role.optional() })
  .strict()
  .openapi('UpdateUser');

type Issues = readonly { path: PropertyKey[]; message: string; code: string }[];

function createHook(result: { success: boolean; error?: { issues: Issues } }): undefined {
  if (result.success || !result.error) return undefined;
  const issues = result.error.issues;
  const details = describeIssues(issues);
  if (issues.some((i) => i.path.length === 0)) throw new BadRequest('invalid JSON', 'invalid_json', details);
  if (issues.some((i) => i.path[0] === 'username' || i.path[0] === 'password')) throw new BadRequest('username and password are required', 'validation_failed', details);
  throw new BadRequest("role must be 'admin' or 'user'", 'validation_failed', details);
}

function updateHook(result: { success: boolean; error?: { issues: Issues } }, c: { req: { param(k: string): string | undefined } }): undefined {
  if (result.success || !result.error) return undefined;
  const issues = result.error.issues;
  const details = describeIssues(issues);
  if (!/^[1-9][0-9]{0,15}$/.test(c.req.param('id') ?? '')) throw new BadRequest('invalid user id', 'validation_failed', details);
  if (issues.some((i) => i.path[0] === 'role')) throw new BadRequest("role must be 'admin' or 'user'", 'validation_failed', details);
  if (issues.some((i) => i.path.length === 0 && i.code === 'invalid_type')) throw new BadRequest('invalid JSON', 'invalid_json', details);
  const first = issues[0]!;
  throw new BadRequest(first.path.length ? `${first.path.map(String).join('.')}: ${first.message}` : first.message, 'validation_failed', details);
}

export const dvrUserRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'dvrListUsers',
      tags,
      security,
      summary: 'Every user, ordered by id',
      // One round trip: the caller's check, the counter and the list in one batch (conditional.ts).
      middleware: [requireCallerDeferred],
      request: { headers: IfNoneMatchHeaders },
      responses: { 200: json(z.array(UserSchema), 'Users'), ...notModified, ...errors(401, 403) },
    }),
    async (c) => {
      const d = db(c.env);
      return conditionalList(c, d, {
        view: { key: 'users', scopes: [scopes.users] },
        adminList: true,
        authorize: adminOnly,
        rows: (guard) => listUserRows(d, guard),
        present: async (rows: Awaited<ReturnType<typeof listUserRows>>) => {
          const names = await usernamesOf(c.env, rows);
          return rows.map((r) => ({ id: r.id, username: names.get(r.id) ?? '', role: r.role, created_at: r.createdAt, updated_at: r.updatedAt }));
        },
      });
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'dvrCreateUser',
      tags,
      security,
      summary: 'Create a user (role defaults to user)',
      middleware: admin,
      request: { body: jsonBody(CreateUser) },
      responses: { 201: json(UserSchema, 'Created'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const row = await createUser(c.env, { username: body.username, password: body.password, role: body.role ?? 'user' });
      await audit(c, 'user.create', { targetType: 'user', targetId: row.id, details: { role: row.role, via: 'dvr' } });
      return c.json(await presentUser(c.env, row), 201);
    },
    createHook,
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      operationId: 'dvrGetUser',
      tags,
      security,
      summary: 'One user',
      middleware: admin,
      request: { params: IdParams },
      responses: { 200: json(UserSchema, 'The user'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const row = await findUserById(c.env, c.req.valid('param').id);
      if (!row) throw new NotFound('user not found');
      return c.json(await presentUser(c.env, row), 200);
    },
    failWith('invalid user id'),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/{id}',
      operationId: 'dvrUpdateUser',
      tags,
      security,
      summary: 'Change username, password and/or role (only the keys present), all or nothing; the last platform admin cannot be demoted (409)',
      middleware: admin,
      request: { params: IdParams, body: jsonBody(UpdateUser) },
      responses: { 200: json(UserSchema, 'The user'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const body = c.req.valid('json');
      const row = await findUserById(c.env, id);
      if (!row) throw new NotFound('user not found');
      // Every field is validated (and the password hashed) before anything is written, then one batch.
      await applyUserEdit(c, id, await planUserEdit(c.env, row, body));
      return c.json(await presentUser(c.env, (await findUserById(c.env, id))!), 200);
    },
    updateHook,
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      operationId: 'dvrDeleteUser',
      tags,
      security,
      summary: "Delete a user (cascades to subscriptions and logins); ends their live play sessions and stops recorders left without an active subscriber. 409 for oneself, the last platform admin, or an org's last owner",
      middleware: admin,
      request: { params: IdParams },
      responses: { 204: { description: 'Deleted (also when there was no such user)' }, ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const d = db(c.env);
      // Sources where this user is the only active subscriber: stop them once the cascade ran.
      const sole = await soleSubscribedSources(d, id);
      const { deleted } = await deleteUserAccount(c, id, { via: 'dvr', stopped_sources: sole.length });
      if (deleted) {
        const link = overseerLink(c.env);
        for (const ref of sole) {
          // Re-check: someone may have subscribed in between.
          if ((await activeSubscriptions(d, ref.sourceId)) === 0) await link.stopSource(ref);
        }
      }
      return c.body(null, 204);
    },
    failWith('invalid user id'),
  );
