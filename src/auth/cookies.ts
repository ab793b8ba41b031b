/**
 * The dashboard's cookies (DVR contract §2.3, hardened): `access_token` (Path=/) and
 * `refresh_token` (Path=/api/auth, so refresh and logout see it), both HttpOnly, Secure and
 * SameSite=Strict. Browsers accept Secure cookies on http://localhost, so local dev needs no switch.
 */
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../env';
import { REFRESH_SESSION_TTL } from './refresh';

const REFRESH_PATH = '/api/auth';

export function setAuthCookies(c: Context<AppEnv>, accessToken: string, refreshToken: string): void {
  const maxAge = Math.floor(REFRESH_SESSION_TTL.dashboard.idleMs / 1000);
  const secure = c.env.COOKIE_SECURE !== 'false';
  setCookie(c, 'access_token', accessToken, { path: '/', httpOnly: true, secure, sameSite: 'Strict', maxAge });
  setCookie(c, 'refresh_token', refreshToken, { path: REFRESH_PATH, httpOnly: true, secure: true, sameSite: 'Strict', maxAge });
}

export function clearAuthCookies(c: Context<AppEnv>): void {
  setCookie(c, 'access_token', '', { path: '/', httpOnly: true, maxAge: 0 });
  setCookie(c, 'refresh_token', '', { path: REFRESH_PATH, httpOnly: true, maxAge: 0 });
}

export function refreshCookie(c: Context<AppEnv>): string | undefined {
  return getCookie(c, 'refresh_token') || undefined;
}
