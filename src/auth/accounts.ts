/**
 * Accounts shared by both products: creating users (the first one ever becomes `admin`),
 * checking credentials with throttling and constant-time answers, upgrading old hashes, and
 * presenting a user with the decrypted username.
 *
 *   const user = await createUser(env, { username: 'Alice', password });
 *   const login = await checkCredentials(c, username, password); // throws 401/429
 */
import type { Context } from 'hono';
import { eq, inArray } from 'drizzle-orm';
import type { AppEnv } from '../env';
import { db } from '../db/client';
import { users } from '../db/schema';
import { BadRequest, Conflict, Unauthorized } from '../http/errors';
import { clientIp } from '../http/middleware';
import { isDvrPath } from '../http/paths';
import { executionContextOf, recordMetric } from '../http/metrics/record';
import { nowIso } from '../world';
import { audit } from './audit';
import { hashPassword, passwordPolicy, passwordProblem, scryptParams, verifyDummy, verifyPassword } from './passwords';
import { checkAccountLock, checkIpLimit, clearFailures, recordFailure } from './throttle';
import { displayUsername, usernameKeys } from './usernames';

export type Role = 'admin' | 'user';

export interface UserView {
  id: number;
  username: string;
  role: Role;
  created_at: string;
  updated_at: string;
}

type UserRow = typeof users.$inferSelect;

export const USERNAME_MAX = 64;

/** Why a username is unacceptable, or null. */
export function usernameProblem(raw: string): string | null {
  const name = displayUsername(raw);
  if (!name) return 'username required';
  if ([...name].length > USERNAME_MAX) return `username must be at most ${USERNAME_MAX} characters`;
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) return 'username contains invalid characters';
  return null;
}

export async function presentUser(env: Env, row: UserRow): Promise<UserView> {
  const keys = await usernameKeys(env.COUCHSUITE_USERNAME_SECRET);
  return {
    id: row.id,
    username: await keys.decrypt(row.usernameEnc, row.usernameDigest),
    role: row.role,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

/** Decrypts many usernames (for lists): `{ id → username }`. */
export async function usernamesOf(env: Env, rows: Array<Pick<UserRow, 'id' | 'usernameEnc' | 'usernameDigest'>>) {
  const keys = await usernameKeys(env.COUCHSUITE_USERNAME_SECRET);
  const out = new Map<number, string>();
  await Promise.all(rows.map(async (r) => out.set(r.id, await keys.decrypt(r.usernameEnc, r.usernameDigest))));
  return out;
}

/** Usernames of these user ids (one query; unknown ids are absent): `{ id → username }`. */
export async function usernamesByIds(env: Env, ids: Iterable<number | null>): Promise<Map<number, string>> {
  const wanted = [...new Set([...ids].filter((x): x is number => x !== null))];
  if (!wanted.length) return new Map();
  const rows = await db(env).select({ id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest }).from(users).where(inArray(users.id, wanted));
  return usernamesOf(env, rows);
}

export async function findUserByName(env: Env, raw: string): Promise<{ digest: string; row: UserRow | undefined }> {
  const digest = await (await usernameKeys(env.COUCHSUITE_USERNAME_SECRET)).digest(raw);
  const row = await db(env).select().from(users).where(eq(users.usernameDigest, digest)).get();
  return { digest, row };
}

export async function findUserById(env: Env, id: number): Promise<UserRow | undefined> {
  return db(env).select().from(users).where(eq(users.id, id)).get();
}

export async function hasUsers(env: Env): Promise<boolean> {
  return !!(await db(env).select({ id: users.id }).from(users).limit(1).get());
}

/**
 * Inserts a user. The role is decided inside the INSERT (`admin` when the table is empty), so two
 * concurrent first registrations cannot both become admin: SQLite serialises the statements.
 */
export async function createUser(
  env: Env,
  input: { username: string; password: string; role?: Role | 'auto' },
): Promise<UserRow> {
  const problem = usernameProblem(input.username);
  if (problem) throw new BadRequest(problem, 'invalid_username');
  const display = displayUsername(input.username);
  const weak = passwordProblem(input.password, passwordPolicy(env), display);
  if (weak) throw new BadRequest(weak, 'weak_password');
  const keys = await usernameKeys(env.COUCHSUITE_USERNAME_SECRET);
  const digest = await keys.digest(display);
  const usernameEnc = await keys.encrypt(display, digest);
  const passHash = await hashPassword(input.password, scryptParams(env));
  const now = nowIso();
  const role = input.role ?? 'auto';
  const roleExpr = role === 'auto' ? "(CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'user' ELSE 'admin' END)" : '?4';
  const { results } = await env.DB.prepare(
    `INSERT INTO users (username_digest, username_enc, pass_hash, role, created_at, updated_at)
     VALUES (?1, ?2, ?3, ${roleExpr}, ?5, ?5)
     ON CONFLICT (username_digest) DO NOTHING RETURNING id`,
  )
    .bind(digest, usernameEnc, passHash, role === 'auto' ? null : role, now)
    .all<{ id: number }>();
  const created = results[0];
  if (!created) throw new Conflict('username already exists', 'username_taken');
  return (await findUserById(env, created.id))!;
}

export interface CheckedLogin {
  row: UserRow;
}

/**
 * Verifies a username/password pair with the throttles. Unknown names and wrong passwords cost the
 * same time and get the same 401; locked names get 429 + Retry-After.
 */
export async function checkCredentials(c: Context<AppEnv>, username: string, password: string): Promise<CheckedLogin> {
  const env = c.env;
  await checkIpLimit(env, clientIp(c.req.raw));
  const { digest, row } = await findUserByName(env, username);
  try {
    await checkAccountLock(env, digest);
  } catch (e) {
    await audit(c, 'auth.login.locked', { actorUserId: row?.id ?? null, targetType: 'user', targetId: row?.id });
    throw e;
  }
  const params = scryptParams(env);
  const verdict =
    row && password.length <= 1024 ? await verifyPassword(password, row.passHash, params) : (await verifyDummy(password, params), { ok: false, needsRehash: false });
  if (!row || !verdict.ok) {
    const locked = await recordFailure(env, digest);
    await audit(c, 'auth.login.failure', { actorUserId: row?.id ?? null, targetType: 'user', targetId: row?.id });
    recordMetric(env, executionContextOf(c), 'auth.login_failures', { product: isDvrPath(c.req.path) ? 'dvr' : 'console' });
    if (locked) await audit(c, 'auth.login.lockout', { actorUserId: row?.id ?? null, targetType: 'user', targetId: row?.id });
    throw new Unauthorized('invalid credentials', 'invalid_credentials');
  }
  await clearFailures(env, digest);
  if (verdict.needsRehash) {
    // Upgrade legacy (bcrypt, PBKDF2) or weaker scrypt hashes now that we know the password.
    await db(env)
      .update(users)
      .set({ passHash: await hashPassword(password, params), updatedAt: nowIso() })
      .where(eq(users.id, row.id))
      .run();
  }
  await audit(c, 'auth.login.success', { actorUserId: row.id, targetType: 'user', targetId: row.id });
  return { row };
}

export async function setPassword(env: Env, userId: number, password: string, username?: string): Promise<void> {
  const weak = passwordProblem(password, passwordPolicy(env), username);
  if (weak) throw new BadRequest(weak, 'weak_password');
  await db(env)
    .update(users)
    .set({ passHash: await hashPassword(password, scryptParams(env)), updatedAt: nowIso() })
    .where(eq(users.id, userId))
    .run();
}
