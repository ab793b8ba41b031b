/**
 * Console identity routes (contract §3.7–3.9 plus refresh/logout): the launcher's bootstrap
 * probe, registration, login, token refresh and logout. Tokens travel in JSON bodies; `token` in
 * the login answer is the real access JWT (the prototype's was decorative).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { Forbidden, Unauthorized } from '../http/errors';
import { clientIp } from '../http/middleware';
import { errors, json, jsonBody, newRouter, z } from '../http/openapi';
import { AppTileSchema, OrgOutSchema, SettingsObject } from '../console/schemas';
import { buildTiles } from '../console/tiles';
import { settingsOf, userOrgs } from '../console/profile';
import { bindInvite, claimInvite, redeemInvite, releaseInvite } from '../console/invites';
import { checkCredentials, createUser, hasUsers, presentUser } from './accounts';
import { audit } from './audit';
import { optionalUser, requireUser } from './middleware';
import { revokeSessionFamilyOf, rotateSession, startLogin } from './refresh';
import { issueAccessToken } from './tokens';
import { isOpenRegistration } from './registration';
import { checkAccountLock, recordFailure, registrationLimits, throttleKey } from './throttle';

const Credentials = z
  .object({
    username: z.string().max(256),
    password: z.string().max(1024),
    invite_code: z.string().max(128).optional().openapi({ description: 'Joins the inviting org' }),
  })
  .openapi('Credentials');

export const LoginResponse = z
  .object({
    user_id: z.number().int(),
    username: z.string(),
    role: z.enum(['admin', 'user']),
    apps: z.array(AppTileSchema),
    settings: SettingsObject,
    orgs: z.array(OrgOutSchema),
    token: z.string().openapi({ description: 'Access token (JWT, 15 min): send as `Authorization: Bearer`' }),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    refresh_token: z.string(),
  })
  .openapi('LoginResponse');

const TokenPair = z
  .object({ token: z.string(), access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), refresh_token: z.string() })
  .openapi('TokenPair');

export async function loginResponse(c: Context<AppEnv>, row: Parameters<typeof presentUser>[1]) {
  const env = c.env;
  const [view, login, orgs, settings] = await Promise.all([
    presentUser(env, row),
    startLogin(env, row, 'launcher', { ip: clientIp(c.req.raw), userAgent: c.req.header('User-Agent') }),
    userOrgs(env, row.id),
    settingsOf(env, row.id),
  ]);
  const apps = await buildTiles(env, { userId: row.id, orgId: orgs[0]?.id ?? null, chartDate: null });
  return {
    user_id: row.id,
    username: view.username,
    role: row.role,
    apps,
    settings,
    orgs,
    token: login.accessToken,
    token_type: 'Bearer' as const,
    expires_in: login.expiresIn,
    refresh_token: login.session.refreshToken,
  };
}

/** 429 once this address used up its registrations for the window; otherwise counts this one. */
async function countRegistration(env: Env, ip: string): Promise<void> {
  const key = throttleKey.registration(ip);
  await checkAccountLock(env, key, 'too many registrations from this address; try again later');
  await recordFailure(env, key, registrationLimits(env));
}

export const consoleAuthRouter = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/users/exists',
      tags: ['identity'],
      summary: 'Whether any account exists (the launcher’s first-run probe)',
      responses: { 200: json(z.object({ has_users: z.boolean() }), 'Bootstrap state') },
    }),
    async (c) => c.json({ has_users: await hasUsers(c.env) }, 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/users',
      tags: ['identity'],
      summary: 'Register. The first account becomes admin; afterwards registration needs open registration, an invite code, or an admin caller',
      middleware: [optionalUser],
      request: { body: jsonBody(Credentials) },
      responses: { 201: json(LoginResponse, 'Registered and signed in'), ...errors(400, 403, 409, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const env = c.env;
      const caller = c.get('user');
      // The code is claimed BEFORE the account exists (compare-and-set): of concurrent registrations
      // with one single-use code exactly one proceeds; a failed registration releases it.
      const claim = body.invite_code !== undefined ? await claimInvite(env, body.invite_code) : null;
      let row;
      try {
        if (await hasUsers(env)) {
          const allowed = caller?.role === 'admin' || claim !== null || (await isOpenRegistration(env));
          if (!allowed) throw new Forbidden('registration is closed; ask an admin for an invite', 'registration_closed');
        }
        // Each registration costs a password hash: counted per client address (admins exempt).
        if (caller?.role !== 'admin') await countRegistration(env, clientIp(c.req.raw));
        row = await createUser(env, { username: body.username, password: body.password });
      } catch (e) {
        if (claim) await releaseInvite(env, claim);
        throw e;
      }
      await audit(c, 'user.create', { actorUserId: caller?.id ?? row.id, targetType: 'user', targetId: row.id, details: { role: row.role, via: 'register' } });
      if (claim) {
        await bindInvite(env, claim, row.id);
        await audit(c, 'org.member.join', { actorUserId: row.id, orgId: claim.orgId, targetType: 'user', targetId: row.id, details: { role: claim.role, via: 'invite' } });
      }
      return c.json(await loginResponse(c, row), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/login',
      tags: ['identity'],
      summary: 'Sign in (launcher): tokens in the body',
      request: { body: jsonBody(Credentials) },
      responses: { 200: json(LoginResponse, 'Signed in'), ...errors(400, 401, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { row } = await checkCredentials(c, body.username, body.password);
      if (body.invite_code) {
        const joined = await redeemInvite(c.env, row.id, body.invite_code);
        if (joined) await audit(c, 'org.member.join', { actorUserId: row.id, orgId: joined.orgId, targetType: 'user', targetId: row.id, details: { role: joined.role, via: 'invite' } });
      }
      return c.json(await loginResponse(c, row), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/refresh',
      tags: ['identity'],
      summary: 'Rotate a refresh token. A retry with the immediately previous token within the grace window gets the same successor; any other replay revokes the whole login',
      request: { body: jsonBody(z.object({ refresh_token: z.string().max(256) })) },
      responses: { 200: json(TokenPair, 'New tokens'), ...errors(400, 401) },
    }),
    async (c) => {
      const { refresh_token } = c.req.valid('json');
      const r = await rotateSession(c.env, refresh_token, { ip: clientIp(c.req.raw), userAgent: c.req.header('User-Agent') });
      if (!r.ok) {
        if (r.reason === 'reused') await audit(c, 'auth.refresh.reuse', { actorUserId: r.userId ?? null, targetType: 'user', targetId: r.userId });
        throw new Unauthorized('invalid or expired refresh token', 'invalid_refresh_token');
      }
      if (r.retried) await audit(c, 'auth.refresh.retry', { actorUserId: r.userId, targetType: 'user', targetId: r.userId, details: { sid: r.session.sid } });
      const { token, expiresIn } = await issueAccessToken(c.env, { userId: r.userId, sid: r.session.sid, role: r.role });
      return c.json({ token, access_token: token, token_type: 'Bearer' as const, expires_in: expiresIn, refresh_token: r.session.refreshToken }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/logout',
      tags: ['identity'],
      summary: 'End this login (every rotation of its refresh token)',
      middleware: [requireUser],
      responses: { 204: { description: 'Signed out' }, ...errors(401) },
    }),
    async (c) => {
      await revokeSessionFamilyOf(c.env, c.get('user').sid, 'logout');
      await audit(c, 'auth.logout', { targetType: 'user', targetId: c.get('user').id });
      return c.body(null, 204);
    },
  );
