/**
 * Platform-admin edits of accounts, all-or-nothing, with the invariants kept in SQL so that two
 * admins acting at the same moment cannot break them:
 * - there is always at least one platform admin (no demotion or deletion of the last one);
 * - an admin never deletes their own account (another admin must);
 * - a user who is the only owner of an org cannot be deleted (make someone else owner first);
 * - a deleted user's live play seats are ended through their org's allocator first, so its next
 *   mirror batch never carries a row for a user that no longer exists.
 *
 *   const plan = await planUserEdit(env, row, { username, password, role }); // 400s before any write
 *   await applyUserEdit(c, row.id, plan);                                   // 404 / 409 or done
 *   await deleteUserAccount(c, id);                                          // 409 or { deleted }
 */
import type { Context } from 'hono';
import { and, eq, inArray, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { AppEnv } from '../env';
import { changes, db } from '../db/client';
import { authSessions, memberships, orgs, playSessions, users } from '../db/schema';
import { BadRequest, Conflict, NotFound } from '../http/errors';
import { allocatorOf, LIVE_STATUSES } from '../console/play/model';
import { revokeInvitesOfFormerAdmin, revokeInvitesWithoutCreator } from '../console/invites';
import { isUniqueViolation } from '../console/schemas';
import { nowIso } from '../world';
import { presentUser, usernameProblem, type Role } from './accounts';
import { auditIfChanged } from './audit';
import { hashPassword, passwordPolicy, passwordProblem, scryptParams } from './passwords';
import { displayUsername, usernameKeys } from './usernames';

type UserRow = typeof users.$inferSelect;

/** True while another admin remains besides this row (for a WHERE on `users`). */
const anotherAdminRemains: SQL = sql`(${users.role} <> 'admin' OR (SELECT COUNT(*) FROM users a WHERE a.role = 'admin') > 1)`;

/** The user owns an org that has no other owner. */
function soleOwnerOfAnOrg(userId: number): SQL {
  return sql`EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = ${userId} AND m.role = 'owner'
                       AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = m.org_id AND o.role = 'owner' AND o.user_id <> m.user_id))`;
}

export interface UserEdit {
  set: Partial<Pick<UserRow, 'usernameDigest' | 'usernameEnc' | 'passHash' | 'role'>>;
  fields: string[];
  roleChange: Role | null;
}

/** Validates every requested change and prepares the values; throws a 400 before anything is written. */
export async function planUserEdit(env: Env, row: UserRow, body: { username?: string; password?: string; role?: Role }): Promise<UserEdit> {
  const set: UserEdit['set'] = {};
  let display: string | undefined;
  if (body.username !== undefined) {
    const problem = usernameProblem(body.username);
    if (problem) throw new BadRequest(problem, 'invalid_username');
    const keys = await usernameKeys(env.COUCHSUITE_USERNAME_SECRET);
    display = displayUsername(body.username);
    set.usernameDigest = await keys.digest(display);
    set.usernameEnc = await keys.encrypt(display, set.usernameDigest);
  }
  if (body.password !== undefined) {
    const weak = passwordProblem(body.password, passwordPolicy(env), display ?? (await presentUser(env, row)).username);
    if (weak) throw new BadRequest(weak, 'weak_password');
    set.passHash = await hashPassword(body.password, scryptParams(env));
  }
  if (body.role !== undefined) set.role = body.role;
  return { set, fields: Object.keys(body), roleChange: body.role !== undefined && body.role !== row.role ? body.role : null };
}

/**
 * One batch: the user row (every field at once; demoting the last admin is refused by the WHERE),
 * its audit row, and — for a password reset — the revocation of the user's logins, guarded on the
 * new hash being the one stored.
 */
export async function applyUserEdit(c: Context<AppEnv>, id: number, edit: UserEdit): Promise<void> {
  const d = db(c.env);
  const now = nowIso();
  const demotes = edit.set.role === 'user';
  const passHash = edit.set.passHash;
  let result;
  try {
    result = await d.batch([
      d
        .update(users)
        .set({ ...edit.set, updatedAt: now })
        .where(and(eq(users.id, id), demotes ? anotherAdminRemains : undefined)),
      auditIfChanged(c, 'user.update', { targetType: 'user', targetId: id, details: { fields: edit.fields, ...(edit.roleChange ? { role: edit.roleChange } : {}) } }),
      ...(passHash
        ? [
            d
              .update(authSessions)
              .set({ revokedAt: now, revokeReason: 'admin password reset' })
              .where(and(eq(authSessions.userId, id), isNull(authSessions.revokedAt), sql`EXISTS (SELECT 1 FROM users u WHERE u.id = ${id} AND u.pass_hash = ${passHash})`)),
          ]
        : []),
      ...(demotes ? [revokeInvitesOfFormerAdmin(c.env, id)] : []),
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw new Conflict('username already exists', 'username_taken');
    throw e;
  }
  if (changes(result[0]) === 0) {
    if (!(await d.select({ id: users.id }).from(users).where(eq(users.id, id)).get())) throw new NotFound('user not found');
    throw new Conflict('the last platform admin cannot be demoted; make another user admin first', 'last_admin');
  }
}

/** Why this account cannot be deleted right now, or null. */
async function deletionRefusal(env: Env, actorId: number, id: number): Promise<Conflict | null> {
  if (id === actorId) return new Conflict('an admin cannot delete their own account; another admin must', 'self_delete');
  const owned = await db(env)
    .select({ slug: orgs.slug })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(and(eq(memberships.userId, id), eq(memberships.role, 'owner'), sql`NOT EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = ${memberships.orgId} AND o.role = 'owner' AND o.user_id <> ${id})`));
  if (owned.length > 0) {
    return new Conflict(`the user is the last owner of ${owned.map((o) => o.slug).join(', ')}; make someone else owner first`, 'last_owner');
  }
  const row = await db(env).select({ role: users.role }).from(users).where(eq(users.id, id)).get();
  if (row?.role === 'admin') {
    const admins = await db(env).select({ n: sql<number>`COUNT(*)` }).from(users).where(eq(users.role, 'admin')).get();
    if ((admins?.n ?? 0) <= 1) return new Conflict('the last platform admin cannot be deleted', 'last_admin');
  }
  return null;
}

/**
 * Deletes an account: refusals first (nothing is ended for a delete that will be refused), then
 * the user's live play seats are terminated through their allocators (the allocator's public
 * release path), then one guarded DELETE + audit batch. `deleted: false` when there was no user.
 */
export async function deleteUserAccount(c: Context<AppEnv>, id: number, details: Record<string, unknown>): Promise<{ deleted: boolean }> {
  const env = c.env;
  const actorId = c.get('user').id;
  const refusal = await deletionRefusal(env, actorId, id);
  if (refusal) throw refusal;
  const d = db(env);
  const live = await d
    .select({ id: playSessions.id, orgId: playSessions.orgId })
    .from(playSessions)
    .where(and(eq(playSessions.userId, id), inArray(playSessions.status, [...LIVE_STATUSES])));
  for (const s of live) await allocatorOf(env, s.orgId).terminate(s.orgId, s.id);
  const [del] = await d.batch([
    d.delete(users).where(and(eq(users.id, id), ne(users.id, actorId), sql`NOT ${soleOwnerOfAnOrg(id)}`, anotherAdminRemains)),
    auditIfChanged(c, 'user.delete', { targetType: 'user', targetId: id, details: { ...details, ended_play_sessions: live.length } }),
    revokeInvitesWithoutCreator(env),
  ]);
  if (changes(del) > 0) return { deleted: true };
  // Refused by the SQL guards: the state changed since the checks above (a concurrent admin action).
  const late = await deletionRefusal(env, actorId, id);
  if (late) throw late;
  return { deleted: false };
}
