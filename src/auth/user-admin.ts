/**
 * Platform-admin edits of accounts, all-or-nothing, with the invariants kept in SQL so that two
 * admins acting at the same moment cannot break them:
 * - there is always at least one platform admin (no demotion or deletion of the last one);
 * - an admin never deletes their own account (another admin must);
 * - a user who is the only owner of an org cannot be deleted (make someone else owner first);
 * - what other areas hold for the account is ended with it (the console: live play seats ended
 *   through their allocator before the delete, so its next mirror batch never carries a row for a
 *   user that no longer exists; invites revoked in the same batch).
 *
 * Identity does not know those areas (layers point down), and neither does the DVR router that
 * calls these use cases. Each area describes its part as an `AccountCleanup`; the entry layer
 * (`src/app.ts`) hands the list to every request with `provideAccountCleanups([...])`, and the use
 * cases read it from the request context. A request that reaches them without the list is a
 * wiring bug: they refuse (500) rather than leave play seats or invites behind.
 *
 *   const plan = await planUserEdit(env, row, { username, password, role }); // 400s before any write
 *   await applyUserEdit(c, row.id, plan);                                   // 404 / 409 or done
 *   await deleteUserAccount(c, id, details);                                 // 409 or { deleted }
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { BatchItem } from 'drizzle-orm/batch';
import type { AppEnv } from '../env';
import { changes, db } from '../db/client';
import { isUniqueViolation } from '../db/errors';
import { BadRequest, Conflict, NotFound } from '../http/errors';
import { nowIso } from '../world';
import { presentUser, usernameProblem, type Role } from './accounts';
import { auditIfChanged } from './audit';
import { hashPassword, passwordPolicy, passwordProblem, scryptParams } from './passwords';
import {
  countAdmins,
  deleteUserGuarded,
  revokeRefreshSessionsAfterReset,
  roleOfUser,
  soleOwnedOrgSlugs,
  updateUserGuarded,
  userById,
  type UserRow,
} from './queries/users';
import { displayUsername, usernameKeys } from './usernames';

/** One area's share of ending or demoting an account. */
export interface AccountCleanup {
  /** After the refusals, before the delete batch: ends what lives outside D1. The returned fields join the audit row's details. */
  beforeDelete(env: Env, userId: number): Promise<Record<string, unknown>>;
  /** Statements appended to the delete batch (they run after the user row is gone). */
  onDelete(env: Env, userId: number): Array<BatchItem<'sqlite'>>;
  /** Statements appended to a demotion's batch (they see the new role). */
  onDemote(env: Env, userId: number): Array<BatchItem<'sqlite'>>;
}

declare module 'hono' {
  interface ContextVariableMap {
    accountCleanups: readonly AccountCleanup[];
  }
}

/** The entry layer's wiring: every request carries the areas' account cleanups. */
export function provideAccountCleanups(cleanups: readonly AccountCleanup[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('accountCleanups', cleanups);
    await next();
  };
}

function cleanupsOf(c: Context<AppEnv>): readonly AccountCleanup[] {
  const cleanups = c.get('accountCleanups');
  if (!cleanups) throw new Error('account cleanups not provided: mount provideAccountCleanups in src/app.ts');
  return cleanups;
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
 * its audit row, for a password reset the revocation of the user's logins (guarded on the new
 * hash being the one stored), and for a demotion the areas' demotion statements.
 */
export async function applyUserEdit(c: Context<AppEnv>, id: number, edit: UserEdit): Promise<void> {
  const d = db(c.env);
  const now = nowIso();
  const demotes = edit.set.role === 'user';
  const passHash = edit.set.passHash;
  const onDemote = demotes ? cleanupsOf(c).flatMap((a) => a.onDemote(c.env, id)) : [];
  let result;
  try {
    result = await d.batch([
      updateUserGuarded(d, id, edit.set, now),
      auditIfChanged(c, 'user.update', { targetType: 'user', targetId: id, details: { fields: edit.fields, ...(edit.roleChange ? { role: edit.roleChange } : {}) } }),
      ...(passHash ? [revokeRefreshSessionsAfterReset(d, id, passHash, now)] : []),
      ...onDemote,
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw new Conflict('username already exists', 'username_taken');
    throw e;
  }
  if (changes(result[0]) === 0) {
    if (!(await userById(d, id))) throw new NotFound('user not found');
    throw new Conflict('the last platform admin cannot be demoted; make another user admin first', 'last_admin');
  }
}

/** Why this account cannot be deleted right now, or null. */
async function deletionRefusal(env: Env, actorId: number, id: number): Promise<Conflict | null> {
  if (id === actorId) return new Conflict('an admin cannot delete their own account; another admin must', 'self_delete');
  const d = db(env);
  const owned = await soleOwnedOrgSlugs(d, id);
  if (owned.length > 0) {
    return new Conflict(`the user is the last owner of ${owned.join(', ')}; make someone else owner first`, 'last_owner');
  }
  if ((await roleOfUser(d, id)) === 'admin' && (await countAdmins(d)) <= 1) {
    return new Conflict('the last platform admin cannot be deleted', 'last_admin');
  }
  return null;
}

/**
 * Deletes an account: refusals first (nothing is ended for a delete that will be refused), then
 * each area's `beforeDelete` (the console ends live play seats through the allocator's public
 * release path), then one guarded DELETE + audit + the areas' `onDelete` statements in one batch.
 * `deleted: false` when there was no user.
 */
export async function deleteUserAccount(c: Context<AppEnv>, id: number, details: Record<string, unknown>): Promise<{ deleted: boolean }> {
  const env = c.env;
  const actorId = c.get('user').id;
  const cleanups = cleanupsOf(c);
  const refusal = await deletionRefusal(env, actorId, id);
  if (refusal) throw refusal;
  let ended: Record<string, unknown> = {};
  for (const area of cleanups) ended = { ...ended, ...(await area.beforeDelete(env, id)) };
  const d = db(env);
  const [del] = await d.batch([
    deleteUserGuarded(d, id, actorId),
    auditIfChanged(c, 'user.delete', { targetType: 'user', targetId: id, details: { ...details, ...ended } }),
    ...cleanups.flatMap((a) => a.onDelete(env, id)),
  ]);
  if (changes(del) > 0) return { deleted: true };
  // Refused by the SQL guards: the state changed since the checks above (a concurrent admin action).
  const late = await deletionRefusal(env, actorId, id);
  if (late) throw late;
  return { deleted: false };
}
