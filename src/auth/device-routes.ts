/**
 * Device pairing routes (RFC 8628, rules in `device.ts`), three resources:
 *
 *   /auth/device   POST /                      → { device_code, user_code: "BCDF-GHJK", verification_uri, … }
 *                  GET  /{user_code}           → what is asking (signed-in user)
 *                  POST /{user_code}/approve   {org_id?}   ·   POST /{user_code}/deny
 *   /auth/devices  GET /  ·  DELETE /{id}      → the caller's paired devices, unpair one
 *   /link          GET /?code=…                → the dashboard's pairing page (a path a person can type)
 *
 * The device's token poll (`POST /auth/device/token`) answers with the console's login answer and
 * lives with it (`src/console/account-routes.ts`).
 */
import { createRoute } from '@hono/zod-openapi';
import { db } from '../db/client';
import { Conflict, Forbidden, NotFound, TooManyRequests } from '../http/errors';
import { clientIp } from '../http/middleware';
import { errors, json, newRouter, z } from '../http/openapi';
import { nowIso, randomToken, sha256Hex, world } from '../world';
import { audit } from './audit';
import {
  dashboardBase,
  DEVICE_CODE_TTL_SECONDS,
  formatUserCode,
  grantForUser,
  newUserCode,
  normalizeUserCode,
  POLL_INTERVAL_SECONDS,
  presentRequest,
} from './device';
import { requireUser } from './middleware';
import { decideGrant, insertGrant, pairedDeviceOf, pairedDevices } from './queries/devices';
import { membershipRole } from './queries/users';
import { revokeLoginOf } from './refresh';

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


// ─────────────── routes ───────────────

export const deviceAuthorizationRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'startDeviceAuthorization',
      tags: ['identity'],
      security: [],
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
        const inserted = await insertGrant(db(env), {
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
      method: 'get',
      path: '/{user_code}',
      operationId: 'getDeviceRequest',
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
      path: '/{user_code}/approve',
      operationId: 'approveDevice',
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
      if (orgId !== null && !(await membershipRole(db(c.env), user.id, orgId))) throw new Forbidden('not a member of this organization', 'not_org_member');
      const now = nowIso();
      if (!(await decideGrant(db(c.env), grant.id, user.id, 'approved', orgId, now))) {
        throw new Conflict('this code was already answered', 'already_decided');
      }
      await audit(c, 'auth.device.approve', { targetType: 'device', targetId: grant.id, orgId, details: { client_name: grant.clientName } });
      return c.json({ ...presentRequest(grant), status: 'approved' as const }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{user_code}/deny',
      operationId: 'denyDevice',
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
      if (!(await decideGrant(db(c.env), grant.id, user.id, 'denied', null, nowIso()))) {
        throw new Conflict('this code was already answered', 'already_decided');
      }
      await audit(c, 'auth.device.deny', { targetType: 'device', targetId: grant.id, details: { client_name: grant.clientName } });
      return c.json({ ...presentRequest(grant), status: 'denied' as const }, 200);
    },
  );

export const pairedDeviceRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listPairedDevices',
      tags: ['identity'],
      summary: 'The caller’s paired devices that are still signed in',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      responses: { 200: json(z.array(PairedDevice), 'Newest first'), ...errors(401) },
    }),
    async (c) => {
      const rows = await pairedDevices(db(c.env), c.get('user').id, nowIso());
      return c.json(
        rows.map((r) => ({ id: r.id, client_name: r.clientName, country: r.country, paired_at: r.pairedAt, last_seen_at: r.lastSeenAt })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      operationId: 'unpairDevice',
      tags: ['identity'],
      summary: 'Unpair a device: its login ends at once (refresh and access tokens)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ id: z.string().uuid() }) },
      responses: { 204: { description: 'Unpaired' }, ...errors(400, 401, 404) },
    }),
    async (c) => {
      const user = c.get('user');
      const device = await pairedDeviceOf(db(c.env), user.id, c.req.valid('param').id);
      if (!device?.refreshSessionId) throw new NotFound('no such paired device', 'unknown_device');
      await revokeLoginOf(c.env, device.refreshSessionId, 'device unpaired');
      await audit(c, 'auth.device.revoke', { targetType: 'device', targetId: device.id, details: { client_name: device.clientName } });
      return c.body(null, 204);
    },
  );

export const linkRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    operationId: 'openPairingPage',
    tags: ['identity'],
    security: [],
    summary: 'The pairing page a person types on a phone: redirects to the dashboard’s `#/link`',
    request: { query: z.object({ code: z.string().max(32).optional() }) },
    responses: { 302: { description: 'To the dashboard page, with the code when it is well-formed' }, ...errors(400) },
  }),
  (c) => {
    const code = normalizeUserCode(c.req.valid('query').code ?? '');
    return c.redirect(`${dashboardBase(c)}/#/link${code ? `/${formatUserCode(code)}` : ''}`, 302);
  },
);
