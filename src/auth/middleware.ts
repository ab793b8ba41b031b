/**
 * Authentication and authorization middleware every router uses.
 *
 *   .openapi(createRoute({ ..., middleware: [requireUser] }), handler)
 *   .openapi(createRoute({ ..., middleware: [requireUser, requireAdmin] }), handler)
 *   .openapi(createRoute({ path: '/orgs/{org_id}/members', middleware: [requireUser, requireOrgRole('admin')] }), ...)
 *   await assertOrgRole(c, body.org_id, 'member');   // for an org id that arrives in a body or query
 *
 *   // One round trip for a hot route: the token is verified without I/O, the caller's D1 check
 *   // rides in the handler's first batch (a failed check answers exactly as requireUser would).
 *   .openapi(createRoute({ ..., middleware: [requireCallerDeferred] }), async (c) => {
 *     const check = callerCheck(c, d);
 *     const [callerRows, rows] = await d.batch([check.query, someQuery(d, ...)]);
 *     const user = check.confirm(callerRows);          // 401 (or the DVR 403) here; sets c.get('user')
 *   // A route public without a parameter and private with it: `optionalCallerDeferred`, then
 *   // `callerCheck` only on the private branch (an anonymous caller is refused there, 401).
 *
 * Tokens come from `Authorization: Bearer` or the dashboard's HttpOnly `access_token` cookie. The
 * caller is re-read from D1 on every request (current role; deleted users and revoked sessions stop
 * working at once), and client headers such as `X-User-Id` are never consulted.
 *
 * Failures follow the product: on `/api/*`, `/media/*`, `/thumbnails/*` (the DVR edge contract) a
 * missing or invalid token is 403 + `X-Redirect-To: /login` and an expired one 401; elsewhere
 * (console) both are 401 with `WWW-Authenticate: Bearer`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppEnv, AuthUser } from '../env';
import { db } from '../db/client';
import { BadRequest, Forbidden, Unauthorized } from '../http/errors';
import { originList } from '../http/middleware';
import { isDvrPath } from '../http/paths';
import type { Db } from '../db/client';
import { userOfLiveRefreshSession, userOfLiveRefreshSessionQuery } from './queries/refresh-sessions';
import { membershipRole, type OrgRole } from './queries/users';
import { TokenExpired, verifyAccessToken } from './tokens';

export type { OrgRole };

const RANK: Record<OrgRole, number> = { member: 1, admin: 2, owner: 3 };

type TokenSource = { token: string; from: 'header' | 'cookie' } | { token: null; malformed: boolean };

function readToken(c: Context<AppEnv>): TokenSource {
  const header = c.req.header('Authorization');
  if (header !== undefined) {
    const m = /^Bearer ([^\s]+)$/i.exec(header.trim());
    return m ? { token: m[1]!, from: 'header' } : { token: null, malformed: true };
  }
  const cookie = getCookie(c, 'access_token');
  return cookie ? { token: cookie, from: 'cookie' } : { token: null, malformed: false };
}

function rejection(c: Context<AppEnv>, kind: 'missing' | 'invalid' | 'expired'): Error {
  if (isDvrPath(c.req.path)) {
    if (kind === 'expired') return new Unauthorized('token expired', 'token_expired');
    return new Forbidden(kind === 'missing' ? 'missing token' : 'invalid token', kind === 'missing' ? 'missing_token' : 'invalid_token', {
      'X-Redirect-To': '/login',
    });
  }
  const challenge =
    kind === 'missing' ? 'Bearer' : `Bearer error="invalid_token", error_description="${kind === 'expired' ? 'token expired' : 'invalid token'}"`;
  const message = kind === 'missing' ? 'authentication required' : kind === 'expired' ? 'token expired' : 'invalid token';
  return new Unauthorized(message, kind === 'missing' ? 'unauthorized' : kind === 'expired' ? 'token_expired' : 'invalid_token', {
    'WWW-Authenticate': challenge,
  });
}

type Failure = { fail: 'missing' | 'invalid' | 'expired' };

/** The token's claims (signature and expiry checked, no I/O), or why not. */
async function verify(c: Context<AppEnv>): Promise<{ userId: number; refreshSessionId: string; viaCookie: boolean } | Failure> {
  const src = readToken(c);
  if (src.token === null) return { fail: src.malformed ? 'invalid' : 'missing' };
  try {
    const claims = await verifyAccessToken(c.env, src.token);
    return { userId: claims.userId, refreshSessionId: claims.refreshSessionId, viaCookie: src.from === 'cookie' };
  } catch (e) {
    return { fail: e instanceof TokenExpired ? 'expired' : 'invalid' };
  }
}

/** Resolves the caller from the token, or explains why not. */
async function resolve(c: Context<AppEnv>): Promise<{ user: AuthUser; viaCookie: boolean } | Failure> {
  const claims = await verify(c);
  if ('fail' in claims) return claims;
  // One indexed lookup: the refresh session must still be live and the user must still exist.
  const row = await userOfLiveRefreshSession(db(c.env), claims.refreshSessionId, claims.userId);
  if (!row) return { fail: 'invalid' };
  return { user: { id: row.id, role: row.role, refreshSessionId: claims.refreshSessionId }, viaCookie: claims.viaCookie };
}

/** A cookie-authenticated state change must come from our own pages (CSRF): the same origin, or a
 * dashboard origin listed in `DASHBOARD_ORIGINS` (a sibling host, so `Sec-Fetch-Site: same-site`).
 * Browsers always send `Sec-Fetch-Site`; older ones send `Origin`. Non-browser clients use Bearer
 * tokens. */
export function assertSameOrigin(c: Context<AppEnv>): void {
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return;
  const origin = c.req.header('Origin');
  if (origin !== undefined && originList(c.env.DASHBOARD_ORIGINS).includes(origin)) return;
  const site = c.req.header('Sec-Fetch-Site');
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return;
    throw new Forbidden('cross-site request refused', 'csrf');
  }
  if (origin !== undefined && origin !== new URL(c.req.url).origin) throw new Forbidden('cross-site request refused', 'csrf');
}

export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const r = await resolve(c);
  if ('fail' in r) throw rejection(c, r.fail);
  if (r.viaCookie) assertSameOrigin(c);
  c.set('user', r.user);
  await next();
};

/**
 * `requireUser` for hot routes, without its D1 read: a missing, malformed, forged or expired token
 * (and a cross-site cookie request) is refused here as by `requireUser`; whether the refresh session
 * is still live and the user still exists is checked by the handler with `callerCheck`, inside its
 * first batch. Until then `c.get('user')` is unset.
 */
export const requireCallerDeferred: MiddlewareHandler<AppEnv> = async (c, next) => {
  const claims = await verify(c);
  if ('fail' in claims) throw rejection(c, claims.fail);
  if (claims.viaCookie) assertSameOrigin(c);
  c.set('deferredCaller', { userId: claims.userId, refreshSessionId: claims.refreshSessionId });
  await next();
};

/**
 * The deferred caller's D1 check: `query` goes into the handler's first `d.batch([...])`, `confirm`
 * reads its rows and answers as `requireUser` would (401 console / 403 DVR for a revoked refresh
 * session or a deleted user), else sets `c.get('user')` and returns it. `userId` is the token's
 * claim, usable in the same batch (e.g. the caller's membership), trusted only after `confirm`.
 */
export function callerCheck(c: Context<AppEnv>, d: Db) {
  const deferred = c.get('deferredCaller') as AppEnv['Variables']['deferredCaller'] | undefined;
  // Under `optionalCallerDeferred` an anonymous caller reaches here: refused as `assertOrgRole` would.
  if (!deferred) throw rejection(c, c.get('authFailure') ?? 'missing');
  const { userId, refreshSessionId } = deferred;
  return {
    userId,
    query: userOfLiveRefreshSessionQuery(d, refreshSessionId, userId),
    confirm(rows: Array<{ id: number; role: AuthUser['role'] }>): AuthUser {
      const row = rows[0];
      if (!row) throw rejection(c, 'invalid');
      const user: AuthUser = { id: row.id, role: row.role, refreshSessionId };
      c.set('user', user);
      return user;
    },
  };
}

/**
 * `optionalUser` for hot routes, without its D1 read: a valid token's claims are kept for
 * `callerCheck` (which the handler calls only when it needs the caller, refusing an anonymous one
 * as `assertOrgRole` would); a missing or bad token leaves the request anonymous, never an error.
 */
export const optionalCallerDeferred: MiddlewareHandler<AppEnv> = async (c, next) => {
  const claims = await verify(c);
  if ('fail' in claims) c.set('authFailure', claims.fail);
  else c.set('deferredCaller', { userId: claims.userId, refreshSessionId: claims.refreshSessionId });
  await next();
};

/** Sets the user when a valid token is present; anonymous otherwise (never an error). */
export const optionalUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const r = await resolve(c);
  if ('fail' in r) c.set('authFailure', r.fail);
  else c.set('user', r.user);
  await next();
};

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.get('user')?.role !== 'admin') throw new Forbidden('admin role required', 'admin_required');
  await next();
};

/**
 * Passes when the caller holds at least `min` in the org, or is a platform admin. Non-members get
 * the same 403 whether or not the org exists, so org ids cannot be probed.
 */
export async function assertOrgRole(c: Context<AppEnv>, orgId: number, min: OrgRole): Promise<OrgRole | 'platform_admin'> {
  const user = c.get('user');
  if (!user) throw rejection(c, c.get('authFailure') ?? 'missing');
  // Read from D1 on every call, so a membership change applies on the next request.
  return orgRoleVerdict(user, await membershipRole(db(c.env), user.id, orgId), min);
}

/** `assertOrgRole` for a role already read (e.g. in the handler's batch, `membershipRoleQuery`). */
export function orgRoleVerdict(user: AuthUser, role: OrgRole | null, min: OrgRole): OrgRole | 'platform_admin' {
  if (role && RANK[role] >= RANK[min]) return role;
  if (user.role === 'admin') return 'platform_admin';
  if (role) throw new Forbidden(`requires the ${min} role in this organization`, 'org_role_required');
  throw new Forbidden('not a member of this organization', 'not_org_member');
}

/** Middleware form for routes with `{org_id}` in the path. */
export function requireOrgRole(min: OrgRole): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const raw = c.req.param('org_id') ?? '';
    if (!/^[1-9][0-9]{0,15}$/.test(raw)) throw new BadRequest('org_id: must be a positive integer', 'validation_failed');
    await assertOrgRole(c, Number(raw), min);
    await next();
  };
}

/** A user id in a path or body must be the caller's own, unless the caller is a platform admin. */
export function assertSelfOrAdmin(c: Context<AppEnv>, userId: number): void {
  const user = c.get('user');
  if (user.id !== userId && user.role !== 'admin') throw new Forbidden('not allowed to act for another user', 'not_self');
}
