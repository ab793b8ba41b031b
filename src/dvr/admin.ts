/**
 * Admin subscription and source operations (contract §3.6, §3.9), admin only, one sub-app per
 * resource: any subscription by `sub_id` (postures, reset-error, restart) at
 * `/api/admin/subscriptions`, sources (restart-all, subscribers) at `/api/admin/sources`, a user's
 * subscriptions at `/api/admin/users`, and diagnostics of the recorder fleet.
 *
 *   POST /api/admin/subscriptions/12/restart                 → 200 SubscriptionStatus
 *   POST /api/admin/sources/restart-all {"include_errored":true} → {"restarted": 3, "skipped": 1}
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { usernamesOf } from '../auth/accounts';
import { audit } from '../auth/audit';
import { callerCheck, requireAdmin, requireCallerDeferred, requireUser } from '../auth/middleware';
import { db } from '../db/client';
import { BadRequest, Conflict, NotFound } from '../http/errors';
import { describeIssues, errors, failWith, json, newRouter, z } from '../http/openapi';
import { fleetDiagnostics, overseerLink } from './overseer';
import { SourceParams, SubIdParams, UserIdParams } from './paths';
import { postureRoutes } from './posture';
import { adminOnly, answerByDigest, conditionalList, IfNoneMatchHeaders, JsonText, notModified } from './conditional';
import { activeSubscriptions, findStatusRowBySubId, listStatusJsonQuery, liveSources, scopes, sourceIdOf, subscribersOf, type ListParts, type StatusRow } from './queries';
import type { SourceRef } from './runtime';
import { listBody, listTemplates, refOf, statusWithLogs, SubscriptionStatusSchema, type SubscriptionStatus } from './status';

const tags = ['dvr admin'];
const security = [{ bearer: [] }];
const admin = [requireUser, requireAdmin];

async function bySubId(c: Context<AppEnv>, subId: number, Err: typeof NotFound | typeof Conflict = NotFound): Promise<StatusRow> {
  const row = await findStatusRowBySubId(db(c.env), subId);
  if (!row) throw new Err(`subscription ${subId} not found`);
  return row;
}

const SubscriberInfoSchema = z.object({ user_id: z.number().int(), username: z.string(), sub_id: z.number().int(), posture: z.string() }).openapi('SubscriberInfo');

const PoolSchema = z.object({ limit: z.number().int(), running: z.number().int(), queue_depth: z.number().int() });
const ServiceInfoSchema = z
  .object({
    connected: z.boolean(),
    /** Added beside the contract's keys: `false` for an optional service nobody configured, which is not a fault
     *  (the page shows it neutral); omitted when the service is configured, so `connected: false` then means down. */
    configured: z.boolean().optional().openapi({ description: 'false: an optional service that is not configured (not a fault); omitted when configured' }),
    error: z.string().optional(),
    pool: PoolSchema.optional(),
    metrics: z.record(z.string(), z.number()).optional(),
  })
  .openapi('ServiceInfo');

/** `/api/admin/subscriptions`: any subscription by `sub_id`. */
export const adminSubscriptionRoutes = newRouter()
  .route(
    '/',
    postureRoutes({
      params: SubIdParams,
      path: '/{sub_id}',
      via: 'admin',
      tags,
      middleware: admin,
      operationId: (verb) =>
        ({ delete: 'archiveAnySubscription', pause: 'pauseAnySubscription', resume: 'resumeAnySubscription', archive: 'archiveAnySubscriptionByPost', resetError: 'resetAnySubscriptionError' })[verb],
      summaries: {
        delete: 'Archive any subscription (the row is kept)',
        pause: 'Pause any subscription',
        resume: 'Resume any subscription',
        archive: 'Archive any subscription',
        resetError: 'Reset an errored source through any of its subscriptions',
      },
      find: (c, { sub_id }, Err) => bySubId(c, sub_id, Err),
      hook: failWith('invalid sub_id'),
    }),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{sub_id}/restart',
      operationId: 'restartAnySubscription',
      tags,
      summary: 'Restart the source with the current config (any state; needs an active subscription)',
      security,
      middleware: admin,
      request: { params: SubIdParams },
      responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const subId = c.req.valid('param').sub_id;
      const row = await bySubId(c, subId, Conflict);
      if ((await activeSubscriptions(db(c.env), row.sourceId)) === 0) throw new Conflict(`source ${row.driver}/${row.username} has no active subscribers`, 'no_active_subscribers');
      await overseerLink(c.env).restart(refOf(row), '[system] restarting (manual restart — applying current configuration)');
      await audit(c, 'dvr.admin.subscription.restart', { targetType: 'subscription', targetId: subId, details: { source: `${row.driver}/${row.username}`, owner_user_id: row.userId } });
      return c.json(await statusWithLogs(c.env, await bySubId(c, subId)), 200);
    },
    failWith('invalid sub_id'),
  );

/** `/api/admin/sources`: restart-all and a source's subscribers. */
export const adminSourceRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/restart-all',
      operationId: 'restartAllSources',
      tags,
      summary: 'Restart every source with active subscriptions (errored ones only with include_errored)',
      security,
      middleware: admin,
      request: {
        body: { required: false, content: { 'application/json': { schema: z.object({ include_errored: z.boolean().optional() }) } } },
      },
      responses: { 200: json(z.object({ restarted: z.number().int(), skipped: z.number().int() }), 'Counts'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const includeErrored = (c.req.valid('json') as { include_errored?: boolean } | undefined)?.include_errored === true;
      const restart: SourceRef[] = [];
      let skipped = 0;
      for (const r of await liveSources(db(c.env), { withTaskHolders: false })) {
        if (r.active === 0 || (r.workerState === 'errored' && !includeErrored)) skipped += 1;
        else restart.push({ sourceId: r.sourceId, driver: r.driver, username: r.username });
      }
      if (restart.length > 0) await overseerLink(c.env).restartMany(restart, '[system] restarting (restart-all — applying current configuration)');
      await audit(c, 'dvr.admin.sources.restart_all', { targetType: 'sources', details: { include_errored: includeErrored, restarted: restart.length, skipped } });
      return c.json({ restarted: restart.length, skipped }, 200);
    },
    failWith('invalid JSON'),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}/subscribers',
      operationId: 'listSourceSubscribers',
      tags,
      summary: "A source's subscribers (all postures), ordered by sub_id",
      security,
      middleware: admin,
      request: { params: SourceParams },
      responses: {
        200: json(z.object({ driver: z.string(), username: z.string(), subscribers: z.array(SubscriberInfoSchema) }), 'Subscribers'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const d = db(c.env);
      const sourceId = await sourceIdOf(d, driver, username);
      if (sourceId === undefined) throw new NotFound(`source ${driver}/${username} not found`);
      const rows = await subscribersOf(d, sourceId);
      const names = await usernamesOf(c.env, rows);
      const subscribers = rows.map((r) => ({ user_id: r.id, username: names.get(r.id) ?? '', sub_id: r.subId, posture: r.posture }));
      return c.json({ driver, username, subscribers }, 200);
    },
  );

/** `/api/admin/users`: one user's subscriptions. */
export const adminUserSubscriptionRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/{id}/subscriptions',
    operationId: 'listUserSubscriptions',
    tags,
    summary: "One user's subscriptions ([] for unknown users)",
    security,
    // One round trip: the caller's check, the counters and the list in one batch (conditional.ts).
    middleware: [requireCallerDeferred],
    request: { params: UserIdParams, headers: IfNoneMatchHeaders },
    responses: { 200: json(z.array(SubscriptionStatusSchema), 'Subscriptions'), ...notModified, ...errors(400, 401, 403) },
  }),
  async (c) => {
    const id = c.req.valid('param').id;
    const d = db(c.env);
    const built = listTemplates();
    return conditionalList(c, d, {
      // The user's own view of their list: the same tag as theirs.
      view: { key: `subs-u${id}`, scopes: [scopes.user(id), scopes.sources, scopes.config] },
      adminList: true,
      authorize: adminOnly,
      rows: (guard) => listStatusJsonQuery(d, { userId: id }, built.templates, guard),
      present: (parts: ListParts) => new JsonText<SubscriptionStatus[]>(listBody(parts, built)),
    });
  },
  // A non-admin's malformed id is refused as non-admin (403), as `requireAdmin` did before
  // validation; only this failure path pays the caller check's own round trip.
  (result, c) => (result.success ? undefined : adminBeforeInvalid(c, 'invalid user id', result.error.issues)),
);

/** The deferred caller's check, then the validation failure: a 403 for a non-admin, else 400. */
async function adminBeforeInvalid(c: Context<AppEnv>, message: string, issues: Parameters<typeof describeIssues>[0]): Promise<never> {
  const check = callerCheck(c, db(c.env));
  adminOnly(check.confirm(await check.query));
  throw new BadRequest(message, 'validation_failed', describeIssues(issues));
}

/** `/api/admin/diagnostics`: the recorder fleet as the overseer reports it. */
export const diagnosticsRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    operationId: 'getDvrDiagnostics',
    tags,
    summary: 'Recorder fleet pool and metrics (converter and thumbnailer are not part of this deployment)',
    security,
    middleware: admin,
    request: { headers: IfNoneMatchHeaders },
    responses: {
      200: json(z.object({ recorder: ServiceInfoSchema, recorders: z.array(ServiceInfoSchema.extend({ id: z.string() })), converter: ServiceInfoSchema, thumbnailer: ServiceInfoSchema }), 'Diagnostics'),
      ...notModified,
      ...errors(401, 403),
    },
  }),
  async (c) => {
    const { recorder, recorders } = await fleetDiagnostics(c.env);
    // Asked of the overseer on every call: the tag spares the transfer and the page's repaint only.
    return answerByDigest(c, 'diag', {
      recorder,
      recorders,
      // Optional services this deployment has no URL for (the media agent remuxes and thumbnails on the
      // recorder host): the contract's `error` text stays, `configured: false` tells a client it is no fault.
      converter: { connected: false, configured: false, error: 'CONVERTER_URL not configured' },
      thumbnailer: { connected: false, configured: false, error: 'THUMBNAILER_URL not configured' },
    });
  },
);
