/**
 * Refresh sessions (`auth_sessions`). Tokens are 32 random bytes, stored only as SHA-256 hashes.
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
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { changes, db } from '../db/client';
import { authSessions, users } from '../db/schema';
import { nowIso, randomToken, sha256Hex, world } from '../world';
import { openSuccessor, sealSuccessor } from './refresh-seal';
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
  | { ok: true; session: IssuedSession; userId: number; role: 'admin' | 'user'; client: ClientKind; retried: boolean }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused' | 'raced'; userId?: number };

/** How long the immediately previous refresh token still gets its (same) successor back. */
export function reuseWindowMs(env: Pick<Env, 'REFRESH_REUSE_WINDOW_SECONDS'>): number {
  const s = Number.parseInt(env.REFRESH_REUSE_WINDOW_SECONDS ?? '', 10);
  return (Number.isInteger(s) && s >= 0 ? Math.min(s, 300) : 30) * 1000;
}

type SessionRow = typeof authSessions.$inferSelect;

async function sessionByToken(env: Env, refreshToken: string) {
  return db(env)
    .select({ s: authSessions, role: users.role })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(eq(authSessions.tokenHash, await sha256Hex(refreshToken)))
    .get();
}

/**
 * A retry of a refresh that already rotated (its answer was lost, or two requests raced): within
 * the grace window, and only while the successor is still the login's live head (not itself
 * rotated, not revoked, not expired), the same successor token is returned. Anything else is a
 * replay and the caller revokes the family.
 */
async function retrySuccessor(env: Env, s: SessionRow, refreshToken: string): Promise<IssuedSession | null> {
  if (!s.rotatedAt || !s.successorId || !s.successorSealed) return null;
  if (world.now() - Date.parse(s.rotatedAt) > reuseWindowMs(env)) return null;
  const next = await db(env).select().from(authSessions).where(eq(authSessions.id, s.successorId)).get();
  const now = nowIso();
  if (!next || next.rotatedAt || next.revokedAt || next.expiresAt <= now || next.familyExpiresAt <= now) return null;
  const token = await openSuccessor(env, refreshToken, s.id, s.successorSealed);
  if (!token || (await sha256Hex(token)) !== next.tokenHash) return null;
  return { sid: next.id, refreshToken: token, expiresAt: next.expiresAt };
}

export async function rotateSession(env: Env, refreshToken: string, meta: SessionMeta = {}): Promise<RotateResult> {
  if (!/^[A-Za-z0-9_-]{20,128}$/.test(refreshToken)) return { ok: false, reason: 'unknown' };
  const row = await sessionByToken(env, refreshToken);
  if (!row) return { ok: false, reason: 'unknown' };
  const s = row.s;
  const client = s.client as ClientKind;
  if (s.revokedAt) return { ok: false, reason: 'revoked', userId: s.userId };
  if (s.rotatedAt) return retryOrRevoke(env, s, refreshToken, row.role);
  const now = nowIso();
  if (s.expiresAt <= now || s.familyExpiresAt <= now) return { ok: false, reason: 'expired', userId: s.userId };

  const sid = crypto.randomUUID();
  const token = randomToken(32);
  const tokenHash = await sha256Hex(token);
  const sealed = await sealSuccessor(env, refreshToken, s.id, token);
  const idle = new Date(world.now() + SESSION_TTL[client].idleMs).toISOString();
  const expiresAt = idle < s.familyExpiresAt ? idle : s.familyExpiresAt;
  const d = db(env);
  // ONE atomic batch: the old row is marked rotated (compare-and-set: of concurrent refreshes
  // exactly one changes it) and its successor is inserted only if that very UPDATE named it. A
  // crash or a failing statement leaves both undone, so the presented token stays usable.
  const [cas] = await d.batch([
    d
      .update(authSessions)
      .set({ rotatedAt: now, successorId: sid, successorSealed: sealed })
      .where(and(eq(authSessions.id, s.id), isNull(authSessions.rotatedAt), isNull(authSessions.revokedAt))),
    d.insert(authSessions).select((qb) =>
      qb
        .select({
          id: sql<string>`${sid}`.as('id'),
          familyId: authSessions.familyId,
          userId: authSessions.userId,
          tokenHash: sql<string>`${tokenHash}`.as('token_hash'),
          client: authSessions.client,
          createdAt: sql<string>`${now}`.as('created_at'),
          expiresAt: sql<string>`${expiresAt}`.as('expires_at'),
          familyExpiresAt: authSessions.familyExpiresAt,
          rotatedAt: sql<null>`NULL`.as('rotated_at'),
          successorId: sql<null>`NULL`.as('successor_id'),
          successorSealed: sql<null>`NULL`.as('successor_sealed'),
          revokedAt: sql<null>`NULL`.as('revoked_at'),
          revokeReason: sql<null>`NULL`.as('revoke_reason'),
          ip: sql<string | null>`${meta.ip ?? null}`.as('ip'),
          userAgent: sql<string | null>`${meta.userAgent?.slice(0, 256) ?? null}`.as('user_agent'),
        })
        .from(authSessions)
        .where(and(eq(authSessions.id, s.id), eq(authSessions.successorId, sid))),
    ),
  ]);
  if (changes(cas) !== 1) {
    // Lost the race: the winner's batch has committed, so this is a retry of the same refresh.
    const again = await sessionByToken(env, refreshToken);
    if (again?.s.rotatedAt) return retryOrRevoke(env, again.s, refreshToken, again.role);
    return { ok: false, reason: 'raced', userId: s.userId };
  }
  return { ok: true, session: { sid, refreshToken: token, expiresAt }, userId: s.userId, role: row.role, client, retried: false };
}

async function retryOrRevoke(env: Env, s: SessionRow, refreshToken: string, role: 'admin' | 'user'): Promise<RotateResult> {
  const successor = await retrySuccessor(env, s, refreshToken);
  if (successor) return { ok: true, session: successor, userId: s.userId, role, client: s.client as ClientKind, retried: true };
  await revokeFamily(env, s.familyId, 'refresh token reuse');
  return { ok: false, reason: 'reused', userId: s.userId };
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
