/**
 * Org invite codes: single-use and expiring, stored as SHA-256 hashes; listed and revoked by the
 * org's admins; revoked automatically when their creator no longer holds the admin/owner role in
 * the org (demoted, removed, left, deleted) — an invite never outlives its creator's authority.
 *
 * Redeeming is a compare-and-set (`used_at IS NULL AND revoked_at IS NULL`) that comes FIRST: a
 * registration claims the code before the account is created, so of many concurrent registrations
 * with one code exactly one gets an account (the others: 403), and the membership is written in
 * the same batch that binds the code to its user.
 *
 *   const { id, code } = await createInvite(env, orgId, 'member', creatorId, 7 * 24 * 3600);
 *   const claim = await claimInvite(env, code);  // before createUser; releaseInvite on failure
 *   await bindInvite(env, claim, userId);        // marks who used it + membership, one batch
 *   await redeemInvite(env, userId, code);       // an existing account (login): → { orgId, role } or null
 */
import { and, desc, eq, gt, isNull, sql, type SQL } from 'drizzle-orm';
import { changes, db } from '../db/client';
import { memberships, orgInvites } from '../db/schema';
import { nowIso, randomToken, sha256Hex, world } from '../world';

export type InviteRole = 'admin' | 'member';
export type InviteStatus = 'open' | 'used' | 'expired' | 'revoked';

export async function createInvite(
  env: Env,
  orgId: number,
  role: InviteRole,
  createdBy: number,
  ttlSeconds: number,
): Promise<{ id: number; code: string; expiresAt: string }> {
  const code = randomToken(18);
  const expiresAt = new Date(world.now() + ttlSeconds * 1000).toISOString();
  const row = await db(env)
    .insert(orgInvites)
    .values({ orgId, role, createdBy, codeHash: await sha256Hex(code), expiresAt, createdAt: nowIso() })
    .returning({ id: orgInvites.id })
    .get();
  return { id: row.id, code, expiresAt };
}

const isOpen = (now: string): SQL => and(isNull(orgInvites.usedAt), isNull(orgInvites.revokedAt), gt(orgInvites.expiresAt, now))!;

export interface InviteRow {
  id: number;
  role: InviteRole;
  createdBy: number | null;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  usedBy: number | null;
  revokedAt: string | null;
  revokeReason: string | null;
}

/** An org's invites, newest first (never the codes: only their hashes are stored). */
export async function listInvites(env: Env, orgId: number, limit = 200): Promise<Array<InviteRow & { status: InviteStatus }>> {
  const rows = await db(env)
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
  const now = nowIso();
  return rows.map((r) => ({
    ...r,
    status: r.revokedAt ? 'revoked' : r.usedAt ? 'used' : r.expiresAt <= now ? 'expired' : 'open',
  }));
}

/** Revokes one open invite of the org; false when there is no such open invite. */
export async function revokeInvite(env: Env, orgId: number, inviteId: number, reason: string): Promise<boolean> {
  const now = nowIso();
  const res = await db(env)
    .update(orgInvites)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(orgInvites.id, inviteId), eq(orgInvites.orgId, orgId), isOpen(now)))
    .run();
  return changes(res) === 1;
}

/**
 * For the batch that changes a user's role or membership (or platform role): revokes the open
 * invites that user created wherever they no longer hold admin/owner and are not a platform
 * admin. It reads the state the earlier statements of the batch wrote, so it is always right.
 */
export function revokeInvitesOfFormerAdmin(env: Env, userId: number) {
  const now = nowIso();
  return db(env)
    .update(orgInvites)
    .set({ revokedAt: now, revokeReason: 'creator no longer an admin of the org' })
    .where(
      and(
        eq(orgInvites.createdBy, userId),
        isNull(orgInvites.usedAt),
        isNull(orgInvites.revokedAt),
        sql`NOT EXISTS (SELECT 1 FROM users u WHERE u.id = ${userId} AND u.role = 'admin')`,
        sql`NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = ${orgInvites.orgId} AND m.user_id = ${userId} AND m.role IN ('admin', 'owner'))`,
      ),
    );
}

/** For the batch that deletes an account: its invites lost their creator (`created_by` became NULL). */
export function revokeInvitesWithoutCreator(env: Env) {
  return db(env)
    .update(orgInvites)
    .set({ revokedAt: nowIso(), revokeReason: 'creator deleted' })
    .where(and(isNull(orgInvites.createdBy), isNull(orgInvites.usedAt), isNull(orgInvites.revokedAt)));
}

export interface InviteClaim {
  id: number;
  orgId: number;
  role: InviteRole;
}

/** Claims an open code for an account about to be created: exactly one concurrent claim wins. */
export async function claimInvite(env: Env, code: string): Promise<InviteClaim | null> {
  const now = nowIso();
  const row = await db(env)
    .update(orgInvites)
    .set({ usedAt: now })
    .where(and(eq(orgInvites.codeHash, await sha256Hex(code)), isOpen(now)))
    .returning({ id: orgInvites.id, orgId: orgInvites.orgId, role: orgInvites.role })
    .get();
  return row ?? null;
}

/** The account could not be created after all: the claimed code is open again. */
export async function releaseInvite(env: Env, claim: InviteClaim): Promise<void> {
  await db(env)
    .update(orgInvites)
    .set({ usedAt: null })
    .where(and(eq(orgInvites.id, claim.id), isNull(orgInvites.usedBy), isNull(orgInvites.revokedAt)))
    .run();
}

/** Membership from an invite row this user now holds (used in the same batch as the UPDATE that binds it). */
function joinFromInvite(env: Env, where: SQL, userId: number, now: string) {
  return db(env)
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

export async function bindInvite(env: Env, claim: InviteClaim, userId: number): Promise<void> {
  const d = db(env);
  await d.batch([
    d.update(orgInvites).set({ usedBy: userId }).where(and(eq(orgInvites.id, claim.id), isNull(orgInvites.usedBy))),
    joinFromInvite(env, eq(orgInvites.id, claim.id), userId, nowIso()),
  ]);
}

/** An existing account redeems a code (login with `invite_code`): the conditional UPDATE and the membership in one batch. */
export async function redeemInvite(env: Env, userId: number, code: string): Promise<InviteClaim | null> {
  const now = nowIso();
  const d = db(env);
  const hash = await sha256Hex(code);
  const [used] = await d.batch([
    d
      .update(orgInvites)
      .set({ usedAt: now, usedBy: userId })
      .where(and(eq(orgInvites.codeHash, hash), isOpen(now)))
      .returning({ id: orgInvites.id, orgId: orgInvites.orgId, role: orgInvites.role }),
    joinFromInvite(env, and(eq(orgInvites.codeHash, hash), eq(orgInvites.usedAt, now))!, userId, now),
  ]);
  return used[0] ?? null;
}
