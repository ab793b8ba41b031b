/**
 * The daily Top 10 (contract §3.5 with §8's compatibility shape) and its administration:
 *
 *   GET  /charts/top10?date=YYYY-MM-DD&org_id=   public; flags only for an org the caller belongs to
 *   POST /charts/top10/refresh                    platform admin: scrape now
 *   GET  /charts/runs?date=&limit=                platform admin: run history and retry state
 *
 * The public chart (no `org_id`) is the same for everyone: it is cached at the edge (cache.ts) and
 * answered with `Cache-Control: public` and an `ETag` (304 on `If-None-Match`). An org's chart
 * carries that org's installs and the caller's library, so it is never cached (`no-store`).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { callerCheck, optionalCallerDeferred, orgRoleVerdict, requireAdmin, requireUser } from '../../auth/middleware';
import { membershipRoleQuery, orgMemberOrAdminSql } from '../../auth/queries/users';
import { audit } from '../../auth/audit';
import { db } from '../../db/client';
import { matchesEtag } from '../../http/etag';
import { ApiError, Conflict } from '../../http/errors';
import { errors, IntId, json, newRouter, z } from '../../http/openapi';
import { world } from '../../world';
import { AppTileSchema, GameSummarySchema, OPTIONAL_BEARER } from '../schemas';
import { chartEtag, CLIENT_CACHE_CONTROL, readPublicChart, storePublicChart } from './cache';
import { nextRetryAt, runChartScrape, toChartRun, utcDate } from './jobs';
import { loadChart, toChartEntries } from './query';
import { chartRowsQuery, chartRunsPage, latestChartDate } from './queries';

const IsoDate = z
  .string()
  .regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'must be a real calendar date');

const ChartEntrySchema = AppTileSchema.extend({
  rank: z.number().int().min(1).max(10),
  chart_date: z.string().openapi({ example: '2026-11-22' }),
  install_ready: z.boolean().openapi({ description: 'Installed on an online node of the org (false without org_id)' }),
  game: GameSummarySchema,
}).openapi('ChartEntry', {
  description:
    'A chart entry: the contract’s ChartEntry keys plus the AppTile keys, so the launcher can parse it as a tile. ' +
    '`game.id` is 0 and `game.slug` `chart-<date>-<rank>` when the game was deleted after the snapshot.',
});

const ChartRunSchema = z
  .object({
    id: z.number().int(),
    chart_date: z.string(),
    trigger: z.enum(['cron', 'manual', 'retry']),
    source: z.string().nullable().openapi({ description: '`steamcharts` or `steam_api` once a run succeeded' }),
    status: z.enum(['running', 'ok', 'failed']),
    error: z.string().nullable(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi('ChartRun');

const ChartQuery = z.object({
  // `date=` (empty) means "latest", as in the prototype (contract §3.5).
  date: z
    .union([z.literal(''), IsoDate])
    .optional()
    .openapi({ description: 'The snapshot of that day, else the latest one before it; absent or empty: the latest' }),
  org_id: IntId.optional().openapi({ type: 'string', description: 'Computes install_ready/installed/owned for this org (caller must be a member)' }),
});

const RunsQuery = z.object({
  date: IsoDate.optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, 'must be an integer between 1 and 100')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 100, 'must be an integer between 1 and 100')
    .optional(),
});

async function publicChart(c: Context<AppEnv>, date: string | null) {
  let hit = await readPublicChart(date);
  if (!hit) {
    const body = JSON.stringify(await loadChart(c.env, { date, orgId: null, userId: null }));
    hit = { body, etag: await chartEtag(body) };
    c.executionCtx.waitUntil(storePublicChart(date, hit.body, hit.etag));
  }
  return hit;
}

export const chartRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/top10',
      operationId: 'getTopChart',
      tags: ['charts'],
      security: OPTIONAL_BEARER,
      summary: 'The daily Top 10 (for a date, else the latest)',
      description:
        'Without `org_id` the public chart: flags false, cacheable (`ETag`, 304). With `org_id` (a member’s token required) ' +
        'the flags are computed for that org and the caller, and the answer is `no-store`. A date before the first snapshot gives `[]`.',
      middleware: [optionalCallerDeferred] as const,
      request: { query: ChartQuery },
      responses: {
        200: json(z.array(ChartEntrySchema), 'Entries ordered by rank'),
        304: { description: 'Not modified (public chart, `If-None-Match` matched)' },
        ...errors(400, 401, 403),
      },
    }),
    async (c) => {
      const { date: rawDate, org_id } = c.req.valid('query');
      const date = rawDate ? rawDate : undefined;
      if (org_id !== undefined) {
        // One storage round trip (issue 17): the caller's check, its membership and the chart for
        // the token's user in one batch, decided after. Anonymous (or revoked) → 401, another
        // org's member → 403: an org's installs are not public. The chart statement is guarded by
        // the same membership rule, so a refused member of another org costs no chart rows.
        const d = db(c.env);
        const caller = callerCheck(c, d);
        const [callerRows, role, rows] = await d.batch([
          caller.query,
          membershipRoleQuery(d, caller.userId, org_id),
          chartRowsQuery(d, c.env, { date: date ?? null, orgId: org_id, userId: caller.userId }, orgMemberOrAdminSql(d, caller.userId, org_id)),
        ]);
        orgRoleVerdict(caller.confirm(callerRows), role[0]?.role ?? null, 'member');
        c.header('Cache-Control', 'private, no-store');
        return c.json(toChartEntries(rows), 200);
      }
      // Snapshots are dated by the UTC day they were taken, so any date from today on means "latest":
      // one cache entry for all of them instead of one per future date a client can invent.
      const { body, etag } = await publicChart(c, date !== undefined && date < utcDate(world.now()) ? date : null);
      c.header('Cache-Control', CLIENT_CACHE_CONTROL);
      c.header('ETag', etag);
      if (matchesEtag(c.req.header('If-None-Match'), etag)) return c.body(null, 304);
      c.header('Content-Type', 'application/json');
      return c.body(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/top10/refresh',
      operationId: 'refreshTopChart',
      tags: ['charts'],
      summary: 'Scrape the chart now (platform admin)',
      description:
        'Runs one attempt for today (UTC), page first, Steam API fallback. 200 with the run when the snapshot was written; ' +
        '502 with the run id when both sources failed (nothing is written); 409 while another run is in progress.',
      security: [{ bearer: [] }],
      middleware: [requireUser, requireAdmin] as const,
      responses: { 200: json(ChartRunSchema, 'The finished run'), ...errors(401, 403, 409, 502) },
    }),
    async (c) => {
      const run = await runChartScrape(c.env, 'manual');
      if (!run) throw new Conflict('a chart run is already in progress', 'chart_run_in_progress');
      await audit(c, 'charts.refresh', { targetType: 'chart_run', targetId: run.id, details: { status: run.status, source: run.source } });
      if (run.status !== 'ok') {
        throw new ApiError(502, 'chart_refresh_failed', `chart refresh failed: ${run.error ?? 'unknown error'}`, { run_id: run.id });
      }
      return c.json(ChartRunSchema.parse(run), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/runs',
      operationId: 'listChartRuns',
      tags: ['charts'],
      summary: 'Chart run history, newest first (platform admin)',
      security: [{ bearer: [] }],
      middleware: [requireUser, requireAdmin] as const,
      request: { query: RunsQuery },
      responses: {
        200: json(
          z.object({
            latest_chart_date: z.string().nullable(),
            next_retry_at: z.string().nullable().openapi({ description: 'When the cron retries today’s failed chart, if it will' }),
            runs: z.array(ChartRunSchema),
          }),
          'Runs',
        ),
        ...errors(400, 401, 403),
      },
    }),
    async (c) => {
      const { date, limit } = c.req.valid('query');
      const d = db(c.env);
      const [runs, latest, retryAt] = await Promise.all([chartRunsPage(d, date, limit ?? 20), latestChartDate(d), nextRetryAt(c.env, utcDate(world.now()))]);
      return c.json(
        { latest_chart_date: latest, next_retry_at: retryAt === null ? null : new Date(retryAt).toISOString(), runs: runs.map(toChartRun) },
        200,
      );
    },
  );
