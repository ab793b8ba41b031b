/**
 * Login throttling, two layers:
 * - per client IP (`cf-connecting-ip`) through the rate-limiting binding: cheap, approximate, per
 *   location — it stops floods;
 * - per account in D1 (global): `LOGIN_MAX_FAILURES` failures within the lockout window lock the
 *   account name for `LOGIN_LOCKOUT_SECONDS`. Unknown names are counted the same way, so the
 *   answers do not reveal which names exist. Success clears the counter.
 *
 * The same two layers guard the other requests that cost a password hash (keys in `throttleKey`):
 * `POST /api/me/change-password` (per address, and per user: failures lock the user's password
 * changes like a login name) and registration (per address, every attempt counts).
 */
import { db } from '../db/client';
import { TooManyRequests } from '../http/errors';
import { world } from '../world';
import { clearThrottle, countThrottleFailure, throttleRow } from './queries/throttles';

function limits(env: Env) {
  const max = Number.parseInt(env.LOGIN_MAX_FAILURES, 10);
  const lockout = Number.parseInt(env.LOGIN_LOCKOUT_SECONDS, 10);
  return {
    maxFailures: Number.isInteger(max) && max > 0 ? max : 10,
    lockoutMs: (Number.isInteger(lockout) && lockout > 0 ? lockout : 900) * 1000,
  };
}

export interface Limits {
  maxFailures: number;
  lockoutMs: number;
}

/** Registrations per client address (global, in D1): `REGISTER_MAX_PER_IP` per `REGISTER_WINDOW_SECONDS`. */
export function registrationLimits(env: Env): Limits {
  const max = Number.parseInt(env.REGISTER_MAX_PER_IP, 10);
  const window = Number.parseInt(env.REGISTER_WINDOW_SECONDS, 10);
  return {
    maxFailures: Number.isInteger(max) && max > 0 ? max : 10,
    lockoutMs: (Number.isInteger(window) && window > 0 ? window : 3600) * 1000,
  };
}

/** Keys of the D1 counters that are not login names (kept apart from username digests by a prefix). */
export const throttleKey = {
  changePassword: (userId: number) => `change-password:user:${userId}`,
  registration: (ip: string) => `register:ip:${ip}`,
};

/** The per-address flood stop (rate-limiting binding); `action` keeps logins, password changes and
 * registrations in separate buckets. */
export async function checkIpLimit(env: Env, ip: string, action: 'login' | 'change-password' | 'register' = 'login'): Promise<void> {
  const { success } = await env.LOGIN_IP_LIMITER.limit({ key: `${action}:${ip}` });
  if (!success) throw new TooManyRequests(`too many ${action === 'login' ? 'login' : action.replace('-', ' ')} attempts from this address`, 60);
}

/** Throws 429 while the account name is locked. */
export async function checkAccountLock(env: Env, digest: string, message = 'too many failed logins; try again later'): Promise<void> {
  const row = await throttleRow(db(env), digest);
  if (!row?.lockedUntil) return;
  const left = Date.parse(row.lockedUntil) - world.now();
  if (left > 0) throw new TooManyRequests(message, left / 1000, 'account_locked');
}

/** Counts one failure; returns true when this failure locked the account. */
export async function recordFailure(env: Env, digest: string, custom?: Limits): Promise<boolean> {
  const { maxFailures, lockoutMs } = custom ?? limits(env);
  const now = world.now();
  const failures = await countThrottleFailure(db(env), digest, {
    now: new Date(now).toISOString(),
    windowStart: new Date(now - lockoutMs).toISOString(),
    lockUntil: new Date(now + lockoutMs).toISOString(),
    maxFailures,
  });
  return failures === maxFailures;
}

export async function clearFailures(env: Env, digest: string): Promise<void> {
  await clearThrottle(db(env), digest);
}
