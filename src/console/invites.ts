/**
 * Org invite codes: single-use and expiring, stored as SHA-256 hashes; listed and revoked by the
 * org's admins; revoked automatically when their creator no longer holds the admin/owner role in
 * the org (demoted, removed, left, deleted) — an invite never outlives its creator's authority.
 *
 * Redeeming is a compare-and-set (`used_at IS NULL AND revoked_at IS NULL`) that comes FIRST: a
 * registration claims the code before the account is created, so of many concurrent registrations
 * with one code exactly one gets an account (the others: 403), and the membership is written in
 * the same batch that binds the code to its user. The statements live in `tenancy/queries.ts`.
 *
 *   const { id, code } = await createInvite(d, orgId, 'member', creatorId, 7 * 24 * 3600);
 *   const claim = await claimInvite(d, code);    // before createUser; releaseInvite on failure
 *   await bindInvite(d, claim, userId);          // marks who used it + membership, one batch
 *   await redeemInvite(d, userId, code);         // an existing account (login): → { orgId, role } or null
 */
import { changes, type Db } from '../db/client';
import { nowIso, randomToken, sha256Hex, world } from '../world';
import {
  bindInviteStatements,
  claimOpenInvite,
  insertInvite,
  inviteList,
  redeemInviteStatements,
  releaseInviteClaim,
  revokeOpenInvite,
} from './tenancy/queries';

export type InviteRole = 'admin' | 'member';
export type InviteStatus = 'open' | 'used' | 'expired' | 'revoked';

export async function createInvite(
  d: Db,
  orgId: number,
  role: InviteRole,
  createdBy: number,
  ttlSeconds: number,
): Promise<{ id: number; code: string; expiresAt: string }> {
  const code = randomToken(18);
  const expiresAt = new Date(world.now() + ttlSeconds * 1000).toISOString();
  const row = await insertInvite(d, { orgId, role, createdBy, codeHash: await sha256Hex(code), expiresAt, createdAt: nowIso() });
  return { id: row.id, code, expiresAt };
}

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

/** An org's invites, newest first, with their status as of now. */
export async function listInvites(d: Db, orgId: number, limit = 200): Promise<Array<InviteRow & { status: InviteStatus }>> {
  const rows = await inviteList(d, orgId, limit);
  const now = nowIso();
  return rows.map((r) => ({
    ...r,
    status: r.revokedAt ? 'revoked' : r.usedAt ? 'used' : r.expiresAt <= now ? 'expired' : 'open',
  }));
}

/** Revokes one open invite of the org; false when there is no such open invite. */
export async function revokeInvite(d: Db, orgId: number, inviteId: number, reason: string): Promise<boolean> {
  return changes(await revokeOpenInvite(d, orgId, inviteId, reason, nowIso())) === 1;
}

export interface InviteClaim {
  id: number;
  orgId: number;
  role: InviteRole;
}

/** Claims an open code for an account about to be created: exactly one concurrent claim wins. */
export async function claimInvite(d: Db, code: string): Promise<InviteClaim | null> {
  return (await claimOpenInvite(d, await sha256Hex(code), nowIso())) ?? null;
}

/** The account could not be created after all: the claimed code is open again. */
export async function releaseInvite(d: Db, claim: InviteClaim): Promise<void> {
  await releaseInviteClaim(d, claim.id);
}

export async function bindInvite(d: Db, claim: InviteClaim, userId: number): Promise<void> {
  await d.batch(bindInviteStatements(d, claim.id, userId, nowIso()));
}

/** An existing account redeems a code (login with `invite_code`): the conditional UPDATE and the membership in one batch. */
export async function redeemInvite(d: Db, userId: number, code: string): Promise<InviteClaim | null> {
  const [used] = await d.batch(redeemInviteStatements(d, await sha256Hex(code), userId, nowIso()));
  return used[0] ?? null;
}
