/**
 * Admin subscription and source operations (contract §3.6, §3.9): posture changes on any
 * subscription by `sub_id`, reset-error, restart, restart-all, a source's subscribers, a user's
 * subscriptions, and diagnostics of the recorder fleet. Admin only.
 *
 *   POST /api/admin/subscriptions/12/restart                 → 200 SubscriptionStatus
 *   POST /api/admin/sources/restart-all {"include_errored":true} → {"restarted": 3, "skipped": 1}
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { usernamesOf } from '../auth/accounts';
import { requireAdmin, requireUser } from '../auth/middleware';
import { Conflict, NotFound } from '../http/errors';
import { errors, failWith, IntId, json, newRouter, z } from '../http/openapi';
import { audit } from '../auth/audit';
import { applyPosture, link, SourceParams, type Posture } from './lifecycle';
import { activeSubscriptions } from './queries';
import { findRowBySubId, listStatuses, refOf, statusWithLogs, SubscriptionStatusSchema, type StatusRow } from './status';
import type { SourceRef } from './runtime';

const SubIdParams = z.object({ sub_id: IntId.openapi({ param: { name: 'sub_id', in: 'path' }, example: '12' }) });
const UserIdParams = z.object({ id: IntId.openapi({ param: { name: 'id', in: 'path' }, example: '7' }) });
const tags = ['dvr admin'];
const admin = [requireUser, requireAdmin] as const;

async function bySubId(c: Context<AppEnv>, subId: number, Err: typeof NotFound | typeof Conflict = NotFound): Promise<StatusRow> {
  const row = await findRowBySubId(c.env, subId);
  if (!row) throw new Err(`subscription ${subId} not found`);
  return row;
}

function postureRoute(action: 'pause' | 'resume' | 'archive') {
  return createRoute({
    method: 'post',
    path: `/admin/subscriptions/{sub_id}/${action}`,
    tags,
    summary: `${action[0]!.toUpperCase()}${action.slice(1)} any subscription`,
    middleware: [...admin],
    request: { params: SubIdParams },
    responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 404) },
  });
}

const POSTURE_OF: Record<'pause' | 'resume' | 'archive', Posture> = { pause: 'paused', resume: 'active', archive: 'archived' };

async function changePosture(c: Context<AppEnv>, subId: number, action: 'pause' | 'resume' | 'archive') {
  const row = await bySubId(c, subId);
  await applyPosture(c, row, POSTURE_OF[action], 'admin');
  return statusWithLogs(c.env, (await findRowBySubId(c.env, subId))!);
}

const SubscriberInfoSchema = z.object({ user_id: z.number().int(), username: z.string(), sub_id: z.number().int(), posture: z.string() }).openapi('SubscriberInfo');

const PoolSchema = z.object({ limit: z.number().int(), running: z.number().int(), queue_depth: z.number().int() });
const ServiceInfoSchema = z
  .object({ connected: z.boolean(), error: z.string().optional(), pool: PoolSchema.optional(), metrics: z.record(z.string(), z.number()).optional() })
  .openapi('ServiceInfo');

export const adminRouter = newRouter()
  .openapi(postureRoute('pause'), async (c) => c.json(await changePosture(c, c.req.valid('param').sub_id, 'pause'), 200), failWith('invalid sub_id'))
  .openapi(postureRoute('resume'), async (c) => c.json(await changePosture(c, c.req.valid('param').sub_id, 'resume'), 200), failWith('invalid sub_id'))
  .openapi(postureRoute('archive'), async (c) => c.json(await changePosture(c, c.req.valid('param').sub_id, 'archive'), 200), failWith('invalid sub_id'))
  .openapi(
    createRoute({
      method: 'delete',
      path: '/admin/subscriptions/{sub_id}',
      tags,
      summary: 'Archive any subscription (the row is kept)',
      middleware: [...admin],
      request: { params: SubIdParams },
      responses: { 204: { description: 'Archived' }, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      await changePosture(c, c.req.valid('param').sub_id, 'archive');
      return c.body(null, 204);
    },
    failWith('invalid sub_id'),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/admin/subscriptions/{sub_id}/reset-error',
      tags,
      summary: "Reset an errored source through any of its subscriptions",
      middleware: [...admin],
      request: { params: SubIdParams },
      responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const subId = c.req.valid('param').sub_id;
      const row = await bySubId(c, subId, Conflict);
      if (!(await link(c.env).resetError(refOf(row)))) throw new Conflict(`source ${row.driver}/${row.username} is not in errored state`, 'not_errored');
      await audit(c, 'dvr.admin.subscription.reset_error', { targetType: 'subscription', targetId: subId, details: { source: `${row.driver}/${row.username}`, owner_user_id: row.user_id } });
      return c.json(await statusWithLogs(c.env, (await findRowBySubId(c.env, subId))!), 200);
    },
    failWith('invalid sub_id'),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/admin/subscriptions/{sub_id}/restart',
      tags,
      summary: 'Restart the source with the current config (any state; needs an active subscription)',
      middleware: [...admin],
      request: { params: SubIdParams },
      responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const subId = c.req.valid('param').sub_id;
      const row = await bySubId(c, subId, Conflict);
      if ((await activeSubscriptions(c.env, row.source_id)) === 0) throw new Conflict(`source ${row.driver}/${row.username} has no active subscribers`, 'no_active_subscribers');
      await link(c.env).restart(refOf(row), '[system] restarting (manual restart — applying current configuration)');
      await audit(c, 'dvr.admin.subscription.restart', { targetType: 'subscription', targetId: subId, details: { source: `${row.driver}/${row.username}`, owner_user_id: row.user_id } });
      return c.json(await statusWithLogs(c.env, (await findRowBySubId(c.env, subId))!), 200);
    },
    failWith('invalid sub_id'),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/admin/sources/restart-all',
      tags,
      summary: 'Restart every source with active subscriptions (errored ones only with include_errored)',
      middleware: [...admin],
      request: {
        body: { required: false, content: { 'application/json': { schema: z.object({ include_errored: z.boolean().optional() }) } } },
      },
      responses: { 200: json(z.object({ restarted: z.number().int(), skipped: z.number().int() }), 'Counts'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const includeErrored = (c.req.valid('json') as { include_errored?: boolean } | undefined)?.include_errored === true;
      const { results } = await c.env.DB.prepare(
        `SELECT s.id, s.driver, s.username, s.worker_state,
                (SELECT count(*) FROM subscriptions x WHERE x.source_id = s.id AND x.posture = 'active') AS active
           FROM sources s
          WHERE s.worker_state != 'idle' OR EXISTS (SELECT 1 FROM subscriptions x WHERE x.source_id = s.id AND x.posture = 'active')`,
      ).all<{ id: number; driver: string; username: string; worker_state: string; active: number }>();
      const restart: SourceRef[] = [];
      let skipped = 0;
      for (const r of results) {
        if (r.active === 0 || (r.worker_state === 'errored' && !includeErrored)) skipped += 1;
        else restart.push({ sourceId: r.id, driver: r.driver, username: r.username });
      }
      if (restart.length > 0) await link(c.env).restartMany(restart, '[system] restarting (restart-all — applying current configuration)');
      await audit(c, 'dvr.admin.sources.restart_all', { targetType: 'sources', details: { include_errored: includeErrored, restarted: restart.length, skipped } });
      return c.json({ restarted: restart.length, skipped }, 200);
    },
    failWith('invalid JSON'),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/admin/sources/{driver}/{username}/subscribers',
      tags,
      summary: "A source's subscribers (all postures), ordered by sub_id",
      middleware: [...admin],
      request: { params: SourceParams },
      responses: {
        200: json(z.object({ driver: z.string(), username: z.string(), subscribers: z.array(SubscriberInfoSchema) }), 'Subscribers'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const src = await c.env.DB.prepare(`SELECT id FROM sources WHERE driver = ?1 AND username = ?2`).bind(driver, username).first<{ id: number }>();
      if (!src) throw new NotFound(`source ${driver}/${username} not found`);
      const { results } = await c.env.DB.prepare(
        `SELECT sub.id AS sub_id, sub.posture, u.id, u.username_enc, u.username_digest
           FROM subscriptions sub JOIN users u ON u.id = sub.user_id WHERE sub.source_id = ?1 ORDER BY sub.id`,
      )
        .bind(src.id)
        .all<{ sub_id: number; posture: string; id: number; username_enc: string; username_digest: string }>();
      const names = await usernamesOf(
        c.env,
        results.map((r) => ({ id: r.id, usernameEnc: r.username_enc, usernameDigest: r.username_digest })),
      );
      const subscribers = results.map((r) => ({ user_id: r.id, username: names.get(r.id) ?? '', sub_id: r.sub_id, posture: r.posture }));
      return c.json({ driver, username, subscribers }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/admin/users/{id}/subscriptions',
      tags,
      summary: "One user's subscriptions ([] for unknown users)",
      middleware: [...admin],
      request: { params: UserIdParams },
      responses: { 200: json(z.array(SubscriptionStatusSchema), 'Subscriptions'), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await listStatuses(c.env, { userId: c.req.valid('param').id }), 200),
    failWith('invalid user id'),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/admin/diagnostics',
      tags,
      summary: 'Recorder fleet pool and metrics (converter and thumbnailer are not part of this deployment)',
      middleware: [...admin],
      responses: {
        200: json(z.object({ recorder: ServiceInfoSchema, converter: ServiceInfoSchema, thumbnailer: ServiceInfoSchema }), 'Diagnostics'),
        ...errors(401, 403),
      },
    }),
    async (c) => {
      const recorder = await link(c.env)
        .diagnostics()
        .catch((e: unknown) => ({ connected: false, error: e instanceof Error ? e.message : String(e) }));
      return c.json(
        {
          recorder,
          converter: { connected: false, error: 'CONVERTER_URL not configured' },
          thumbnailer: { connected: false, error: 'THUMBNAILER_URL not configured' },
        },
        200,
      );
    },
  );
