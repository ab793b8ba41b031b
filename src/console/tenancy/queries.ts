/**
 * Every D1 statement of tenancy (orgs and memberships), typed against the schema. Functions take
 * the drizzle client first; the ones named `…Statement` return an unexecuted statement for the
 * caller's `d.batch([...])`, so a change and its audit row land together.
 *
 *   const d = db(c.env);
 *   const [res] = await d.batch([deleteMembershipStatement(d, orgId, userId), auditIfChanged(c, …)]);
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { memberships, orgs, users } from '../../db/schema';
import type { OrgRole } from '../../auth/middleware';

export interface OrgWithRole {
  id: number;
  slug: string;
  name: string;
  /** The caller's role, or `platform_admin` for a platform admin without a membership. */
  role: string;
}

export async function orgExists(d: Db, orgId: number): Promise<boolean> {
  return (await d.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)).get()) !== undefined;
}

export async function userExists(d: Db, userId: number): Promise<boolean> {
  return (await d.select({ id: users.id }).from(users).where(eq(users.id, userId)).get()) !== undefined;
}

/** Every org, by name, with the admin's own role where they are a member. */
export function allOrgsFor(d: Db, userId: number): Promise<OrgWithRole[]> {
  return d
    .select({ id: orgs.id, slug: orgs.slug, name: orgs.name, role: sql<string>`COALESCE(${memberships.role}, 'platform_admin')` })
    .from(orgs)
    .leftJoin(memberships, and(eq(memberships.orgId, orgs.id), eq(memberships.userId, userId)))
    .orderBy(asc(orgs.name), asc(orgs.id));
}

/** The user's memberships, by org name. */
export function memberOrgsOf(d: Db, userId: number): Promise<OrgWithRole[]> {
  return d
    .select({ id: orgs.id, slug: orgs.slug, name: orgs.name, role: memberships.role })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(orgs.name), asc(orgs.id));
}

export function insertOrgStatement(d: Db, org: { slug: string; name: string; createdAt: string }) {
  return d.insert(orgs).values(org).returning();
}

/** The owner of an org inserted earlier in the same batch, found by its slug. */
export function insertOwnerBySlugStatement(d: Db, slug: string, userId: number, createdAt: string) {
  const orgIdBySlug = sql<number>`(SELECT ${orgs.id} FROM ${orgs} WHERE ${orgs.slug} = ${slug})`;
  return d.insert(memberships).values({ orgId: orgIdBySlug, userId, role: 'owner', createdAt });
}

/** Members with what `usernamesOf` needs to name them: owners, then admins, then members. */
export function orgMembers(d: Db, orgId: number) {
  return d
    .select({ id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest, role: memberships.role })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.orgId, orgId))
    .orderBy(sql`CASE ${memberships.role} WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END`, asc(users.id));
}

/** The stored name of one user (for `usernamesOf`), or undefined. */
export function userNameRow(d: Db, userId: number) {
  return d.select({ id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest }).from(users).where(eq(users.id, userId)).get();
}

/** Adds a membership unless one exists (an existing member keeps their role): 1 row or 0. */
export function addMembership(d: Db, m: { orgId: number; userId: number; role: OrgRole; createdAt: string }) {
  return d.insert(memberships).values(m).onConflictDoNothing().run();
}

/**
 * The last-owner rule, defined once: unless another owner remains, an owner row must not change.
 * A WHERE guard, so two concurrent demotions cannot both succeed.
 */
const notLastOwner = (orgId: number) =>
  sql`(${memberships.role} <> 'owner' OR (SELECT COUNT(*) FROM ${memberships} m2 WHERE m2.org_id = ${orgId} AND m2.role = 'owner') > 1)`;

export function setRoleStatement(d: Db, orgId: number, userId: number, role: OrgRole) {
  return d.update(memberships).set({ role }).where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId), notLastOwner(orgId)));
}

export function deleteMembershipStatement(d: Db, orgId: number, userId: number) {
  return d.delete(memberships).where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId), notLastOwner(orgId)));
}
