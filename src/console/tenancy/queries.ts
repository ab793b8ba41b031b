/**
 * Every D1 statement of tenancy (orgs and memberships), typed against the schema. Functions take
 * the drizzle client first; the ones named `…Statement` return an unexecuted statement for the
 * caller's `d.batch([...])`, so a change and its audit row land together.
 *
 *   const d = db(c.env);
 *   const [res] = await d.batch([deleteMembershipStatement(d, orgId, userId), auditIfChanged(c, …)]);
 */
import { and, asc, desc, eq, gt, isNull, sql, type SQL } from 'drizzle-orm';
import { alias, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../../db/client';
import { outer } from '../../db/helpers';
import { memberships, orgInvites, orgMemberRequests, orgs, users } from '../../db/schema';
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

/** A user's orgs are listed by name (then id): the first is their primary org. */
const byOrgName = [asc(orgs.name), asc(orgs.id)] as const;

/** Every org, by name, with the admin's own role where they are a member. */
export function allOrgsFor(d: Db, userId: number): Promise<OrgWithRole[]> {
  return d
    .select({ id: orgs.id, slug: orgs.slug, name: orgs.name, role: sql<string>`COALESCE(${memberships.role}, 'platform_admin')` })
    .from(orgs)
    .leftJoin(memberships, and(eq(memberships.orgId, orgs.id), eq(memberships.userId, userId)))
    .orderBy(...byOrgName);
}

/** The user's memberships, by org name (the login answer's `orgs`). */
export function memberOrgsOf(d: Db, userId: number): Promise<OrgWithRole[]> {
  return d
    .select({ id: orgs.id, slug: orgs.slug, name: orgs.name, role: memberships.role })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(...byOrgName);
}

/** The org a user's catalog, library and links are computed for when none is named: `memberOrgsOf(…)[0]`. */
export async function primaryOrgId(d: Db, userId: number): Promise<number | null> {
  const row = await d
    .select({ id: orgs.id })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(...byOrgName)
    .limit(1)
    .get();
  return row?.id ?? null;
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

// ---- member requests (joining by consent) ----

const digestOf = alias(users, 'digest_of');
const requesterMembership = alias(memberships, 'requester_membership');
const requesterUser = alias(users, 'requester_user');
/** `FROM` of an alias inside a `sql` template (drizzle renders the alias alone, without its table). */
const aliased = (table: SQLiteTable, name: string): SQL => sql`${table} ${sql.identifier(name)}`;

/** The caller's own digest, as SQL: requests are matched to accounts through it. */
const myDigest = (userId: number): SQL => sql`(SELECT ${digestOf.usernameDigest} FROM ${aliased(users, 'digest_of')} WHERE ${digestOf.id} = ${userId})`;

/** A pending, unexpired request addressed to this user. */
function addressedTo(userId: number, requestId: number, now: string): SQL {
  return and(
    eq(orgMemberRequests.id, requestId),
    eq(orgMemberRequests.status, 'pending'),
    gt(orgMemberRequests.expiresAt, now),
    sql`${orgMemberRequests.usernameDigest} = ${myDigest(userId)}`,
  )!;
}

/** The requester may still add people to the org. */
const requesterStillAdmin: SQL = sql`(EXISTS (SELECT 1 FROM ${aliased(memberships, 'requester_membership')} WHERE ${requesterMembership.orgId} = ${outer(orgMemberRequests.orgId)} AND ${requesterMembership.userId} = ${outer(orgMemberRequests.requestedBy)} AND ${requesterMembership.role} IN ('admin', 'owner'))
  OR EXISTS (SELECT 1 FROM ${aliased(users, 'requester_user')} WHERE ${requesterUser.id} = ${outer(orgMemberRequests.requestedBy)} AND ${requesterUser.role} = 'admin'))`;

/** Pending, unexpired requests addressed to this user whose requester may still ask, newest first. */
export function incomingMemberRequests(d: Db, userId: number, now: string) {
  return d
    .select({
      id: orgMemberRequests.id,
      orgId: orgs.id,
      slug: orgs.slug,
      name: orgs.name,
      role: orgMemberRequests.role,
      requestedBy: orgMemberRequests.requestedBy,
      createdAt: orgMemberRequests.createdAt,
      expiresAt: orgMemberRequests.expiresAt,
    })
    .from(orgMemberRequests)
    .innerJoin(orgs, eq(orgs.id, orgMemberRequests.orgId))
    .where(and(sql`${orgMemberRequests.usernameDigest} = ${myDigest(userId)}`, eq(orgMemberRequests.status, 'pending'), gt(orgMemberRequests.expiresAt, now), requesterStillAdmin))
    .orderBy(desc(orgMemberRequests.createdAt), desc(orgMemberRequests.id));
}

/**
 * The two statements of an accept, for one batch: the conditional UPDATE (returns the org and role
 * when it applied) and the membership it grants, read from the row that UPDATE just marked.
 */
export function acceptMemberRequestStatements(d: Db, userId: number, requestId: number, now: string) {
  return [
    d
      .update(orgMemberRequests)
      .set({ status: 'accepted', answeredAt: now })
      .where(and(addressedTo(userId, requestId, now), requesterStillAdmin))
      .returning({ orgId: orgMemberRequests.orgId, role: orgMemberRequests.role }),
    d
      .insert(memberships)
      .select((qb) =>
        qb
          .select({
            id: sql<number>`NULL`.as('id'),
            orgId: orgMemberRequests.orgId,
            userId: sql<number>`${userId}`.as('user_id'),
            role: orgMemberRequests.role,
            createdAt: sql<string>`${now}`.as('created_at'),
          })
          .from(orgMemberRequests)
          .where(and(eq(orgMemberRequests.id, requestId), eq(orgMemberRequests.status, 'accepted'), eq(orgMemberRequests.answeredAt, now))),
      )
      // Already a member (joined another way meanwhile): the existing role stays.
      .onConflictDoNothing(),
  ] as const;
}

export function declineMemberRequestStatement(d: Db, userId: number, requestId: number, now: string) {
  return d.update(orgMemberRequests).set({ status: 'declined', answeredAt: now }).where(addressedTo(userId, requestId, now));
}

/** A member of the org holding this username digest, or undefined. */
export function memberByDigest(d: Db, orgId: number, digest: string) {
  return d
    .select({ id: memberships.id })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(users.usernameDigest, digest)))
    .get();
}

/** Stores a pending request; asking the same name again renews the one request (org, digest). */
export function upsertMemberRequest(
  d: Db,
  orgId: number,
  digest: string,
  fresh: { usernameEnc: string; role: 'admin' | 'member'; requestedBy: number; createdAt: string; expiresAt: string },
) {
  const set = { ...fresh, status: 'pending' as const, answeredAt: null };
  return d
    .insert(orgMemberRequests)
    .values({ orgId, usernameDigest: digest, ...set })
    .onConflictDoUpdate({ target: [orgMemberRequests.orgId, orgMemberRequests.usernameDigest], set })
    .returning()
    .get();
}

/** An org's requests: pending first, then newest. */
export function orgMemberRequestList(d: Db, orgId: number, limit = 200) {
  return d
    .select()
    .from(orgMemberRequests)
    .where(eq(orgMemberRequests.orgId, orgId))
    .orderBy(sql`CASE ${orgMemberRequests.status} WHEN 'pending' THEN 0 ELSE 1 END`, desc(orgMemberRequests.createdAt), asc(orgMemberRequests.id))
    .limit(limit);
}

export function cancelMemberRequestStatement(d: Db, orgId: number, requestId: number, now: string) {
  return d
    .update(orgMemberRequests)
    .set({ status: 'cancelled', answeredAt: now })
    .where(and(eq(orgMemberRequests.id, requestId), eq(orgMemberRequests.orgId, orgId), eq(orgMemberRequests.status, 'pending')));
}

// ---- invites ----

export function insertInvite(d: Db, invite: { orgId: number; role: 'admin' | 'member'; createdBy: number; codeHash: string; expiresAt: string; createdAt: string }) {
  return d.insert(orgInvites).values(invite).returning({ id: orgInvites.id }).get();
}

/** Unused, unrevoked and unexpired: the only invites a code can redeem. */
const inviteOpen = (now: string): SQL => and(isNull(orgInvites.usedAt), isNull(orgInvites.revokedAt), gt(orgInvites.expiresAt, now))!;

/** An org's invites, newest first (never the codes: only their hashes are stored). */
export function inviteList(d: Db, orgId: number, limit: number) {
  return d
    .select({
      id: orgInvites.id,
      role: orgInvites.role,
      createdBy: orgInvites.createdBy,
      createdAt: orgInvites.createdAt,
      expiresAt: orgInvites.expiresAt,
      usedAt: orgInvites.usedAt,
      usedBy: orgInvites.usedBy,
      revokedAt: orgInvites.revokedAt,
      revokeReason: orgInvites.revokeReason,
    })
    .from(orgInvites)
    .where(eq(orgInvites.orgId, orgId))
    .orderBy(desc(orgInvites.createdAt), desc(orgInvites.id))
    .limit(limit);
}

/** Revokes one open invite of the org: 1 changed row, or 0 when there is no such open invite. */
export function revokeOpenInvite(d: Db, orgId: number, inviteId: number, reason: string, now: string) {
  return d
    .update(orgInvites)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(orgInvites.id, inviteId), eq(orgInvites.orgId, orgId), inviteOpen(now)))
    .run();
}

const creatorUser = alias(users, 'creator_user');
const creatorMembership = alias(memberships, 'creator_membership');

/**
 * For the batch that changes a user's role or membership (or platform role): revokes the open
 * invites that user created wherever they no longer hold admin/owner and are not a platform
 * admin. It reads the state the earlier statements of the batch wrote, so it is always right.
 */
export function revokeInvitesOfFormerAdminStatement(d: Db, userId: number, now: string) {
  return d
    .update(orgInvites)
    .set({ revokedAt: now, revokeReason: 'creator no longer an admin of the org' })
    .where(
      and(
        eq(orgInvites.createdBy, userId),
        isNull(orgInvites.usedAt),
        isNull(orgInvites.revokedAt),
        sql`NOT EXISTS (SELECT 1 FROM ${aliased(users, 'creator_user')} WHERE ${creatorUser.id} = ${userId} AND ${creatorUser.role} = 'admin')`,
        sql`NOT EXISTS (SELECT 1 FROM ${aliased(memberships, 'creator_membership')} WHERE ${creatorMembership.orgId} = ${outer(orgInvites.orgId)} AND ${creatorMembership.userId} = ${userId} AND ${creatorMembership.role} IN ('admin', 'owner'))`,
      ),
    );
}

/** For the batch that deletes an account: its invites lost their creator (`created_by` became NULL). */
export function revokeInvitesWithoutCreatorStatement(d: Db, now: string) {
  return d
    .update(orgInvites)
    .set({ revokedAt: now, revokeReason: 'creator deleted' })
    .where(and(isNull(orgInvites.createdBy), isNull(orgInvites.usedAt), isNull(orgInvites.revokedAt)));
}

/** Marks the open invite with this code hash used: the row when this call won it, else undefined. */
export function claimOpenInvite(d: Db, codeHash: string, now: string) {
  return d
    .update(orgInvites)
    .set({ usedAt: now })
    .where(and(eq(orgInvites.codeHash, codeHash), inviteOpen(now)))
    .returning({ id: orgInvites.id, orgId: orgInvites.orgId, role: orgInvites.role })
    .get();
}

/** Opens a claimed invite again, unless it was bound to a user or revoked meanwhile. */
export function releaseInviteClaim(d: Db, inviteId: number) {
  return d
    .update(orgInvites)
    .set({ usedAt: null })
    .where(and(eq(orgInvites.id, inviteId), isNull(orgInvites.usedBy), isNull(orgInvites.revokedAt)))
    .run();
}

/** Membership from an invite row this user now holds (in the same batch as the UPDATE that binds it). */
function joinFromInvite(d: Db, where: SQL, userId: number, now: string) {
  return d
    .insert(memberships)
    .select((qb) =>
      qb
        .select({
          id: sql<number>`NULL`.as('id'),
          orgId: orgInvites.orgId,
          userId: sql<number>`${userId}`.as('user_id'),
          role: orgInvites.role,
          createdAt: sql<string>`${now}`.as('created_at'),
        })
        .from(orgInvites)
        .where(and(where, eq(orgInvites.usedBy, userId))),
    )
    // An existing membership keeps its role: an invite never demotes.
    .onConflictDoNothing();
}

/** Binds a claimed invite to the new account, and its membership, for one batch. */
export function bindInviteStatements(d: Db, inviteId: number, userId: number, now: string) {
  return [
    d.update(orgInvites).set({ usedBy: userId }).where(and(eq(orgInvites.id, inviteId), isNull(orgInvites.usedBy))),
    joinFromInvite(d, eq(orgInvites.id, inviteId), userId, now),
  ] as const;
}

/** An existing account redeems a code, for one batch: the conditional UPDATE (returns the invite when it applied) and the membership. */
export function redeemInviteStatements(d: Db, codeHash: string, userId: number, now: string) {
  return [
    d
      .update(orgInvites)
      .set({ usedAt: now, usedBy: userId })
      .where(and(eq(orgInvites.codeHash, codeHash), inviteOpen(now)))
      .returning({ id: orgInvites.id, orgId: orgInvites.orgId, role: orgInvites.role }),
    joinFromInvite(d, and(eq(orgInvites.codeHash, codeHash), eq(orgInvites.usedAt, now))!, userId, now),
  ] as const;
}
