/**
 * Device pairing: the OAuth 2.0 Device Authorization Grant (RFC 8628) in the house error shape, so a
 * TV with only a gamepad can sign in by a code approved on a phone.
 *
 *   POST /auth/device                       → { device_code, user_code: "BCDF-GHJK", verification_uri, … }
 *   POST /auth/device/token {device_code}   → 400 authorization_pending | slow_down | expired_token |
 *                                             access_denied | invalid_grant, or 200 the login answer (once)
 *   GET  /auth/device/{user_code}           → what is asking (signed-in user)
 *   POST /auth/device/{user_code}/approve   {org_id?}   ·   POST /auth/device/{user_code}/deny
 *   GET  /auth/devices · DELETE /auth/devices/{id}     → the caller's paired devices, revoke one
 *   GET  /link?code=…                       → the dashboard's pairing page (a path a person can type)
 *
 * Guessing codes is throttled per user and per IP in D1 (global counts, 429 + Retry-After), and a
 * code another user already answered is as unknown to you as one that never existed.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed } from '../http/errors';
import { clientIp, originList } from '../http/middleware';
import { describeIssues, errors, json, newRouter, z } from '../http/openapi';
import { nowIso, randomToken, sha256Hex, world } from '../world';
import { findUserById } from './accounts';
import { audit } from './audit';
import { LoginResponse, loginResponse } from './console-routes';
import {
  attachSession,
  claimExchange,
  countFailure,
  decideGrant,
  type Grant,
  grantByDeviceCodeHash,
  grantByUserCode,
  insertGrant,
  pacePoll,
  pairedDeviceOf,
  pairedDevices,
  sessionIdOfTokenHash,
  throttledFor,
} from './device-queries';
import { orgRoleOf, requireUser } from './middleware';
import { revokeSessionFamilyOf } from './refresh';

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

function newUserCode(): string {
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

const ClientName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u, 'must not contain control characters');

const DeviceAuthorizationIn = z
  .object({ client_name: ClientName.optional().openapi({ example: 'Living-room TV' }) })
  .strict()
  .openapi('DeviceAuthorizationRequest');

const DeviceAuthorization = z
  .object({
    device_code: z.string().openapi({ description: 'Secret of the device: exchange it at /auth/device/token' }),
    user_code: z.string().openapi({ example: 'BCDF-GHJK', description: 'What the person types on a signed-in phone' }),
    verification_uri: z.string().openapi({ example: 'https://console.example/link' }),
    verification_uri_complete: z.string().openapi({ example: 'https://console.example/link?code=BCDF-GHJK' }),
    expires_in: z.number().int(),
    interval: z.number().int().openapi({ description: 'Seconds to wait before the first poll and between polls' }),
  })
  .openapi('DeviceAuthorization');

const DeviceTokenIn = z
  .object({
    grant_type: z.string().max(128).optional().openapi({ example: DEVICE_GRANT_TYPE }),
    device_code: z.string().max(256),
    client_id: z.string().max(128).optional().openapi({ description: 'Accepted and ignored (public client)' }),
  })
  .openapi('DeviceTokenRequest');

const DeviceTokenOut = LoginResponse.extend({
  org_id: z.number().int().nullable().openapi({ description: 'The org chosen on the phone, if the user still belongs to it' }),
}).openapi('DeviceTokenResponse');

const DeviceRequest = z
  .object({
    user_code: z.string(),
    client_name: z.string().nullable(),
    country: z.string().nullable().openapi({ description: 'Country of the asking device’s IP, when known' }),
    created_at: z.string(),
    expires_at: z.string(),
    status: z.enum(['pending', 'approved', 'denied', 'exchanged']),
  })
  .openapi('DeviceRequest');

const UserCodeParams = z.object({ user_code: z.string().max(32).openapi({ example: 'BCDF-GHJK' }) });

const ApproveIn = z
  .object({ org_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional() })
  .strict()
  .openapi('DeviceApproval');

const PairedDevice = z
  .object({
    id: z.string(),
    client_name: z.string().nullable(),
    country: z.string().nullable(),
    paired_at: z.string().nullable(),
    last_seen_at: z.string().openapi({ description: 'The last refresh of its login' }),
  })
  .openapi('PairedDevice');

const optionalJson = <T extends z.ZodType>(schema: T) => ({ required: false, content: { 'application/json': { schema } } });

// ─────────────── helpers ───────────────

function rfcError(code: string, message: string, details?: unknown): BadRequest {
  return new BadRequest(message, code, details);
}

/**
 * The grant a signed-in user may see by its user code: pending, or answered by this very user.
 * Wrong codes count against the user and the IP; at the limit every lookup is 429 until the window
 * ends, so a guesser cannot tell a hit from a miss while locked.
 */
async function grantForUser(c: Context<AppEnv>, raw: string): Promise<Grant> {
  const env = c.env;
  const user = c.get('user');
  const nowMs = world.now();
  const keys: Array<[string, number]> = [
    [`user:${user.id}`, WRONG_CODES_PER_USER],
    [`ip:${clientIp(c.req.raw)}`, WRONG_CODES_PER_IP],
  ];
  for (const [key, max] of keys) {
    const left = await throttledFor(env, key, max, WRONG_CODE_WINDOW_MS, nowMs);
    if (left > 0) throw new TooManyRequests('too many wrong codes; try again later', left / 1000, 'too_many_wrong_codes');
  }
  const code = normalizeUserCode(raw);
  const grant = code ? await grantByUserCode(env, code) : undefined;
  const visible = grant && grant.expiresAt > new Date(nowMs).toISOString() && (grant.status === 'pending' || grant.userId === user.id);
  if (!visible) {
    await Promise.all(keys.map(([key]) => countFailure(env, key, WRONG_CODE_WINDOW_MS, nowMs)));
    throw new NotFound('no device is waiting for this code (it may have expired)', 'unknown_user_code');
  }
  return grant;
}

function presentRequest(g: Grant) {
  return {
    user_code: formatUserCode(g.userCode),
    client_name: g.clientName,
    country: g.country,
    created_at: g.createdAt,
    expires_at: g.expiresAt,
    status: g.status,
  };
}

/** Where the dashboard lives: a sibling host when configured, else this origin. */
function dashboardBase(c: Context<AppEnv>): string {
  return originList(c.env.DASHBOARD_ORIGINS)[0] ?? '';
}

async function readTokenRequest(c: Context<AppEnv>): Promise<z.infer<typeof DeviceTokenIn>> {
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

// ─────────────── routes ───────────────

export const deviceRouter = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/device',
      tags: ['identity'],
      summary: 'Start a device sign-in (RFC 8628 device authorization request)',
      request: { body: optionalJson(DeviceAuthorizationIn) },
      responses: { 200: json(DeviceAuthorization, 'Codes to show on the device'), ...errors(400, 415, 429) },
    }),
    async (c) => {
      const env = c.env;
      const body = c.req.valid('json');
      const ip = clientIp(c.req.raw);
      // Codes are cheap to ask for but each is a row: the per-IP binding stops floods.
      const { success } = await env.LOGIN_IP_LIMITER.limit({ key: `device:${ip}` });
      if (!success) throw new TooManyRequests('too many sign-in codes requested from this address', 60);
      const deviceCode = randomToken(32);
      const nowMs = world.now();
      const now = new Date(nowMs).toISOString();
      const cf = c.req.raw.cf as { country?: unknown } | undefined;
      const country = typeof cf?.country === 'string' && /^[A-Z]{2}$/.test(cf.country) ? cf.country : null;
      let userCode: string | null = null;
      // 20^8 codes: a collision with a live one is rare; the unique index settles it, we draw again.
      for (let attempt = 0; attempt < 5 && !userCode; attempt++) {
        const candidate = newUserCode();
        const inserted = await insertGrant(env, {
          id: crypto.randomUUID(),
          deviceCodeHash: await sha256Hex(deviceCode),
          userCode: candidate,
          clientName: body.client_name ?? null,
          ip,
          country,
          intervalSeconds: POLL_INTERVAL_SECONDS,
          lastPolledAt: now,
          createdAt: now,
          expiresAt: new Date(nowMs + DEVICE_CODE_TTL_SECONDS * 1000).toISOString(),
        });
        if (inserted) userCode = candidate;
      }
      if (!userCode) throw new Conflict('could not allocate a code; try again', 'code_collision');
      const origin = new URL(c.req.url).origin;
      const shown = formatUserCode(userCode);
      return c.json(
        {
          device_code: deviceCode,
          user_code: shown,
          verification_uri: `${origin}/link`,
          verification_uri_complete: `${origin}/link?code=${shown}`,
          expires_in: DEVICE_CODE_TTL_SECONDS,
          interval: POLL_INTERVAL_SECONDS,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/device/token',
      tags: ['identity'],
      summary: 'Poll for the device’s tokens (RFC 8628 §3.4); JSON or form-encoded',
      description:
        'While waiting: 400 `authorization_pending`; sooner than `interval`: 400 `slow_down` (the interval grows by 5 s); ' +
        '`expired_token`, `access_denied`; an unknown or already exchanged code: `invalid_grant`. On approval, once: the login answer.',
      request: {
        body: {
          required: false,
          content: {
            'application/json': { schema: DeviceTokenIn },
            'application/x-www-form-urlencoded': { schema: DeviceTokenIn },
          },
        },
      },
      responses: { 200: json(DeviceTokenOut, 'Signed in (exactly once per device code)'), ...errors(400, 415) },
    }),
    async (c) => {
      const env = c.env;
      const input = await readTokenRequest(c);
      if (input.grant_type !== undefined && input.grant_type !== DEVICE_GRANT_TYPE) {
        throw rfcError('unsupported_grant_type', `grant_type must be ${DEVICE_GRANT_TYPE}`);
      }
      const grant = /^[A-Za-z0-9_-]{20,256}$/.test(input.device_code)
        ? await grantByDeviceCodeHash(env, await sha256Hex(input.device_code))
        : undefined;
      if (!grant) throw rfcError('invalid_grant', 'unknown device code');
      if (grant.status === 'exchanged') throw rfcError('invalid_grant', 'this device code was already used');
      const nowMs = world.now();
      const now = new Date(nowMs).toISOString();
      if (grant.expiresAt <= now) throw rfcError('expired_token', 'the code expired: ask for a new one');
      if (grant.status === 'denied') throw rfcError('access_denied', 'the sign-in was refused on the phone');
      if (grant.status === 'pending') {
        if (!(await pacePoll(env, grant, nowMs, POLL_GRACE_MS))) {
          throw rfcError('slow_down', 'polling too fast: wait longer between polls', { interval: grant.intervalSeconds + 5 });
        }
        throw rfcError('authorization_pending', 'waiting for approval on the phone', { interval: grant.intervalSeconds });
      }
      // approved: exactly one exchange wins the compare-and-set.
      if (!(await claimExchange(env, grant.id, now))) throw rfcError('invalid_grant', 'this device code was already used');
      const row = grant.userId !== null ? await findUserById(env, grant.userId) : undefined;
      if (!row) throw rfcError('invalid_grant', 'the approving account no longer exists');
      const answer = await loginResponse(c, row);
      const sid = await sessionIdOfTokenHash(env, await sha256Hex(answer.refresh_token));
      if (sid) await attachSession(env, grant.id, sid);
      // The org is a preselection, re-checked now: a membership lost since the approval is dropped.
      const orgId = grant.orgId !== null && (await orgRoleOf(env, row.id, grant.orgId)) ? grant.orgId : null;
      await audit(c, 'auth.device.exchange', {
        actorUserId: row.id,
        targetType: 'device',
        targetId: grant.id,
        orgId,
        details: { client_name: grant.clientName },
      });
      return c.json({ ...answer, org_id: orgId }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/auth/device/{user_code}',
      tags: ['identity'],
      summary: 'What is asking to sign in with this code (signed-in user; wrong codes are throttled)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: UserCodeParams },
      responses: { 200: json(DeviceRequest, 'The waiting device'), ...errors(401, 404, 429) },
    }),
    async (c) => {
      const grant = await grantForUser(c, c.req.valid('param').user_code);
      return c.json(presentRequest(grant), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/device/{user_code}/approve',
      tags: ['identity'],
      summary: 'Approve: the device signs in as the caller; `org_id` (one of the caller’s orgs) is preselected',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: UserCodeParams, body: optionalJson(ApproveIn) },
      responses: { 200: json(DeviceRequest, 'Approved'), ...errors(400, 401, 403, 404, 409, 415, 429) },
    }),
    async (c) => {
      const user = c.get('user');
      const body = c.req.valid('json');
      const grant = await grantForUser(c, c.req.valid('param').user_code);
      const orgId = body.org_id ?? null;
      // Never carried into the tokens unless the approver really belongs to it (admins included).
      if (orgId !== null && !(await orgRoleOf(c.env, user.id, orgId))) throw new Forbidden('not a member of this organization', 'not_org_member');
      const now = nowIso();
      if (!(await decideGrant(c.env, grant.id, user.id, 'approved', orgId, now))) {
        throw new Conflict('this code was already answered', 'already_decided');
      }
      await audit(c, 'auth.device.approve', { targetType: 'device', targetId: grant.id, orgId, details: { client_name: grant.clientName } });
      return c.json({ ...presentRequest(grant), status: 'approved' as const }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/device/{user_code}/deny',
      tags: ['identity'],
      summary: 'Deny: the device’s next poll gets `access_denied`',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: UserCodeParams },
      responses: { 200: json(DeviceRequest, 'Denied'), ...errors(401, 404, 409, 429) },
    }),
    async (c) => {
      const user = c.get('user');
      const grant = await grantForUser(c, c.req.valid('param').user_code);
      if (!(await decideGrant(c.env, grant.id, user.id, 'denied', null, nowIso()))) {
        throw new Conflict('this code was already answered', 'already_decided');
      }
      await audit(c, 'auth.device.deny', { targetType: 'device', targetId: grant.id, details: { client_name: grant.clientName } });
      return c.json({ ...presentRequest(grant), status: 'denied' as const }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/auth/devices',
      tags: ['identity'],
      summary: 'The caller’s paired devices that are still signed in',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      responses: { 200: json(z.array(PairedDevice), 'Newest first'), ...errors(401) },
    }),
    async (c) => {
      const rows = await pairedDevices(c.env, c.get('user').id, nowIso());
      return c.json(
        rows.map((r) => ({ id: r.id, client_name: r.clientName, country: r.country, paired_at: r.pairedAt, last_seen_at: r.lastSeenAt })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/auth/devices/{id}',
      tags: ['identity'],
      summary: 'Unpair a device: its login ends at once (refresh and access tokens)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ id: z.string().uuid() }) },
      responses: { 204: { description: 'Unpaired' }, ...errors(400, 401, 404) },
    }),
    async (c) => {
      const user = c.get('user');
      const device = await pairedDeviceOf(c.env, user.id, c.req.valid('param').id);
      if (!device?.sessionId) throw new NotFound('no such paired device', 'unknown_device');
      await revokeSessionFamilyOf(c.env, device.sessionId, 'device unpaired');
      await audit(c, 'auth.device.revoke', { targetType: 'device', targetId: device.id, details: { client_name: device.clientName } });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/link',
      tags: ['identity'],
      summary: 'The pairing page a person types on a phone: redirects to the dashboard’s `#/link`',
      request: { query: z.object({ code: z.string().max(32).optional() }) },
      responses: { 302: { description: 'To the dashboard page, with the code when it is well-formed' } },
    }),
    (c) => {
      const code = normalizeUserCode(c.req.valid('query').code ?? '');
      return c.redirect(`${dashboardBase(c)}/#/link${code ? `/${formatUserCode(code)}` : ''}`, 302);
    },
  );
