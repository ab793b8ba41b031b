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
import { prepared, type Slots } from '../../db/prepared';
import { refreshSessions, users } from '../../db/schema';

export type RefreshSessionRow = typeof refreshSessions.$inferSelect;

export async function insertRefreshSession(d: Db, row: typeof refreshSessions.$inferInsert): Promise<void> {
  await d.insert(refreshSessions).values(row).run();
}

/** The refresh session a token belongs to (tokens are stored as SHA-256), with its user's role. */
export async function refreshSessionByTokenHash(d: Db, tokenHash: string) {
  return d
    .select({ refreshSession: refreshSessions, role: users.role })
    .from(refreshSessions)
    .innerJoin(users, eq(users.id, refreshSessions.userId))
    .where(eq(refreshSessions.tokenHash, tokenHash))
    .get();
}

export async function refreshSessionById(d: Db, id: string): Promise<RefreshSessionRow | undefined> {
  return d.select().from(refreshSessions).where(eq(refreshSessions.id, id)).get();
}

/** The id of the refresh session a token belongs to. */
export async function refreshSessionIdOfTokenHash(d: Db, tokenHash: string): Promise<string | null> {
  return (await d.select({ id: refreshSessions.id }).from(refreshSessions).where(eq(refreshSessions.tokenHash, tokenHash)).get())?.id ?? null;
}

/** The caller of an access token: its refresh session is not revoked and its user still exists. */
export async function userOfLiveRefreshSession(d: Db, refreshSessionId: string, userId: number) {
  return (await userOfLiveRefreshSessionQuery(d, refreshSessionId, userId))[0];
}

// Built once per isolate (src/db/prepared.ts): every authenticated request runs this check.
const liveRefreshSessionUser = prepared((d, $: Slots<{ refreshSessionId: string; userId: number }>) =>
  d
    .select({ id: users.id, role: users.role })
    .from(refreshSessions)
    .innerJoin(users, eq(users.id, refreshSessions.userId))
    .where(and(eq(refreshSessions.id, $.refreshSessionId), eq(refreshSessions.userId, $.userId), isNull(refreshSessions.revokedAt)))
    .limit(1),
);

/** `userOfLiveRefreshSession` unexecuted, for a handler's first `d.batch([...])` (at most one row). */
export function userOfLiveRefreshSessionQuery(d: Db, refreshSessionId: string, userId: number) {
  return liveRefreshSessionUser(d, { refreshSessionId, userId });
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
      .update(refreshSessions)
      .set({ rotatedAt: next.createdAt, successorId: next.id, successorSealed })
      .where(and(eq(refreshSessions.id, id), isNull(refreshSessions.rotatedAt), isNull(refreshSessions.revokedAt))),
    d.insert(refreshSessions).select((qb) =>
      qb
        .select({
          id: sql<string>`${next.id}`.as('id'),
          familyId: refreshSessions.familyId,
          userId: refreshSessions.userId,
          tokenHash: sql<string>`${next.tokenHash}`.as('token_hash'),
          client: refreshSessions.client,
          createdAt: sql<string>`${next.createdAt}`.as('created_at'),
          expiresAt: sql<string>`${next.expiresAt}`.as('expires_at'),
          familyExpiresAt: refreshSessions.familyExpiresAt,
          rotatedAt: sql<null>`NULL`.as('rotated_at'),
          successorId: sql<null>`NULL`.as('successor_id'),
          successorSealed: sql<null>`NULL`.as('successor_sealed'),
          revokedAt: sql<null>`NULL`.as('revoked_at'),
          revokeReason: sql<null>`NULL`.as('revoke_reason'),
          ip: sql<string | null>`${next.ip}`.as('ip'),
          userAgent: sql<string | null>`${next.userAgent}`.as('user_agent'),
        })
        .from(refreshSessions)
        .where(and(eq(refreshSessions.id, id), eq(refreshSessions.successorId, next.id))),
    ),
  ]);
  return changes(cas) === 1;
}

export async function revokeRefreshFamily(d: Db, familyId: string, reason: string, now: string): Promise<void> {
  await d
    .update(refreshSessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(refreshSessions.familyId, familyId), isNull(refreshSessions.revokedAt)))
    .run();
}

const member = alias(refreshSessions, 'family_member');
/** The family id of one refresh session, as a subquery. */
function familyOf(d: Db, refreshSessionId: string) {
  return d.select({ familyId: member.familyId }).from(member).where(eq(member.id, refreshSessionId));
}

/** Ends the login a refresh session belongs to (every rotation of it). */
export async function revokeRefreshFamilyOf(d: Db, refreshSessionId: string, reason: string, now: string): Promise<void> {
  await d
    .update(refreshSessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(refreshSessions.familyId, sql`(${familyOf(d, refreshSessionId)})`), isNull(refreshSessions.revokedAt)))
    .run();
}

/** Every live refresh session of the user, except (optionally) the family of `keepRefreshSessionId`. */
export async function revokeUserRefreshSessions(d: Db, userId: number, reason: string, now: string, keepRefreshSessionId?: string): Promise<void> {
  const keep = keepRefreshSessionId ? ne(refreshSessions.familyId, sql`(${familyOf(d, keepRefreshSessionId)})`) : undefined;
  await d
    .update(refreshSessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(refreshSessions.userId, userId), isNull(refreshSessions.revokedAt), keep))
    .run();
}

/** Drops rows whose family expired before `cutoff`; returns how many. */
export async function purgeRefreshSessions(d: Db, cutoff: string): Promise<number> {
  return changes(await d.delete(refreshSessions).where(sql`${refreshSessions.familyExpiresAt} < ${cutoff}`).run());
}
