/**
 * Caller-scoped subscriptions (contract §3.4): list (admins: everyone's), subscribe, and the
 * `{driver}/{username}` routes, which address only the caller's own subscription — admins
 * included (they use the `sub_id` routes in admin.ts for others').
 *
 *   POST /api/subscriptions {"driver":"chaturbate","username":"alice"}  → 201 SubscriptionStatus
 *   POST /api/subscriptions/chaturbate/alice/pause                      → 200 (status "inactive")
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { requireUser } from '../auth/middleware';
import { BadRequest, Conflict, NotFound } from '../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../http/openapi';
import { applyPosture, link, Segment, SourceParams, subscribe, subscribeHook, type Posture } from './lifecycle';
import { audit } from '../auth/audit';
import { configuredDrivers } from './settings';
import { findOwnRow, listStatuses, refOf, statusWithLogs, SubscriptionStatusSchema, type StatusRow } from './status';

const SubscribeBody = z.object({ driver: Segment, username: Segment }).openapi('Subscribe');

/** The caller's own subscription row, or the contract's 404s. */
async function ownRow(c: Context<AppEnv>, driver: string, username: string, Err: typeof NotFound | typeof Conflict = NotFound): Promise<StatusRow> {
  const row = await findOwnRow(c.env, c.get('user').id, driver, username);
  if (!row) throw new Err(`source ${driver}/${username} not found`);
  if (row.sub_id === null) throw new Err(`subscription ${driver}/${username} not found`);
  return row;
}

function postureRoute(action: 'pause' | 'resume' | 'archive', summary: string) {
  return createRoute({
    method: 'post',
    path: `/subscriptions/{driver}/{username}/${action}`,
    tags: ['dvr subscriptions'],
    summary,
    middleware: [requireUser],
    request: { params: SourceParams },
    responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 404) },
  });
}

const POSTURE_OF: Record<'pause' | 'resume' | 'archive', Posture> = { pause: 'paused', resume: 'active', archive: 'archived' };

async function changePosture(c: Context<AppEnv>, driver: string, username: string, action: 'pause' | 'resume' | 'archive') {
  const row = await ownRow(c, driver, username);
  await applyPosture(c, row, POSTURE_OF[action], 'owner');
  return statusWithLogs(c.env, (await findOwnRow(c.env, c.get('user').id, driver, username))!);
}

export const subscriptionsRouter = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/subscriptions',
      tags: ['dvr subscriptions'],
      summary: "The caller's subscriptions (admins: every user's), ordered by sub_id; one D1 query",
      middleware: [requireUser],
      responses: { 200: json(z.array(SubscriptionStatusSchema), 'Subscriptions (logs are empty here: see /logs)'), ...errors(401, 403) },
    }),
    async (c) => {
      const me = c.get('user');
      return c.json(await listStatuses(c.env, me.role === 'admin' ? {} : { userId: me.id }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/subscriptions',
      tags: ['dvr subscriptions'],
      summary: 'Subscribe (or reactivate): starts the recorder when this is the first active subscription',
      middleware: [requireUser],
      request: { body: jsonBody(SubscribeBody) },
      responses: { 201: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('json');
      const drivers = configuredDrivers(c.env);
      if (!drivers.has(driver)) throw new BadRequest(`driver ${driver} is not supported`, 'unknown_driver', { drivers: [...drivers] });
      const me = c.get('user');
      const { ref, active } = await subscribe(c, me.id, driver, username);
      if (active === 1) await link(c.env).requestStart(ref);
      return c.json(await statusWithLogs(c.env, (await findOwnRow(c.env, me.id, driver, username))!), 201);
    },
    subscribeHook,
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/subscriptions/{driver}/{username}',
      tags: ['dvr subscriptions'],
      summary: "The caller's subscription to one source, with the log tail",
      middleware: [requireUser],
      request: { params: SourceParams },
      responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      return c.json(await statusWithLogs(c.env, await ownRow(c, driver, username)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/subscriptions/{driver}/{username}',
      tags: ['dvr subscriptions'],
      summary: 'Archive the subscription (the row is kept and still listed)',
      middleware: [requireUser],
      request: { params: SourceParams },
      responses: { 204: { description: 'Archived' }, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      await changePosture(c, driver, username, 'archive');
      return c.body(null, 204);
    },
  )
  .openapi(postureRoute('pause', 'Pause (idempotent); stops the recorder when no active subscription is left'), async (c) => {
    const { driver, username } = c.req.valid('param');
    return c.json(await changePosture(c, driver, username, 'pause'), 200);
  })
  .openapi(postureRoute('resume', 'Resume or reactivate (idempotent); starts the recorder when it becomes the first active subscription'), async (c) => {
    const { driver, username } = c.req.valid('param');
    return c.json(await changePosture(c, driver, username, 'resume'), 200);
  })
  .openapi(postureRoute('archive', 'Archive (always writes); stops the recorder when no active subscription is left'), async (c) => {
    const { driver, username } = c.req.valid('param');
    return c.json(await changePosture(c, driver, username, 'archive'), 200);
  })
  .openapi(
    createRoute({
      method: 'post',
      path: '/subscriptions/{driver}/{username}/reset-error',
      tags: ['dvr subscriptions'],
      summary: 'Leave the errored state: stop the task, start a fresh one with the current config',
      middleware: [requireUser],
      request: { params: SourceParams },
      responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const row = await ownRow(c, driver, username, Conflict);
      if (!(await link(c.env).resetError(refOf(row)))) throw new Conflict(`source ${driver}/${username} is not in errored state`, 'not_errored');
      await audit(c, 'dvr.subscription.reset_error', { targetType: 'subscription', targetId: row.sub_id, details: { source: `${driver}/${username}` } });
      return c.json(await statusWithLogs(c.env, (await findOwnRow(c.env, c.get('user').id, driver, username))!), 200);
    },
  );
