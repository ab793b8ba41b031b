/**
 * DVR identity routes under `/api` (contract dvr-api §2–3.3): cookie login for the dashboard,
 * refresh with rotation, logout, the current user, password change. Messages are the contract's.
 */
import { createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { Unauthorized } from '../http/errors';
import { clientIp } from '../http/middleware';
import { errors, failWith, json, jsonBody, newRouter, z } from '../http/openapi';
import { checkCredentials, findUserById, presentUser, setPassword } from './accounts';
import { audit } from './audit';
import { clearAuthCookies, refreshCookie, setAuthCookies } from './cookies';
import { assertSameOrigin, requireUser } from './middleware';
import { scryptParams, verifyPassword } from './passwords';
import { checkAccountLock, checkIpLimit, clearFailures, recordFailure, throttleKey } from './throttle';
import { clientMeta, logout, refreshLogin, revokeUserRefreshSessionsOf, startLogin } from './refresh';

export const UserSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    role: z.enum(['admin', 'user']),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('User');

const DvrLogin = z.object({ username: z.string().min(1).max(256), password: z.string().min(1).max(1024) });
const ChangePassword = z.object({ current_password: z.string().min(1).max(1024), new_password: z.string().min(1).max(1024) });

export const dvrAuthRouter = newRouter<AppEnv>()
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/login',
      tags: ['dvr identity'],
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
      path: '/auth/refresh',
      tags: ['dvr identity'],
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
      path: '/auth/logout',
      tags: ['dvr identity'],
      summary: 'Sign out: revokes the login and clears both cookies',
      middleware: [requireUser],
      responses: { 204: { description: 'Signed out' }, ...errors(401, 403) },
    }),
    async (c) => {
      await logout(c);
      clearAuthCookies(c);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me',
      tags: ['dvr identity'],
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
      path: '/me/change-password',
      tags: ['dvr identity'],
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
