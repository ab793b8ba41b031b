/**
 * Webhook endpoints, mounted at `/api/webhooks` (`webhookRoutes`):
 *
 *   GET    /api/webhooks                      the endpoints the caller manages
 *   POST   /api/webhooks                      register one; the signing secret is in this answer only
 *   GET    /api/webhooks/{id}                 one endpoint
 *   PATCH  /api/webhooks/{id}                 change url, description, format, events, enabled
 *   DELETE /api/webhooks/{id}                 remove it (and its delivery log)
 *   POST   /api/webhooks/{id}/test            queue a `webhook.test` event to it
 *   POST   /api/webhooks/{id}/rotate-secret   a new secret (shown once); the old one stops at once
 *   GET    /api/webhooks/{id}/deliveries      its delivery log, newest first
 *   POST   /api/webhooks/{id}/deliveries/{delivery_id}/retry   queue a `failed` delivery again
 *
 * Who may do what: any signed-in user registers `user` endpoints (DVR events of the sources they
 * subscribe to); an org admin or owner registers `org` endpoints for that org (console events); a
 * platform admin registers `platform` endpoints (every event) and manages every endpoint. An
 * endpoint the caller may not manage answers 404, as one that does not exist.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { auditIfChanged, auditStatement } from '../auth/audit';
import { requireUser } from '../auth/middleware';
import { membershipRole } from '../auth/queries/users';
import { db } from '../db/client';
import type { AppEnv } from '../env';
import { BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable } from '../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../http/openapi';
import { nowIso, randomToken } from '../world';
import { allowsPrivate, checkDestination } from './destination';
import { EVENT_TYPES, EVENTS_BY_SCOPE, FORMATS, SCOPES, type EventType, type Scope } from './events';
import { deliveryMessages, enqueueDeliveries, sendDeliveries, storedEvent } from './publish';
import {
  claimFailedDeliveryStatement,
  countEndpointsOf,
  deleteEndpoint,
  eventsOf,
  getDelivery,
  getEndpoint,
  insertEndpoint,
  listDeliveries,
  listManageableEndpoints,
  MAX_ENDPOINTS_PER_OWNER,
  undoRetryClaim,
  updateEndpoint,
  type DeliveryLogRow,
  type EndpointRow,
} from './queries';
import { newSecret, sealSecret } from './signing';

const tags = ['webhooks'];
const security = [{ bearer: [] }];

const Url = z.string().trim().min(1).max(2048).openapi({ example: 'https://hooks.example.com/edgeplane' });
const Events = z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length);

const CreateBody = z
  .object({
    url: Url,
    description: z.string().trim().max(200).default(''),
    format: z.enum(FORMATS).default('standard'),
    events: Events,
    scope: z.enum(SCOPES).default('user'),
    org_id: z.number().int().positive().optional(),
  })
  .strict()
  .openapi('WebhookEndpointCreate');

const PatchBody = z
  .object({
    url: Url.optional(),
    description: z.string().trim().max(200).optional(),
    format: z.enum(FORMATS).optional(),
    events: Events.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('WebhookEndpointPatch');

const EndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    format: z.enum(FORMATS),
    events: z.array(z.enum(EVENT_TYPES)),
    scope: z.enum(SCOPES),
    org_id: z.number().int().nullable(),
    owner_id: z.number().int(),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('WebhookEndpoint');

const WithSecret = EndpointSchema.extend({ secret: z.string().openapi({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }) }).openapi('WebhookEndpointWithSecret');

const DeliverySchema = z
  .object({
    id: z.string().openapi({ description: 'The `webhook-id` header: the same on every attempt' }),
    event_type: z.string(),
    status: z.enum(['pending', 'retrying', 'succeeded', 'failed']),
    attempts: z.number().int(),
    response_status: z.number().int().nullable(),
    latency_ms: z.number().int().nullable(),
    error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('WebhookDelivery');

const IdParams = z.object({ id: z.string().regex(/^wh_[A-Za-z0-9_-]{8,40}$/, 'not a webhook id') });
const DeliveryParams = IdParams.extend({ delivery_id: z.string().regex(/^msg_[A-Za-z0-9_-]{8,40}$/, 'not a delivery id') });
const DeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().max(40).optional(),
});

function endpointOut(r: EndpointRow): z.infer<typeof EndpointSchema> {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    format: r.format,
    events: eventsOf(r),
    scope: r.scope,
    org_id: r.orgId,
    owner_id: r.ownerId,
    enabled: r.enabled,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

function deliveryOut(r: DeliveryLogRow): z.infer<typeof DeliverySchema> {
  return {
    id: r.id,
    event_type: r.eventType,
    status: r.status,
    attempts: r.attempts,
    response_status: r.responseStatus,
    latency_ms: r.latencyMs,
    error: r.error,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

function assertDestination(env: Env, url: string): string {
  const dest = checkDestination(url, { allowPrivate: allowsPrivate(env) });
  if (!dest.ok) throw new BadRequest(`url: ${dest.reason}`, 'webhook_url_refused');
  return dest.url.toString();
}

function assertEvents(scope: Scope, events: EventType[]): EventType[] {
  const allowed = EVENTS_BY_SCOPE[scope];
  const wrong = events.filter((e) => !allowed.includes(e));
  if (wrong.length) throw new BadRequest(`events: ${wrong.join(', ')} cannot be sent to a ${scope} endpoint`, 'event_not_allowed', { allowed });
  return [...new Set(events)];
}

/** May the caller create an endpoint of this scope? Throws 403 when not. */
async function assertMayCreate(c: Context<AppEnv>, scope: Scope, orgId: number | undefined): Promise<number | null> {
  const user = c.get('user');
  if (scope === 'platform') {
    if (user.role !== 'admin') throw new Forbidden('platform endpoints are for platform admins', 'admin_required');
    return null;
  }
  if (scope === 'org') {
    if (orgId === undefined) throw new BadRequest('org_id: required for an org endpoint', 'validation_failed');
    const role = await membershipRole(db(c.env), user.id, orgId);
    if (role !== 'admin' && role !== 'owner' && user.role !== 'admin') throw new Forbidden('requires the admin role in this organization', 'org_role_required');
    return orgId;
  }
  if (orgId !== undefined) throw new BadRequest('org_id: only for an org endpoint', 'validation_failed');
  return null;
}

/** The endpoint, when the caller manages it; 404 otherwise (existence is not revealed). */
async function manageable(c: Context<AppEnv>, id: string): Promise<EndpointRow> {
  const user = c.get('user');
  const row = await getEndpoint(db(c.env), id);
  if (row) {
    if (user.role === 'admin' || row.ownerId === user.id) return row;
    if (row.scope === 'org' && row.orgId !== null) {
      const role = await membershipRole(db(c.env), user.id, row.orgId);
      if (role === 'admin' || role === 'owner') return row;
    }
  }
  throw new NotFound('webhook endpoint not found');
}

export const webhookRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listWebhookEndpoints',
      tags,
      security,
      summary: 'The webhook endpoints the caller manages',
      middleware: [requireUser],
      responses: { 200: json(z.object({ endpoints: z.array(EndpointSchema), event_types: z.array(z.enum(EVENT_TYPES)) }), 'Endpoints'), ...errors(401, 403) },
    }),
    async (c) => {
      const rows = await listManageableEndpoints(db(c.env), c.get('user'));
      return c.json({ endpoints: rows.map(endpointOut), event_types: [...EVENT_TYPES] }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createWebhookEndpoint',
      tags,
      security,
      summary: 'Register a webhook endpoint; the answer carries its signing secret, shown this once',
      middleware: [requireUser],
      request: { body: jsonBody(CreateBody) },
      responses: { 201: json(WithSecret, 'The endpoint and its secret'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const user = c.get('user');
      const orgId = await assertMayCreate(c, body.scope, body.org_id);
      const events = assertEvents(body.scope, body.events);
      const url = assertDestination(c.env, body.url);
      const d = db(c.env);
      const count = await countEndpointsOf(d, user.id);
      if ((count?.n ?? 0) >= MAX_ENDPOINTS_PER_OWNER) throw new Conflict(`at most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints per user`, 'too_many_endpoints');
      const id = `wh_${randomToken(15)}`;
      const secret = newSecret();
      const secretEnc = await sealSecret(c.env, id, secret);
      const values = { id, ownerId: user.id, scope: body.scope, orgId, url, description: body.description, format: body.format, events, secretEnc };
      await d.batch([
        insertEndpoint(d, values),
        auditStatement(c, 'webhook.create', { targetType: 'webhook', targetId: id, orgId, details: { url, scope: body.scope, events } }),
      ]);
      const row = await getEndpoint(d, id);
      return c.json({ ...endpointOut(row!), secret }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      operationId: 'getWebhookEndpoint',
      tags,
      security,
      summary: 'One webhook endpoint',
      middleware: [requireUser],
      request: { params: IdParams },
      responses: { 200: json(EndpointSchema, 'The endpoint'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(endpointOut(await manageable(c, c.req.valid('param').id)), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      operationId: 'updateWebhookEndpoint',
      tags,
      security,
      summary: 'Change an endpoint’s URL, description, format, events or enabled flag',
      middleware: [requireUser],
      request: { params: IdParams, body: jsonBody(PatchBody) },
      responses: { 200: json(EndpointSchema, 'The endpoint'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const row = await manageable(c, c.req.valid('param').id);
      const body = c.req.valid('json');
      const patch = {
        ...body,
        ...(body.url !== undefined ? { url: assertDestination(c.env, body.url) } : {}),
        ...(body.events !== undefined ? { events: assertEvents(row.scope, body.events) } : {}),
      };
      const d = db(c.env);
      const [updated] = await d.batch([
        updateEndpoint(d, row.id, patch),
        auditStatement(c, 'webhook.update', { targetType: 'webhook', targetId: row.id, orgId: row.orgId, details: { ...patch } }),
      ]);
      if (!updated[0]) throw new NotFound('webhook endpoint not found');
      return c.json(endpointOut(updated[0]), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      operationId: 'deleteWebhookEndpoint',
      tags,
      security,
      summary: 'Remove an endpoint and its delivery log; queued deliveries to it are dropped',
      middleware: [requireUser],
      request: { params: IdParams },
      responses: { 200: json(z.object({ deleted: z.literal(true) }), 'Deleted'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const row = await manageable(c, c.req.valid('param').id);
      const d = db(c.env);
      await d.batch([deleteEndpoint(d, row.id), auditStatement(c, 'webhook.delete', { targetType: 'webhook', targetId: row.id, orgId: row.orgId, details: { url: row.url } })]);
      return c.json({ deleted: true as const }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/test',
      operationId: 'sendWebhookTest',
      tags,
      security,
      summary: 'Queue a `webhook.test` event to this endpoint; its delivery appears in the log',
      middleware: [requireUser],
      request: { params: IdParams },
      responses: { 202: json(z.object({ queued: z.literal(true) }), 'Queued'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const row = await manageable(c, c.req.valid('param').id);
      await enqueueDeliveries(
        c.env,
        deliveryMessages([row.id], {
          type: 'webhook.test',
          timestamp: nowIso(),
          data: { endpoint_id: row.id, message: 'Test event from Edgeplane: this endpoint receives webhooks.' },
        }),
      );
      return c.json({ queued: true as const }, 202);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/rotate-secret',
      operationId: 'rotateWebhookSecret',
      tags,
      security,
      summary: 'Replace the signing secret (the new one is shown this once; the old one stops at once)',
      middleware: [requireUser],
      request: { params: IdParams },
      responses: { 200: json(WithSecret, 'The endpoint and its new secret'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const row = await manageable(c, c.req.valid('param').id);
      const secret = newSecret();
      const d = db(c.env);
      const [updated] = await d.batch([
        updateEndpoint(d, row.id, { secretEnc: await sealSecret(c.env, row.id, secret) }),
        auditStatement(c, 'webhook.rotate_secret', { targetType: 'webhook', targetId: row.id, orgId: row.orgId }),
      ]);
      if (!updated[0]) throw new NotFound('webhook endpoint not found');
      return c.json({ ...endpointOut(updated[0]), secret }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}/deliveries',
      operationId: 'listWebhookDeliveries',
      tags,
      security,
      summary: 'The endpoint’s delivery log, newest first (`before`: a created_at to page back from)',
      middleware: [requireUser],
      request: { params: IdParams, query: DeliveriesQuery },
      responses: { 200: json(z.object({ deliveries: z.array(DeliverySchema) }), 'Deliveries'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const row = await manageable(c, c.req.valid('param').id);
      const q = c.req.valid('query');
      const rows = await listDeliveries(db(c.env), row.id, q.limit, q.before);
      return c.json({ deliveries: rows.map(deliveryOut) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/deliveries/{delivery_id}/retry',
      operationId: 'retryWebhookDelivery',
      tags,
      security,
      summary: 'Queue a failed delivery again: the same stored body and `webhook-id`; the log shows it pending',
      middleware: [requireUser],
      request: { params: DeliveryParams },
      responses: { 202: json(DeliverySchema, 'Queued again (pending)'), ...errors(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { id, delivery_id } = c.req.valid('param');
      const row = await manageable(c, id);
      const d = db(c.env);
      // The claim and its audit row are one unit (one batch, the row written only when the claim
      // changed one) made BEFORE the send: once the message is queued nothing is left to fail, so
      // the client's 202 is true. A send that fails is compensated (undoRetryClaim) before the 503;
      // an audit write that fails takes the claim with it, nothing is sent, and the error is true.
      const [claimed, audited] = await d.batch([
        claimFailedDeliveryStatement(d, row.id, delivery_id),
        auditIfChanged(c, 'webhook.delivery_retry', { targetType: 'webhook', targetId: row.id, orgId: row.orgId, details: { delivery_id } }).returning(),
      ]);
      const got = claimed[0];
      const auditId = audited[0]?.id;
      const event = got ? storedEvent(got.eventJson) : null;
      if (!got || !event) {
        const current = got ?? (await getDelivery(d, delivery_id));
        if (!current || current.endpointId !== row.id) throw new NotFound('delivery not found', 'delivery_not_found');
        if (got || current.eventJson === null) {
          // Older than migration 0004, or a body that no longer reads as an event: nothing to send.
          if (got) await undoRetryClaim(d, got.id, 'not re-sendable: stored event unreadable', auditId);
          throw new Conflict('this delivery keeps no event to send again', 'delivery_not_resendable');
        }
        throw new Conflict(`only a failed delivery can be retried (this one is ${current.status})`, 'delivery_not_failed');
      }
      try {
        await sendDeliveries(c.env, [{ delivery_id: got.id, endpoint_id: row.id, event, prior_attempts: got.attempts }]);
      } catch (e) {
        // sendDeliveries marks only never-attempted rows; this one was attempted: failed again here.
        await undoRetryClaim(d, got.id, `retry not queued: ${e instanceof Error ? e.message : String(e)}`.slice(0, 500), auditId);
        throw new ServiceUnavailable('the delivery queue refused the retry; try again', 'queue_unavailable');
      }
      const { eventJson: _body, ...shown } = got;
      return c.json(deliveryOut(shown), 202);
    },
  );
