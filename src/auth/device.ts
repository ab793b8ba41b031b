/**
 * Device pairing: the OAuth 2.0 Device Authorization Grant (RFC 8628) in the house error shape, so a
 * TV with only a gamepad can sign in by a code approved on a phone. This module holds the rules
 * (codes, polling pace, who may see a code, the one-time exchange); the routes are in
 * `device-routes.ts`, except the token poll, whose answer is a product's login answer (the
 * console's: `src/console/account-routes.ts`, which calls `exchangeDeviceCode`).
 *
 * Guessing codes is throttled per user and per IP in D1 (global counts, 429 + Retry-After), and a
 * code another user already answered is as unknown to you as one that never existed.
 *
 *   const answer = await exchangeDeviceCode(c, (row) => loginAnswer(c, row)); // 400 RFC codes, or once the answer
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { db } from '../db/client';
import { BadRequest, NotFound, TooManyRequests, ValidationFailed } from '../http/errors';
import { clientIp, originList } from '../http/middleware';
import { describeIssues, z } from '../http/openapi';
import { sha256Hex, world } from '../world';
import { audit } from './audit';
import {
  attachRefreshSession,
  claimExchange,
  countFailure,
  type Grant,
  grantByDeviceCodeHash,
  grantByUserCode,
  pacePoll,
  purgeDeviceGrants,
  throttledFor,
} from './queries/devices';
import { refreshSessionIdOfTokenHash } from './queries/refresh-sessions';
import { membershipRole, userById, type UserRow } from './queries/users';

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §6.1: consonants only, no look-alikes (no vowels either, so no words). */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const DEVICE_CODE_TTL_SECONDS = 600;
export const POLL_INTERVAL_SECONDS = 5;
/** Two polls sent `interval` apart can arrive a little closer than that. */
const POLL_GRACE_MS = 500;
export const WRONG_CODE_WINDOW_MS = 10 * 60_000;
export const WRONG_CODES_PER_USER = 10;
export const WRONG_CODES_PER_IP = 50;

/** `bcdf-ghjk`, `BCDFGHJK`, ` bcdf ghjk ` → `BCDFGHJK`; anything else → null. */
export function normalizeUserCode(raw: string): string | null {
  const s = raw.toUpperCase().replace(/[\s-]/g, '');
  return s.length === 8 && [...s].every((ch) => USER_CODE_ALPHABET.includes(ch)) ? s : null;
}

export const formatUserCode = (code: string): string => `${code.slice(0, 4)}-${code.slice(4)}`;

export function newUserCode(): string {
  let out = '';
  while (out.length < 8) {
    // Rejection sampling keeps every letter equally likely (240 = 12 × 20).
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      if (b < 240 && out.length < 8) out += USER_CODE_ALPHABET[b % 20];
    }
  }
  return out;
}

// ─────────────── schemas ───────────────

export const DeviceTokenIn = z
  .object({
    grant_type: z.string().max(128).optional().openapi({ example: DEVICE_GRANT_TYPE }),
    device_code: z.string().max(256),
    client_id: z.string().max(128).optional().openapi({ description: 'Accepted and ignored (public client)' }),
  })
  .openapi('DeviceTokenRequest');

// ─────────────── helpers ───────────────

export function rfcError(code: string, message: string, details?: unknown): BadRequest {
  return new BadRequest(message, code, details);
}

/**
 * The grant a signed-in user may see by its user code: pending, or answered by this very user.
 * Wrong codes count against the user and the IP; at the limit every lookup is 429 until the window
 * ends, so a guesser cannot tell a hit from a miss while locked.
 */
export async function grantForUser(c: Context<AppEnv>, raw: string): Promise<Grant> {
  const d = db(c.env);
  const user = c.get('user');
  const nowMs = world.now();
  const keys: Array<[string, number]> = [
    [`user:${user.id}`, WRONG_CODES_PER_USER],
    [`ip:${clientIp(c.req.raw)}`, WRONG_CODES_PER_IP],
  ];
  for (const [key, max] of keys) {
    const left = await throttledFor(d, key, max, WRONG_CODE_WINDOW_MS, nowMs);
    if (left > 0) throw new TooManyRequests('too many wrong codes; try again later', left / 1000, 'too_many_wrong_codes');
  }
  const code = normalizeUserCode(raw);
  const grant = code ? await grantByUserCode(d, code) : undefined;
  const visible = grant && grant.expiresAt > new Date(nowMs).toISOString() && (grant.status === 'pending' || grant.userId === user.id);
  if (!visible) {
    await Promise.all(keys.map(([key]) => countFailure(d, key, WRONG_CODE_WINDOW_MS, nowMs)));
    throw new NotFound('no device is waiting for this code (it may have expired)', 'unknown_user_code');
  }
  return grant;
}

export function presentRequest(g: Grant) {
  return {
    user_code: formatUserCode(g.userCode),
    client_name: g.clientName,
    country: g.country,
    created_at: g.createdAt,
    expires_at: g.expiresAt,
    status: g.status,
  };
}

/**
 * Where to send a browser back to the dashboard (the pairing page, the Steam link's return): '' (this
 * origin) when no DASHBOARD_ORIGINS are set; else the origin the request came from when it is one of
 * them (its own URL: `npm start` lists both localhost and 127.0.0.1, and a person at one must not
 * land on the other, signed out; or the page that sent it there, its Origin/Referer), else the first
 * listed. Never a host outside the list, whatever the headers say: no open redirect.
 */
export function dashboardBase(c: Context<AppEnv>): string {
  const allowed = originList(c.env.DASHBOARD_ORIGINS);
  if (allowed.length === 0) return '';
  const seen = [new URL(c.req.url).origin, c.req.header('Origin'), originOf(c.req.header('Referer'))];
  return seen.find((o) => o !== undefined && allowed.includes(o)) ?? allowed[0]!;
}

function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

export async function readTokenRequest(c: Context<AppEnv>): Promise<z.infer<typeof DeviceTokenIn>> {
  const isForm = /^application\/x-www-form-urlencoded/i.test(c.req.header('Content-Type') ?? '');
  // Both media types are optional in the route (so one may be absent); validate the one that came.
  const raw: unknown = isForm ? c.req.valid('form' as never) : c.req.valid('json' as never);
  const parsed = DeviceTokenIn.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const first = issues[0];
    throw new ValidationFailed(first ? `${first.path.join('.') || 'body'}: ${first.message}` : 'invalid request', describeIssues(issues));
  }
  return parsed.data;
}

// ─────────────── the token exchange ───────────────

/**
 * The device's poll (RFC 8628 §3.4), everything but the answer's body: 400 with the RFC's codes
 * while waiting, too fast, expired, denied or spent; once approved, exactly one poll wins the
 * exchange and `signIn` (the product's login answer, which starts the login) runs for the approver.
 * The grant is tied to the refresh session that answer carries, so the device can be unpaired.
 */
export async function exchangeDeviceCode<A extends { refresh_token: string }>(
  c: Context<AppEnv>,
  signIn: (row: UserRow) => Promise<A>,
): Promise<A & { org_id: number | null }> {
  const d = db(c.env);
  const input = await readTokenRequest(c);
  if (input.grant_type !== undefined && input.grant_type !== DEVICE_GRANT_TYPE) {
    throw rfcError('unsupported_grant_type', `grant_type must be ${DEVICE_GRANT_TYPE}`);
  }
  const grant = /^[A-Za-z0-9_-]{20,256}$/.test(input.device_code) ? await grantByDeviceCodeHash(d, await sha256Hex(input.device_code)) : undefined;
  if (!grant) throw rfcError('invalid_grant', 'unknown device code');
  if (grant.status === 'exchanged') throw rfcError('invalid_grant', 'this device code was already used');
  const nowMs = world.now();
  const now = new Date(nowMs).toISOString();
  if (grant.expiresAt <= now) throw rfcError('expired_token', 'the code expired: ask for a new one');
  if (grant.status === 'denied') throw rfcError('access_denied', 'the sign-in was refused on the phone');
  if (grant.status === 'pending') {
    if (!(await pacePoll(d, grant, nowMs, POLL_GRACE_MS))) {
      throw rfcError('slow_down', 'polling too fast: wait longer between polls', { interval: grant.intervalSeconds + 5 });
    }
    throw rfcError('authorization_pending', 'waiting for approval on the phone', { interval: grant.intervalSeconds });
  }
  // approved: exactly one exchange wins the compare-and-set.
  if (!(await claimExchange(d, grant.id, now))) throw rfcError('invalid_grant', 'this device code was already used');
  const row = grant.userId !== null ? await userById(d, grant.userId) : undefined;
  if (!row) throw rfcError('invalid_grant', 'the approving account no longer exists');
  const answer = await signIn(row);
  const refreshSessionId = await refreshSessionIdOfTokenHash(d, await sha256Hex(answer.refresh_token));
  if (refreshSessionId) await attachRefreshSession(d, grant.id, refreshSessionId);
  // The org is a preselection, re-checked now: a membership lost since the approval is dropped.
  const orgId = grant.orgId !== null && (await membershipRole(d, row.id, grant.orgId)) ? grant.orgId : null;
  await audit(c, 'auth.device.exchange', {
    actorUserId: row.id,
    targetType: 'device',
    targetId: grant.id,
    orgId,
    details: { client_name: grant.clientName },
  });
  return { ...answer, org_id: orgId };
}

/** Housekeeping: grants that ended unused a day ago, and spent wrong-code counters. */
export async function purgeDevicePairing(env: Env): Promise<void> {
  await purgeDeviceGrants(db(env), world.now(), WRONG_CODE_WINDOW_MS);
}
