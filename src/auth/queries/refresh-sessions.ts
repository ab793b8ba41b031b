/**
 * Statements on refresh sessions (table `auth_sessions`: one row per refresh token, rows of one
 * login share a family). The rotation rules live in `../refresh.ts`; this module only says how
 * each step is written, including the one atomic rotation batch.
 *
 *   const d = db(env);
 *   const found = await refreshSessionByTokenHash(d, await sha256Hex(token)); // { refreshSession, role }
 *   const won = await rotateRefreshSessionRow(d, found.refreshSession.id, successor, sealed);
 */
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { changes, type Db } from '../../db/client';
import { authSessions, users } from '../../db/schema';

export type RefreshSessionRow = typeof authSessions.$inferSelect;

export async function insertRefreshSession(d: Db, row: typeof authSessions.$inferInsert): Promise<void> {
  await d.insert(authSessions).values(row).run();
}

/** The refresh session a token belongs to (tokens are stored as SHA-256), with its user's role. */
export async function refreshSessionByTokenHash(d: Db, tokenHash: string) {
  return d
    .select({ refreshSession: authSessions, role: users.role })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(eq(authSessions.tokenHash, tokenHash))
    .get();
}

export async function refreshSessionById(d: Db, id: string): Promise<RefreshSessionRow | undefined> {
  return d.select().from(authSessions).where(eq(authSessions.id, id)).get();
}

/** The id of the refresh session a token belongs to. */
export async function refreshSessionIdOfTokenHash(d: Db, tokenHash: string): Promise<string | null> {
  return (await d.select({ id: authSessions.id }).from(authSessions).where(eq(authSessions.tokenHash, tokenHash)).get())?.id ?? null;
}

/** The caller of an access token: its refresh session is not revoked and its user still exists. */
export async function userOfLiveRefreshSession(d: Db, refreshSessionId: string, userId: number) {
  return d
    .select({ id: users.id, role: users.role })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(and(eq(authSessions.id, refreshSessionId), eq(authSessions.userId, userId), isNull(authSessions.revokedAt)))
    .get();
}

export interface Successor {
  id: string;
  tokenHash: string;
  createdAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
}

/**
 * ONE atomic batch: the presented row is marked rotated (compare-and-set: of concurrent refreshes
 * exactly one changes it) and its successor is inserted only if that very UPDATE named it. A crash
 * or a failing statement leaves both undone. Returns whether this caller won.
 */
export async function rotateRefreshSessionRow(d: Db, id: string, next: Successor, successorSealed: string): Promise<boolean> {
  const [cas] = await d.batch([
    d
      .update(authSessions)
      .set({ rotatedAt: next.createdAt, successorId: next.id, successorSealed })
      .where(and(eq(authSessions.id, id), isNull(authSessions.rotatedAt), isNull(authSessions.revokedAt))),
    d.insert(authSessions).select((qb) =>
      qb
        .select({
          id: sql<string>`${next.id}`.as('id'),
          familyId: authSessions.familyId,
          userId: authSessions.userId,
          tokenHash: sql<string>`${next.tokenHash}`.as('token_hash'),
          client: authSessions.client,
          createdAt: sql<string>`${next.createdAt}`.as('created_at'),
          expiresAt: sql<string>`${next.expiresAt}`.as('expires_at'),
          familyExpiresAt: authSessions.familyExpiresAt,
          rotatedAt: sql<null>`NULL`.as('rotated_at'),
          successorId: sql<null>`NULL`.as('successor_id'),
          successorSealed: sql<null>`NULL`.as('successor_sealed'),
          revokedAt: sql<null>`NULL`.as('revoked_at'),
          revokeReason: sql<null>`NULL`.as('revoke_reason'),
          ip: sql<string | null>`${next.ip}`.as('ip'),
          userAgent: sql<string | null>`${next.userAgent}`.as('user_agent'),
        })
        .from(authSessions)
        .where(and(eq(authSessions.id, id), eq(authSessions.successorId, next.id))),
    ),
  ]);
  return changes(cas) === 1;
}

export async function revokeRefreshFamily(d: Db, familyId: string, reason: string, now: string): Promise<void> {
  await d
    .update(authSessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(authSessions.familyId, familyId), isNull(authSessions.revokedAt)))
    .run();
}

const member = alias(authSessions, 'family_member');
/** The family id of one refresh session, as a subquery. */
function familyOf(d: Db, refreshSessionId: string) {
  return d.select({ familyId: member.familyId }).from(member).where(eq(member.id, refreshSessionId));
}

/** Ends the login a refresh session belongs to (every rotation of it). */
export async function revokeRefreshFamilyOf(d: Db, refreshSessionId: string, reason: string, now: string): Promise<void> {
  await d
    .update(authSessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(authSessions.familyId, sql`(${familyOf(d, refreshSessionId)})`), isNull(authSessions.revokedAt)))
    .run();
}

/** Every live refresh session of the user, except (optionally) the family of `keepRefreshSessionId`. */
export async function revokeUserRefreshSessions(d: Db, userId: number, reason: string, now: string, keepRefreshSessionId?: string): Promise<void> {
  const keep = keepRefreshSessionId ? ne(authSessions.familyId, sql`(${familyOf(d, keepRefreshSessionId)})`) : undefined;
  await d
    .update(authSessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(authSessions.userId, userId), isNull(authSessions.revokedAt), keep))
    .run();
}

/** Drops rows whose family expired before `cutoff`; returns how many. */
export async function purgeRefreshSessions(d: Db, cutoff: string): Promise<number> {
  return changes(await d.delete(authSessions).where(sql`${authSessions.familyExpiresAt} < ${cutoff}`).run());
}
