/**
 * Caller-scoped subscriptions (contract §3.4), mounted at `/api/subscriptions`: list (admins:
 * everyone's), subscribe, and the `{driver}/{username}` routes, which address only the caller's own
 * subscription — admins included (they use the `sub_id` routes in admin.ts for others').
 *
 *   POST /api/subscriptions {"driver":"chaturbate","username":"alice"}  → 201 SubscriptionStatus
 *   POST /api/subscriptions/chaturbate/alice/pause                      → 200 (status "inactive")
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { auditStatement } from '../auth/audit';
import { requireUser } from '../auth/middleware';
import { db } from '../db/client';
import { BadRequest, type Conflict, NotFound } from '../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../http/openapi';
import { overseerLink } from './overseer';
import { Segment, SourceParams } from './paths';
import { postureRoutes, subscribeHook } from './posture';
import { conditionalList, IfNoneMatchHeaders, notModified } from './conditional';
import { findOwnStatusRow, scopes, subscribe, type StatusRow } from './queries';
import { configuredDrivers } from './settings';
import { listStatuses, statusWithLogs, SubscriptionStatusSchema } from './status';

const SubscribeBody = z.object({ driver: Segment, username: Segment }).openapi('Subscribe');
const tags = ['dvr subscriptions'];
const security = [{ bearer: [] }];

/** The caller's own subscription row, or the contract's 404s. */
async function ownRow(c: Context<AppEnv>, driver: string, username: string, Err: typeof NotFound | typeof Conflict = NotFound): Promise<StatusRow> {
  const row = await findOwnStatusRow(db(c.env), c.get('user').id, driver, username);
  if (!row) throw new Err(`source ${driver}/${username} not found`);
  if (row.subId === null) throw new Err(`subscription ${driver}/${username} not found`);
  return row as StatusRow;
}

export const subscriptionRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listSubscriptions',
      tags,
      summary: "The caller's subscriptions (admins: every user's), ordered by sub_id; one D1 query. Strong ETag: a matching If-None-Match answers 304 without building the list",
      security,
      middleware: [requireUser],
      request: { headers: IfNoneMatchHeaders },
      responses: { 200: json(z.array(SubscriptionStatusSchema), 'Subscriptions (logs are empty here: see /logs)'), ...notModified, ...errors(401, 403) },
    }),
    async (c) => {
      const me = c.get('user');
      const d = db(c.env);
      if (me.role === 'admin') return conditionalList(c, 'subs-all', [scopes.subscriptions, scopes.sources, scopes.config], () => listStatuses(d, {}));
      return conditionalList(c, `subs-u${me.id}`, [scopes.user(me.id), scopes.sources, scopes.config], () => listStatuses(d, { userId: me.id }));
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'subscribe',
      tags,
      summary: 'Subscribe (or reactivate): starts the recorder when this is the first active subscription',
      security,
      middleware: [requireUser],
      request: { body: jsonBody(SubscribeBody) },
      responses: { 201: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('json');
      const drivers = configuredDrivers(c.env);
      if (!drivers.has(driver)) throw new BadRequest(`driver ${driver} is not supported`, 'unknown_driver', { drivers: [...drivers] });
      const me = c.get('user');
      const d = db(c.env);
      const audit = auditStatement(c, 'dvr.subscription.subscribe', { targetType: 'source', targetId: `${driver}/${username}` });
      const { sourceId, active } = await subscribe(d, { userId: me.id, driver, username }, audit);
      if (active === 1) await overseerLink(c.env).requestStart({ sourceId, driver, username });
      return c.json(await statusWithLogs(c.env, (await findOwnStatusRow(d, me.id, driver, username)) as StatusRow), 201);
    },
    subscribeHook,
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}',
      operationId: 'getSubscription',
      tags,
      summary: "The caller's subscription to one source, with the log tail",
      security,
      middleware: [requireUser],
      request: { params: SourceParams },
      responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      return c.json(await statusWithLogs(c.env, await ownRow(c, driver, username)), 200);
    },
  )
  .route(
    '/',
    postureRoutes({
      params: SourceParams,
      path: '/{driver}/{username}',
      via: 'owner',
      tags,
      middleware: [requireUser],
      operationId: (verb) => ({ delete: 'archiveOwnSubscription', pause: 'pauseSubscription', resume: 'resumeSubscription', archive: 'archiveSubscription', resetError: 'resetSubscriptionError' })[verb],
      summaries: {
        delete: 'Archive the subscription (the row is kept and still listed)',
        pause: 'Pause (idempotent); stops the recorder when no active subscription is left',
        resume: 'Resume or reactivate (idempotent); starts the recorder when it becomes the first active subscription',
        archive: 'Archive (always writes); stops the recorder when no active subscription is left',
        resetError: 'Leave the errored state: stop the task, start a fresh one with the current config',
      },
      find: (c, { driver, username }, Err) => ownRow(c, driver, username, Err),
    }),
  );
