/**
 * Org invite codes: single-use and expiring, stored as SHA-256 hashes. Redeeming is a
 * compare-and-set (`used_at IS NULL`), so a code joins exactly one account even under races.
 *
 *   const code = await createInvite(env, orgId, 'member', creatorId, 7 * 24 * 3600);
 *   await redeemInvite(env, userId, code); // → { orgId, role } or null
 */
import { and, eq, gt, isNull } from 'drizzle-orm';
import { db } from '../db/client';
import { memberships, orgInvites } from '../db/schema';
import { nowIso, randomToken, sha256Hex, world } from '../world';

export async function createInvite(
  env: Env,
  orgId: number,
  role: 'admin' | 'member',
  createdBy: number,
  ttlSeconds: number,
): Promise<{ code: string; expiresAt: string }> {
  const code = randomToken(18);
  const expiresAt = new Date(world.now() + ttlSeconds * 1000).toISOString();
  await db(env)
    .insert(orgInvites)
    .values({ orgId, role, createdBy, codeHash: await sha256Hex(code), expiresAt, createdAt: nowIso() })
    .run();
  return { code, expiresAt };
}

/** True when the code exists, is unused and unexpired (a pre-check before creating an account). */
export async function inviteIsValid(env: Env, code: string): Promise<boolean> {
  const row = await db(env)
    .select({ id: orgInvites.id })
    .from(orgInvites)
    .where(and(eq(orgInvites.codeHash, await sha256Hex(code)), isNull(orgInvites.usedAt), gt(orgInvites.expiresAt, nowIso())))
    .get();
  return !!row;
}

export async function redeemInvite(env: Env, userId: number, code: string): Promise<{ orgId: number; role: 'admin' | 'member' } | null> {
  const now = nowIso();
  const d = db(env);
  const used = await d
    .update(orgInvites)
    .set({ usedAt: now, usedBy: userId })
    .where(and(eq(orgInvites.codeHash, await sha256Hex(code)), isNull(orgInvites.usedAt), gt(orgInvites.expiresAt, now)))
    .returning({ orgId: orgInvites.orgId, role: orgInvites.role })
    .get();
  if (!used) return null;
  // An existing membership keeps its role: an invite never demotes.
  await d.insert(memberships).values({ orgId: used.orgId, userId, role: used.role, createdAt: now }).onConflictDoNothing().run();
  return used;
}
