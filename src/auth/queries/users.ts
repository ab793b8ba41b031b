/**
 * Statements on accounts (`users`) and on what identity reads around them (`memberships` for org
 * roles and the last-owner rule, `platform_settings` for open registration). Every statement of
 * the identity layer lives under `src/auth/queries/`; the domain modules call these.
 *
 *   const d = db(env);
 *   const row = await userById(d, id);
 *   const id = await insertUser(d, { usernameDigest, usernameEnc, passHash, role: 'auto', now }); // null: name taken
 */
import { and, eq, exists, inArray, isNull, ne, notExists, or, sql, type Placeholder, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { changes, type Db } from '../../db/client';
import { prepared, type Slots } from '../../db/prepared';
import { refreshSessions, memberships, orgs, platformSettings, users } from '../../db/schema';

export type UserRow = typeof users.$inferSelect;
export type Role = UserRow['role'];
export type OrgRole = (typeof memberships.$inferSelect)['role'];

export async function userById(d: Db, id: number): Promise<UserRow | undefined> {
  return d.select().from(users).where(eq(users.id, id)).get();
}

export async function userByDigest(d: Db, usernameDigest: string): Promise<UserRow | undefined> {
  return d.select().from(users).where(eq(users.usernameDigest, usernameDigest)).get();
}

/** The encrypted names of these users (unknown ids are absent). */
export async function usernameRowsByIds(d: Db, ids: number[]) {
  if (!ids.length) return [];
  return d.select({ id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest }).from(users).where(inArray(users.id, ids));
}

export async function anyUserExists(d: Db): Promise<boolean> {
  return !!(await d.select({ id: users.id }).from(users).limit(1).get());
}

/**
 * Inserts a user; null when the name is taken. With `role: 'auto'` the role is decided inside the
 * INSERT (`admin` when the table is empty), so two concurrent first registrations cannot both
 * become admin: SQLite serialises the statements.
 */
export async function insertUser(
  d: Db,
  u: { usernameDigest: string; usernameEnc: string; passHash: string; role: Role | 'auto'; now: string },
): Promise<number | null> {
  const firstIsAdmin = sql<Role>`(CASE WHEN EXISTS (SELECT 1 FROM ${users}) THEN 'user' ELSE 'admin' END)`;
  const row = await d
    .insert(users)
    .values({
      usernameDigest: u.usernameDigest,
      usernameEnc: u.usernameEnc,
      passHash: u.passHash,
      role: u.role === 'auto' ? firstIsAdmin : u.role,
      createdAt: u.now,
      updatedAt: u.now,
    })
    .onConflictDoNothing({ target: users.usernameDigest })
    .returning({ id: users.id })
    .get();
  return row?.id ?? null;
}

export async function setPassHash(d: Db, userId: number, passHash: string, now: string): Promise<void> {
  await d.update(users).set({ passHash, updatedAt: now }).where(eq(users.id, userId)).run();
}

const admins = alias(users, 'other_admins');
/** True while another admin remains besides this row (for a WHERE on `users`). */
function anotherAdminRemains(d: Db): SQL {
  const adminCount = d.select({ n: sql<number>`COUNT(*)` }).from(admins).where(eq(admins.role, 'admin'));
  return sql`(${users.role} <> 'admin' OR (${adminCount}) > 1)`;
}

const owners = alias(memberships, 'other_owners');
/** For a query on `memberships`: the row's org has no owner besides this user. */
function noOtherOwner(d: Db, userId: number): SQL {
  return notExists(
    d
      .select({ one: sql`1` })
      .from(owners)
      .where(and(eq(owners.orgId, memberships.orgId), eq(owners.role, 'owner'), ne(owners.userId, userId))),
  );
}

/** The account edit, unexecuted (for the caller's batch). Demoting the last admin changes no row. */
export function updateUserGuarded(d: Db, id: number, set: Partial<Pick<UserRow, 'usernameDigest' | 'usernameEnc' | 'passHash' | 'role'>>, now: string) {
  return d
    .update(users)
    .set({ ...set, updatedAt: now })
    .where(and(eq(users.id, id), set.role === 'user' ? anotherAdminRemains(d) : undefined));
}

/** The account deletion, unexecuted: refused (no row) for the actor, an org's last owner or the last admin. */
export function deleteUserGuarded(d: Db, id: number, actorId: number) {
  const soleOwner = d
    .select({ one: sql`1` })
    .from(memberships)
    .where(and(eq(memberships.userId, id), eq(memberships.role, 'owner'), noOtherOwner(d, id)));
  return d.delete(users).where(and(eq(users.id, id), ne(users.id, actorId), notExists(soleOwner), anotherAdminRemains(d)));
}

/** The slugs of the orgs this user is the only owner of. */
export async function soleOwnedOrgSlugs(d: Db, userId: number): Promise<string[]> {
  const rows = await d
    .select({ slug: orgs.slug })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(and(eq(memberships.userId, userId), eq(memberships.role, 'owner'), noOtherOwner(d, userId)));
  return rows.map((r) => r.slug);
}

export async function roleOfUser(d: Db, id: number): Promise<Role | null> {
  return (await d.select({ role: users.role }).from(users).where(eq(users.id, id)).get())?.role ?? null;
}

export async function countAdmins(d: Db): Promise<number> {
  return (await d.select({ n: sql<number>`COUNT(*)` }).from(users).where(eq(users.role, 'admin')).get())?.n ?? 0;
}

/**
 * For a password reset's batch: ends every live refresh session of the user, but only when the
 * stored hash is the new one (so a reset refused earlier in the batch revokes nothing).
 */
export function revokeRefreshSessionsAfterReset(d: Db, userId: number, passHash: string, now: string) {
  const stored = d.select({ one: sql`1` }).from(users).where(and(eq(users.id, userId), eq(users.passHash, passHash)));
  return d
    .update(refreshSessions)
    .set({ revokedAt: now, revokeReason: 'admin password reset' })
    .where(and(eq(refreshSessions.userId, userId), isNull(refreshSessions.revokedAt), exists(stored)));
}

/** The caller's role in an org. */
export async function membershipRole(d: Db, userId: number, orgId: number): Promise<OrgRole | null> {
  return (await membershipRoleQuery(d, userId, orgId))[0]?.role ?? null;
}

/** A user's membership row in an org: the one condition the role read and the SQL guard below share. */
function membershipOf(userId: number | Placeholder<string, number>, orgId: number | Placeholder<string, number>) {
  return and(eq(memberships.orgId, orgId), eq(memberships.userId, userId));
}

// Built once per isolate (src/db/prepared.ts): hot routes read it in their first batch.
const membershipRoleOf = prepared((d, $: Slots<{ userId: number; orgId: number }>) =>
  d.select({ role: memberships.role }).from(memberships).where(membershipOf($.userId, $.orgId)).limit(1),
);

/** `membershipRole` unexecuted, for a caller's `d.batch([...])`: `rows[0]?.role ?? null`. */
export function membershipRoleQuery(d: Db, userId: number, orgId: number) {
  return membershipRoleOf(d, { userId, orgId });
}

/**
 * `orgRoleVerdict(user, membershipRole(…), 'member')` as row-independent SQL: the user holds a
 * membership of the org (the row `membershipRoleQuery` reads) or is a platform admin. A statement
 * guarded by it (`WHERE … AND guard`) reads nothing for a caller the handler will refuse, in the
 * same batch as the check (the charts' one round trip).
 */
export function orgMemberOrAdminSql(d: Db, userId: number, orgId: number): SQL {
  return or(
    exists(d.select({ one: sql`1` }).from(memberships).where(membershipOf(userId, orgId))),
    exists(d.select({ one: sql`1` }).from(users).where(and(eq(users.id, userId), eq(users.role, 'admin')))),
  )!;
}

/** The run-time switch (`platform_settings.open_registration`), or null when never set. */
export async function openRegistrationSetting(d: Db): Promise<string | null> {
  return (await d.select({ value: platformSettings.value }).from(platformSettings).where(eq(platformSettings.key, 'open_registration')).get())?.value ?? null;
}

export { changes };
