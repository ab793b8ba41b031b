/**
 * The console's sign-in routes (contract §3.7–3.9 plus refresh/logout): the launcher's bootstrap
 * probe, registration (with an org invite code), login, token refresh, logout, and the paired TV's
 * token poll. They answer with the console's login answer (launcher tiles, orgs, settings and the
 * tokens in the JSON body); the mechanics (password check, token minting, refresh rotation,
 * throttles, the registration rules, the device exchange) are identity's, in `src/auth/`.
 *
 *   app.route('/users', registrationRoutes)        // GET /users/exists, POST /users
 *      .route('/auth', consoleSignInRoutes)        // POST /auth/login | /auth/refresh | /auth/logout
 *      .route('/auth/device', deviceTokenRoutes)   // POST /auth/device/token
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { checkCredentials, hasUsers, presentUser, type UserRow } from '../auth/accounts';
import { audit } from '../auth/audit';
import { DeviceTokenIn, exchangeDeviceCode } from '../auth/device';
import { optionalUser, requireUser } from '../auth/middleware';
import { clientMeta, logout, refreshLogin, startLogin } from '../auth/refresh';
import { registerAccount } from '../auth/registration';
import { db } from '../db/client';
import { errors, json, jsonBody, newRouter, z } from '../http/openapi';
import { buildTiles } from './apps/tiles';
import { bindInvite, claimInvite, redeemInvite, releaseInvite } from './invites';
import { AppTileSchema, OrgOutSchema, SettingsObject } from './schemas';
import { memberOrgsOf } from './tenancy/queries';
import { settingsOf } from './users/settings';

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

const DeviceTokenOut = LoginResponse.extend({
  org_id: z.number().int().nullable().openapi({ description: 'The org chosen on the phone, if the user still belongs to it' }),
}).openapi('DeviceTokenResponse');

/** Starts a launcher login for this account and answers with everything the launcher shows first. */
async function loginAnswer(c: Context<AppEnv>, row: UserRow) {
  const env = c.env;
  const d = db(env);
  const [view, login, orgs, settings] = await Promise.all([
    presentUser(env, row),
    startLogin(env, row, 'launcher', clientMeta(c)),
    memberOrgsOf(d, row.id),
    settingsOf(d, row.id),
  ]);
  const apps = await buildTiles(d, env, { userId: row.id, orgId: orgs[0]?.id ?? null, chartDate: null });
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
    refresh_token: login.refreshSession.refreshToken,
  };
}

export const registrationRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/exists',
      operationId: 'getBootstrapState',
      tags: ['identity'],
      security: [],
      summary: 'Whether any account exists (the launcher’s first-run probe)',
      // No input can fail; the 404 is the house answer for any other path under /users it does not serve.
      responses: { 200: json(z.object({ has_users: z.boolean() }), 'Bootstrap state'), ...errors(404) },
    }),
    async (c) => c.json({ has_users: await hasUsers(c.env) }, 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'registerUser',
      tags: ['identity'],
      // Anonymous by default; an admin's bearer token lifts the closed-registration rule.
      security: [{}, { bearer: [] }] as Array<Record<string, string[]>>,
      summary: 'Register. The first account becomes admin; afterwards registration needs open registration, an invite code, or an admin caller',
      middleware: [optionalUser],
      request: { body: jsonBody(Credentials) },
      responses: { 201: json(LoginResponse, 'Registered and signed in'), ...errors(400, 403, 409, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const d = db(c.env);
      // The code is claimed BEFORE the account exists (compare-and-set): of concurrent registrations
      // with one single-use code exactly one proceeds; a failed registration releases it.
      const claim = body.invite_code !== undefined ? await claimInvite(d, body.invite_code) : null;
      let row;
      try {
        row = await registerAccount(c, { username: body.username, password: body.password }, { invited: claim !== null });
      } catch (e) {
        if (claim) await releaseInvite(d, claim);
        throw e;
      }
      if (claim) {
        await bindInvite(d, claim, row.id);
        await audit(c, 'org.member.join', { actorUserId: row.id, orgId: claim.orgId, targetType: 'user', targetId: row.id, details: { role: claim.role, via: 'invite' } });
      }
      return c.json(await loginAnswer(c, row), 201);
    },
  );

export const consoleSignInRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/login',
      operationId: 'login',
      tags: ['identity'],
      security: [],
      summary: 'Sign in (launcher): tokens in the body',
      request: { body: jsonBody(Credentials) },
      responses: { 200: json(LoginResponse, 'Signed in'), ...errors(400, 401, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { row } = await checkCredentials(c, body.username, body.password);
      if (body.invite_code) {
        const joined = await redeemInvite(db(c.env), row.id, body.invite_code);
        if (joined) await audit(c, 'org.member.join', { actorUserId: row.id, orgId: joined.orgId, targetType: 'user', targetId: row.id, details: { role: joined.role, via: 'invite' } });
      }
      return c.json(await loginAnswer(c, row), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/refresh',
      operationId: 'refreshLogin',
      tags: ['identity'],
      security: [],
      summary: 'Rotate a refresh token. A retry with the immediately previous token within the grace window gets the same successor; any other replay revokes the whole login',
      request: { body: jsonBody(z.object({ refresh_token: z.string().max(256) })) },
      responses: { 200: json(TokenPair, 'New tokens'), ...errors(400, 401) },
    }),
    async (c) => {
      const { accessToken, expiresIn, refreshToken } = await refreshLogin(c, c.req.valid('json').refresh_token);
      return c.json({ token: accessToken, access_token: accessToken, token_type: 'Bearer' as const, expires_in: expiresIn, refresh_token: refreshToken }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/logout',
      operationId: 'logout',
      tags: ['identity'],
      security: [{ bearer: [] }],
      summary: 'End this login (every rotation of its refresh token)',
      middleware: [requireUser],
      responses: { 204: { description: 'Signed out' }, ...errors(401) },
    }),
    async (c) => {
      await logout(c);
      return c.body(null, 204);
    },
  );

export const deviceTokenRoutes = newRouter().openapi(
  createRoute({
    method: 'post',
    path: '/token',
    operationId: 'exchangeDeviceCode',
    tags: ['identity'],
    security: [],
    summary: 'Poll for the device’s tokens (RFC 8628 §3.4); JSON or form-encoded',
    description:
      'While waiting: 400 `authorization_pending`; sooner than `interval`: 400 `slow_down` (the interval grows by 5 s); ' +
      '`expired_token`, `access_denied`; an unknown or already exchanged code: `invalid_grant`. On approval, once: the login answer.',
    request: {
      body: {
        required: false,
        content: {
          'application/json': { schema: DeviceTokenIn },
          'application/x-www-form-urlencoded': { schema: DeviceTokenIn },
        },
      },
    },
    responses: { 200: json(DeviceTokenOut, 'Signed in (exactly once per device code)'), ...errors(400, 415) },
  }),
  async (c) => c.json(await exchangeDeviceCode(c, (row) => loginAnswer(c, row)), 200),
);
