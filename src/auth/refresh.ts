/**
 * Refresh sessions (`auth_sessions`). Tokens are 32 random bytes, stored only as SHA-256 hashes.
 * Every refresh rotates: the presented row is marked rotated by a compare-and-set UPDATE (exactly
 * one of two concurrent refreshes changes a row) and a new row joins the same family. Presenting a
 * token that was already rotated is theft or a bug either way: the whole family is revoked.
 *
 * Expiry: idle (slides at each rotation) and absolute (per family, never extended).
 */
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { changes, db } from '../db/client';
import { authSessions, users } from '../db/schema';
import { nowIso, randomToken, sha256Hex, world } from '../world';
import { issueAccessToken } from './tokens';

export type ClientKind = 'dashboard' | 'launcher';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
export const SESSION_TTL: Record<ClientKind, { idleMs: number; absoluteMs: number }> = {
  // The dashboard matches the DVR cookie lifetime (24 h); a TV launcher stays signed in longer.
  dashboard: { idleMs: DAY, absoluteMs: 7 * DAY },
  launcher: { idleMs: 30 * DAY, absoluteMs: 90 * DAY },
};

export interface IssuedSession {
  sid: string;
  refreshToken: string;
  expiresAt: string;
}

export interface SessionMeta {
  ip?: string;
  userAgent?: string | null;
}

export async function createSession(env: Env, userId: number, client: ClientKind, meta: SessionMeta = {}): Promise<IssuedSession> {
  const now = world.now();
  const ttl = SESSION_TTL[client];
  const familyExpiresAt = new Date(now + ttl.absoluteMs).toISOString();
  return insertRow(env, {
    userId,
    client,
    familyId: crypto.randomUUID(),
    familyExpiresAt,
    expiresAt: new Date(now + ttl.idleMs).toISOString(),
    meta,
  });
}

async function insertRow(
  env: Env,
  r: { userId: number; client: ClientKind; familyId: string; familyExpiresAt: string; expiresAt: string; meta: SessionMeta },
): Promise<IssuedSession> {
  const sid = crypto.randomUUID();
  const refreshToken = randomToken(32);
  await db(env)
    .insert(authSessions)
    .values({
      id: sid,
      familyId: r.familyId,
      userId: r.userId,
      tokenHash: await sha256Hex(refreshToken),
      client: r.client,
      createdAt: nowIso(),
      expiresAt: r.expiresAt,
      familyExpiresAt: r.familyExpiresAt,
      ip: r.meta.ip ?? null,
      userAgent: r.meta.userAgent?.slice(0, 256) ?? null,
    })
    .run();
  return { sid, refreshToken, expiresAt: r.expiresAt };
}

export type RotateResult =
  | { ok: true; session: IssuedSession; userId: number; role: 'admin' | 'user'; client: ClientKind }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused' | 'raced'; userId?: number };

export async function rotateSession(env: Env, refreshToken: string, meta: SessionMeta = {}): Promise<RotateResult> {
  if (!/^[A-Za-z0-9_-]{20,128}$/.test(refreshToken)) return { ok: false, reason: 'unknown' };
  const d = db(env);
  const row = await d
    .select({ s: authSessions, role: users.role })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(eq(authSessions.tokenHash, await sha256Hex(refreshToken)))
    .get();
  if (!row) return { ok: false, reason: 'unknown' };
  const s = row.s;
  if (s.revokedAt) return { ok: false, reason: 'revoked', userId: s.userId };
  if (s.rotatedAt) {
    await revokeFamily(env, s.familyId, 'refresh token reuse');
    return { ok: false, reason: 'reused', userId: s.userId };
  }
  const now = nowIso();
  if (s.expiresAt <= now || s.familyExpiresAt <= now) return { ok: false, reason: 'expired', userId: s.userId };

  // Compare-and-set: of two concurrent refreshes with this token, exactly one changes the row.
  const cas = await d
    .update(authSessions)
    .set({ rotatedAt: now })
    .where(and(eq(authSessions.id, s.id), isNull(authSessions.rotatedAt), isNull(authSessions.revokedAt)))
    .run();
  if (changes(cas) !== 1) return { ok: false, reason: 'raced', userId: s.userId };

  const client = s.client as ClientKind;
  const idle = new Date(world.now() + SESSION_TTL[client].idleMs).toISOString();
  const session = await insertRow(env, {
    userId: s.userId,
    client,
    familyId: s.familyId,
    familyExpiresAt: s.familyExpiresAt,
    expiresAt: idle < s.familyExpiresAt ? idle : s.familyExpiresAt,
    meta,
  });
  return { ok: true, session, userId: s.userId, role: row.role, client };
}

export async function revokeFamily(env: Env, familyId: string, reason: string): Promise<void> {
  await db(env)
    .update(authSessions)
    .set({ revokedAt: nowIso(), revokeReason: reason })
    .where(and(eq(authSessions.familyId, familyId), isNull(authSessions.revokedAt)))
    .run();
}

/** Logout: the login behind this session id ends (every rotation of it). */
export async function revokeSessionFamilyOf(env: Env, sid: string, reason: string): Promise<void> {
  await db(env)
    .update(authSessions)
    .set({ revokedAt: nowIso(), revokeReason: reason })
    .where(
      and(
        sql`${authSessions.familyId} = (SELECT family_id FROM auth_sessions WHERE id = ${sid})`,
        isNull(authSessions.revokedAt),
      ),
    )
    .run();
}

/** Password change / admin action: every session of the user, except (optionally) the caller's family. */
export async function revokeUserSessions(env: Env, userId: number, reason: string, keepSid?: string): Promise<void> {
  const keep = keepSid
    ? ne(authSessions.familyId, sql`(SELECT family_id FROM auth_sessions WHERE id = ${keepSid})`)
    : undefined;
  await db(env)
    .update(authSessions)
    .set({ revokedAt: nowIso(), revokeReason: reason })
    .where(and(eq(authSessions.userId, userId), isNull(authSessions.revokedAt), keep))
    .run();
}

/** Housekeeping: drop rows whose family expired more than a day ago. */
export async function purgeExpiredSessions(env: Env): Promise<number> {
  const cutoff = new Date(world.now() - DAY).toISOString();
  const res = await db(env).delete(authSessions).where(sql`${authSessions.familyExpiresAt} < ${cutoff}`).run();
  return changes(res);
}

/** A new login: a refresh-session family plus its first access token. */
export async function startLogin(
  env: Env,
  user: { id: number; role: 'admin' | 'user' },
  client: ClientKind,
  meta: SessionMeta = {},
): Promise<{ accessToken: string; expiresIn: number; session: IssuedSession }> {
  const session = await createSession(env, user.id, client, meta);
  const { token, expiresIn } = await issueAccessToken(env, { userId: user.id, sid: session.sid, role: user.role });
  return { accessToken: token, expiresIn, session };
}
