/**
 * DVR identity routes (contract dvr-api §2–3.3): `/api/auth` (cookie login for the dashboard,
 * refresh with rotation, logout) and `/api/me` (the current user, password change). Messages are
 * the contract's; the machinery is auth's.
 */
import { createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { Unauthorized } from '../http/errors';
import { clientIp } from '../http/middleware';
import { errors, failWith, json, jsonBody, newRouter, z } from '../http/openapi';
import { UserSchema } from './user-schema';
import { checkCredentials, findUserById, presentUser, setPassword } from '../auth/accounts';
import { audit } from '../auth/audit';
import { clearAuthCookies, refreshCookie, setAuthCookies } from '../auth/cookies';
import { assertSameOrigin, requireUser } from '../auth/middleware';
import { scryptParams, verifyPassword } from '../auth/passwords';
import { checkAccountLock, checkIpLimit, clearFailures, recordFailure, throttleKey } from '../auth/throttle';
import { clientMeta, logout, refreshLogin, revokeUserRefreshSessionsOf, startLogin } from '../auth/refresh';

const DvrLogin = z.object({ username: z.string().min(1).max(256), password: z.string().min(1).max(1024) });
const ChangePassword = z.object({ current_password: z.string().min(1).max(1024), new_password: z.string().min(1).max(1024) });

const security = [{ bearer: [] }];

/** `/api/auth`: sign in, refresh, sign out. */
export const dvrAuthRoutes = newRouter<AppEnv>()
  .openapi(
    createRoute({
      method: 'post',
      path: '/login',
      operationId: 'dvrLogin',
      tags: ['dvr identity'],
      security: [],
      summary: 'Sign in (dashboard): sets the HttpOnly access and refresh cookies',
      request: { body: jsonBody(DvrLogin) },
      responses: { 200: json(z.object({ access_token: z.string(), user: UserSchema }), 'Signed in'), ...errors(400, 401, 429) },
    }),
    async (c) => {
      assertSameOrigin(c);
      const body = c.req.valid('json');
      const { row } = await checkCredentials(c, body.username, body.password);
      const login = await startLogin(c.env, row, 'dashboard', clientMeta(c));
      setAuthCookies(c, login.accessToken, login.refreshSession.refreshToken);
      return c.json({ access_token: login.accessToken, user: await presentUser(c.env, row) }, 200);
    },
    failWith('username and password are required'),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/refresh',
      operationId: 'dvrRefresh',
      tags: ['dvr identity'],
      security: [{ refreshCookie: [] }],
      summary: 'Rotate the refresh cookie. A retry with the immediately previous cookie within the grace window gets the same successor; any other replay revokes the whole login',
      responses: { 200: json(z.object({ access_token: z.string() }), 'New cookies'), ...errors(401, 403) },
    }),
    async (c) => {
      assertSameOrigin(c);
      const token = refreshCookie(c);
      if (!token) throw new Unauthorized('missing refresh token', 'missing_refresh_token');
      const { accessToken, refreshToken } = await refreshLogin(c, token);
      setAuthCookies(c, accessToken, refreshToken);
      return c.json({ access_token: accessToken }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/logout',
      operationId: 'dvrLogout',
      tags: ['dvr identity'],
      security,
      summary: 'Sign out: revokes the login and clears both cookies',
      middleware: [requireUser],
      responses: { 204: { description: 'Signed out' }, ...errors(401, 403) },
    }),
    async (c) => {
      await logout(c);
      clearAuthCookies(c);
      return c.body(null, 204);
    },
  );

/** `/api/me`: the signed-in user. */
export const meRoutes = newRouter<AppEnv>()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'dvrGetMe',
      tags: ['dvr identity'],
      security,
      summary: 'The current user',
      middleware: [requireUser],
      responses: { 200: json(UserSchema, 'The current user'), ...errors(401, 403) },
    }),
    async (c) => {
      const row = await findUserById(c.env, c.get('user').id);
      // requireUser just read this row; a concurrent delete is the only way here.
      if (!row) throw new Unauthorized('invalid token', 'invalid_token');
      return c.json(await presentUser(c.env, row), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/change-password',
      operationId: 'dvrChangePassword',
      tags: ['dvr identity'],
      security,
      summary: 'Change the password; every other login of the user is revoked',
      middleware: [requireUser],
      request: { body: jsonBody(ChangePassword) },
      responses: { 204: { description: 'Changed' }, ...errors(400, 401, 403, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const me = c.get('user');
      // Each attempt costs a password hash: throttled per address and per user, failures audited.
      await checkIpLimit(c.env, clientIp(c.req.raw), 'change-password');
      const key = throttleKey.changePassword(me.id);
      try {
        await checkAccountLock(c.env, key, 'too many failed password changes; try again later');
      } catch (e) {
        await audit(c, 'user.password.change.locked', { targetType: 'user', targetId: me.id });
        throw e;
      }
      const row = await findUserById(c.env, me.id);
      if (!row) throw new Unauthorized('invalid token', 'invalid_token');
      const verdict = await verifyPassword(body.current_password, row.passHash, scryptParams(c.env));
      if (!verdict.ok) {
        const locked = await recordFailure(c.env, key);
        await audit(c, 'user.password.change.failure', { targetType: 'user', targetId: me.id });
        if (locked) await audit(c, 'user.password.change.lockout', { targetType: 'user', targetId: me.id });
        throw new Unauthorized('current password is incorrect', 'wrong_password');
      }
      await clearFailures(c.env, key);
      const view = await presentUser(c.env, row);
      await setPassword(c.env, me.id, body.new_password, view.username);
      await revokeUserRefreshSessionsOf(c.env, me.id, 'password change', me.refreshSessionId);
      await audit(c, 'user.password.change', { targetType: 'user', targetId: me.id });
      return c.body(null, 204);
    },
    failWith('current_password and new_password are required'),
  );

// The refresh route is authenticated by its HttpOnly cookie alone (path-scoped to /api/auth).
dvrAuthRoutes.openAPIRegistry.registerComponent('securitySchemes', 'refreshCookie', { type: 'apiKey', in: 'cookie', name: 'refresh_token' });
