/**
 * Refresh sessions (table `auth_sessions`; statements in `queries/refresh-sessions.ts`). Tokens are 32 random bytes, stored only as SHA-256 hashes.
 * Every refresh rotates in ONE atomic D1 batch: the presented row is marked rotated by a
 * compare-and-set UPDATE (exactly one of concurrent refreshes changes it) that also records its
 * successor, and the successor row is inserted only when that UPDATE named it. No crash between
 * two writes can leave a login without a usable token.
 *
 * Lost answers: a client whose refresh committed but whose answer never arrived retries with the
 * token it still holds. Within `REFRESH_REUSE_WINDOW_SECONDS` (default 30) of the rotation, and
 * while the successor is still the login's live head, that retry gets the SAME successor back
 * (sealed under a key only the old token's holder can derive, see refresh-seal.ts). Presenting a
 * rotated token outside the window, or one older than the immediately previous, is theft or a bug
 * either way: the whole family is revoked.
 *
 * Expiry: idle (slides at each rotation) and absolute (per family, never extended).
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { db } from '../db/client';
import { Unauthorized } from '../http/errors';
import { clientIp } from '../http/middleware';
import { nowIso, randomToken, sha256Hex, world } from '../world';
import { audit } from './audit';
import {
  insertRefreshSession,
  purgeRefreshSessions,
  refreshSessionById,
  refreshSessionByTokenHash,
  revokeRefreshFamily,
  revokeRefreshFamilyOf,
  revokeUserRefreshSessions,
  rotateRefreshSessionRow,
  type RefreshSessionRow,
} from './queries/refresh-sessions';
import { openSuccessor, sealSuccessor } from './refresh-seal';
import { issueAccessToken } from './tokens';

export type ClientKind = 'dashboard' | 'launcher';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
export const REFRESH_SESSION_TTL: Record<ClientKind, { idleMs: number; absoluteMs: number }> = {
  // The dashboard matches the DVR cookie lifetime (24 h); a TV launcher stays signed in longer.
  dashboard: { idleMs: DAY, absoluteMs: 7 * DAY },
  launcher: { idleMs: 30 * DAY, absoluteMs: 90 * DAY },
};

export interface IssuedRefreshSession {
  refreshSessionId: string;
  refreshToken: string;
  expiresAt: string;
}

export interface ClientMeta {
  ip?: string;
  userAgent?: string | null;
}

/** The client's address and agent, as stored on a refresh session. */
export function clientMeta(c: Context<AppEnv>): ClientMeta {
  return { ip: clientIp(c.req.raw), userAgent: c.req.header('User-Agent') };
}

/** A new login: the first refresh session of a new family. */
export async function createRefreshSession(env: Env, userId: number, client: ClientKind, meta: ClientMeta = {}): Promise<IssuedRefreshSession> {
  const now = world.now();
  const ttl = REFRESH_SESSION_TTL[client];
  const refreshSessionId = crypto.randomUUID();
  const refreshToken = randomToken(32);
  const expiresAt = new Date(now + ttl.idleMs).toISOString();
  await insertRefreshSession(db(env), {
    id: refreshSessionId,
    familyId: crypto.randomUUID(),
    userId,
    tokenHash: await sha256Hex(refreshToken),
    client,
    createdAt: nowIso(),
    expiresAt,
    familyExpiresAt: new Date(now + ttl.absoluteMs).toISOString(),
    ip: meta.ip ?? null,
    userAgent: meta.userAgent?.slice(0, 256) ?? null,
  });
  return { refreshSessionId, refreshToken, expiresAt };
}

export type RotateResult =
  | { ok: true; refreshSession: IssuedRefreshSession; userId: number; role: 'admin' | 'user'; client: ClientKind; retried: boolean }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused' | 'raced'; userId?: number };

/** How long the immediately previous refresh token still gets its (same) successor back. */
export function reuseWindowMs(env: Pick<Env, 'REFRESH_REUSE_WINDOW_SECONDS'>): number {
  const s = Number.parseInt(env.REFRESH_REUSE_WINDOW_SECONDS ?? '', 10);
  return (Number.isInteger(s) && s >= 0 ? Math.min(s, 300) : 30) * 1000;
}

/**
 * A retry of a refresh that already rotated (its answer was lost, or two requests raced): within
 * the grace window, and only while the successor is still the login's live head (not itself
 * rotated, not revoked, not expired), the same successor token is returned. Anything else is a
 * replay and the caller revokes the family.
 */
async function retrySuccessor(env: Env, s: RefreshSessionRow, refreshToken: string): Promise<IssuedRefreshSession | null> {
  if (!s.rotatedAt || !s.successorId || !s.successorSealed) return null;
  if (world.now() - Date.parse(s.rotatedAt) > reuseWindowMs(env)) return null;
  const next = await refreshSessionById(db(env), s.successorId);
  const now = nowIso();
  if (!next || next.rotatedAt || next.revokedAt || next.expiresAt <= now || next.familyExpiresAt <= now) return null;
  const token = await openSuccessor(env, refreshToken, s.id, s.successorSealed);
  if (!token || (await sha256Hex(token)) !== next.tokenHash) return null;
  return { refreshSessionId: next.id, refreshToken: token, expiresAt: next.expiresAt };
}

export async function rotateRefreshSession(env: Env, refreshToken: string, meta: ClientMeta = {}): Promise<RotateResult> {
  if (!/^[A-Za-z0-9_-]{20,128}$/.test(refreshToken)) return { ok: false, reason: 'unknown' };
  const d = db(env);
  const tokenHash = await sha256Hex(refreshToken);
  const row = await refreshSessionByTokenHash(d, tokenHash);
  if (!row) return { ok: false, reason: 'unknown' };
  const s = row.refreshSession;
  const client = s.client;
  if (s.revokedAt) return { ok: false, reason: 'revoked', userId: s.userId };
  if (s.rotatedAt) return retryOrRevoke(env, s, refreshToken, row.role);
  const now = nowIso();
  if (s.expiresAt <= now || s.familyExpiresAt <= now) return { ok: false, reason: 'expired', userId: s.userId };

  const refreshSessionId = crypto.randomUUID();
  const token = randomToken(32);
  const sealed = await sealSuccessor(env, refreshToken, s.id, token);
  const idle = new Date(world.now() + REFRESH_SESSION_TTL[client].idleMs).toISOString();
  const expiresAt = idle < s.familyExpiresAt ? idle : s.familyExpiresAt;
  const won = await rotateRefreshSessionRow(
    d,
    s.id,
    { id: refreshSessionId, tokenHash: await sha256Hex(token), createdAt: now, expiresAt, ip: meta.ip ?? null, userAgent: meta.userAgent?.slice(0, 256) ?? null },
    sealed,
  );
  if (!won) {
    // Lost the race: the winner's batch has committed, so this is a retry of the same refresh.
    const again = await refreshSessionByTokenHash(d, tokenHash);
    if (again?.refreshSession.rotatedAt) return retryOrRevoke(env, again.refreshSession, refreshToken, again.role);
    return { ok: false, reason: 'raced', userId: s.userId };
  }
  return { ok: true, refreshSession: { refreshSessionId, refreshToken: token, expiresAt }, userId: s.userId, role: row.role, client, retried: false };
}

async function retryOrRevoke(env: Env, s: RefreshSessionRow, refreshToken: string, role: 'admin' | 'user'): Promise<RotateResult> {
  const successor = await retrySuccessor(env, s, refreshToken);
  if (successor) return { ok: true, refreshSession: successor, userId: s.userId, role, client: s.client, retried: true };
  await revokeRefreshFamily(db(env), s.familyId, 'refresh token reuse', nowIso());
  return { ok: false, reason: 'reused', userId: s.userId };
}

/**
 * The refresh request of both products: rotates the token, audits a replay (`auth.refresh.reuse`)
 * or a lost-answer retry (`auth.refresh.retry`), and mints the new access token. 401 otherwise.
 */
export async function refreshLogin(c: Context<AppEnv>, refreshToken: string): Promise<{ accessToken: string; expiresIn: number; refreshToken: string }> {
  const r = await rotateRefreshSession(c.env, refreshToken, clientMeta(c));
  if (!r.ok) {
    if (r.reason === 'reused') await audit(c, 'auth.refresh.reuse', { actorUserId: r.userId ?? null, targetType: 'user', targetId: r.userId });
    throw new Unauthorized('invalid or expired refresh token', 'invalid_refresh_token');
  }
  // `sid` in the audit details: the name this entry has always carried.
  if (r.retried) await audit(c, 'auth.refresh.retry', { actorUserId: r.userId, targetType: 'user', targetId: r.userId, details: { sid: r.refreshSession.refreshSessionId } });
  const { token, expiresIn } = await issueAccessToken(c.env, { userId: r.userId, refreshSessionId: r.refreshSession.refreshSessionId, role: r.role });
  return { accessToken: token, expiresIn, refreshToken: r.refreshSession.refreshToken };
}

/** The login behind this refresh session ends (every rotation of it): logout, an unpaired device. */
export async function revokeLoginOf(env: Env, refreshSessionId: string, reason: string): Promise<void> {
  await revokeRefreshFamilyOf(db(env), refreshSessionId, reason, nowIso());
}

/** The logout of both products: the caller's login ends, audited as `auth.logout`. */
export async function logout(c: Context<AppEnv>): Promise<void> {
  const user = c.get('user');
  await revokeLoginOf(c.env, user.refreshSessionId, 'logout');
  await audit(c, 'auth.logout', { targetType: 'user', targetId: user.id });
}

/** Password change / admin action: every refresh session of the user, except (optionally) the caller's login. */
export async function revokeUserRefreshSessionsOf(env: Env, userId: number, reason: string, keepRefreshSessionId?: string): Promise<void> {
  await revokeUserRefreshSessions(db(env), userId, reason, nowIso(), keepRefreshSessionId);
}

/** Housekeeping: drop rows whose family expired more than a day ago. */
export async function purgeExpiredRefreshSessions(env: Env): Promise<number> {
  return purgeRefreshSessions(db(env), new Date(world.now() - DAY).toISOString());
}

/** A new login: a refresh-session family plus its first access token. */
export async function startLogin(
  env: Env,
  user: { id: number; role: 'admin' | 'user' },
  client: ClientKind,
  meta: ClientMeta = {},
): Promise<{ accessToken: string; expiresIn: number; refreshSession: IssuedRefreshSession }> {
  const refreshSession = await createRefreshSession(env, user.id, client, meta);
  const { token, expiresIn } = await issueAccessToken(env, { userId: user.id, refreshSessionId: refreshSession.refreshSessionId, role: user.role });
  return { accessToken: token, expiresIn, refreshSession };
}
