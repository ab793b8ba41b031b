/**
 * Reading metrics: `GET /metrics/catalog` (what can be charted), `GET /metrics/series` (one metric
 * over 24 h / 7 d / 30 d, optionally split by a label) for the dashboard's Metrics page, and
 * `GET /metrics` in Prometheus text format for operators who scrape. Platform admins read
 * everything; org owners and admins read their org's org-scoped metrics (play sessions, heartbeats).
 *
 * Mounted at `/metrics` (src/app.ts); recording is src/http/metrics/.
 *
 *   GET /metrics/series?metric=http.requests&range=24h&by=status
 *   GET /metrics/series?metric=play.sessions&range=7d&org_id=3&by=outcome   (org admin of org 3)
 */
import { createRoute } from '@hono/zod-openapi';
import { assertOrgRole, requireAdmin, requireUser } from '../auth/middleware';
import { BadRequest, Forbidden } from '../http/errors';
import { errors, IntId, json, newRouter, userSecurity, z } from '../http/openapi';
import { db } from '../db/client';
import { isMetric, labelValues, METRIC_NAMES, METRICS, parseLabelKey, type MetricName } from '../http/metrics/catalog';
import { usesLocalStore } from '../http/metrics/record';
import { aeSeries, aeTotals } from './analytics-engine';
import { localSeries, localTotals, type SeriesRow } from './queries';

const RANGES = {
  '24h': { ms: 24 * 3_600_000, bucket: 3600 },
  '7d': { ms: 7 * 86_400_000, bucket: 6 * 3600 },
  '30d': { ms: 30 * 86_400_000, bucket: 86_400 },
} as const;

const SeriesQuery = z
  .object({
    metric: z.enum(METRIC_NAMES),
    range: z.enum(['24h', '7d', '30d']).default('24h'),
    org_id: IntId.optional().openapi({ type: 'string', description: 'One org (required for org admins)' }),
    by: z.string().max(32).optional().openapi({ description: 'A label of the metric to split the series by' }),
  })
  .strict();

const SeriesOut = z
  .object({
    metric: z.string(),
    range: z.string(),
    bucket_seconds: z.number().int(),
    from: z.string(),
    to: z.string(),
    total: z.number(),
    series: z.array(z.object({ key: z.string(), total: z.number(), points: z.array(z.object({ t: z.string(), v: z.number() })) })),
  })
  .openapi('MetricSeries');

const CatalogOut = z
  .object({ metrics: z.array(z.object({ name: z.string(), title: z.string(), unit: z.string(), labels: z.array(z.string()), org_scoped: z.boolean() })) })
  .openapi('MetricCatalog');

/** Hourly rows → evenly spaced buckets from `since` to now, zeros where nothing happened. */
export function toSeries(rows: SeriesRow[], since: number, now: number, bucketSeconds: number) {
  const step = bucketSeconds * 1000;
  const start = Math.floor(since / step) * step;
  const count = Math.max(1, Math.ceil((now - start) / step));
  const byKey = new Map<string, number[]>();
  for (const r of rows) {
    const i = Math.floor((Date.parse(r.bucket) - start) / step);
    if (i < 0 || i >= count) continue;
    let values = byKey.get(r.key);
    if (!values) byKey.set(r.key, (values = new Array<number>(count).fill(0)));
    values[i] = (values[i] ?? 0) + r.value;
  }
  const series = [...byKey.entries()]
    .map(([key, values]) => ({ key, total: values.reduce((a, b) => a + b, 0), points: values.map((v, i) => ({ t: new Date(start + i * step).toISOString(), v })) }))
    .sort((a, b) => b.total - a.total);
  return { from: new Date(start).toISOString(), to: new Date(now).toISOString(), series, total: series.reduce((a, s) => a + s.total, 0) };
}

const promName = (n: string) => `edgeplane_${n.replace(/[^a-zA-Z0-9]/g, '_')}_total`;
const promValue = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

export const metricsRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/catalog',
      operationId: 'getMetricCatalog',
      tags: ['metrics'],
      summary: 'The metrics that can be charted',
      middleware: [requireUser] as const,
      security: userSecurity,
      responses: { 200: json(CatalogOut, 'Every metric with its labels'), ...errors(401) },
    }),
    (c) =>
      c.json(
        { metrics: METRIC_NAMES.map((name) => ({ name, title: METRICS[name].title, unit: METRICS[name].unit, labels: [...METRICS[name].labels], org_scoped: METRICS[name].orgScoped })) },
        200,
      ),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/series',
      operationId: 'getMetricSeries',
      tags: ['metrics'],
      summary: 'One metric over time (platform admins: all; org owners/admins: their org’s org-scoped metrics)',
      middleware: [requireUser] as const,
      security: userSecurity,
      request: { query: SeriesQuery },
      responses: { 200: json(SeriesOut, 'The series'), ...errors(400, 401, 403, 502, 503) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const name: MetricName = q.metric;
      if (q.by !== undefined && !(METRICS[name].labels as readonly string[]).includes(q.by)) {
        throw new BadRequest(`by: ${name} has the labels ${METRICS[name].labels.join(', ')}`, 'validation_failed');
      }
      if (c.get('user').role !== 'admin') {
        if (q.org_id === undefined) throw new Forbidden('org_id is required unless you are a platform admin', 'org_id_required');
        await assertOrgRole(c, q.org_id, 'admin');
        if (!METRICS[name].orgScoped) throw new Forbidden(`${name} is a platform metric`, 'platform_metric');
      }
      const range = RANGES[q.range];
      const now = Date.now();
      const since = now - range.ms;
      const query = { name, since, ...(q.org_id === undefined ? {} : { org: q.org_id }), ...(q.by === undefined ? {} : { by: q.by }) };
      const rows = usesLocalStore(c.env) ? await localSeries(db(c.env), query) : await aeSeries(c.env, query);
      return c.json({ metric: name, range: q.range, bucket_seconds: range.bucket, ...toSeries(rows, since, now, range.bucket) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'getPrometheusMetrics',
      tags: ['metrics'],
      summary: 'Every metric in Prometheus text format (totals over the retention window; platform admins)',
      middleware: [requireUser, requireAdmin] as const,
      security: userSecurity,
      responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } }, ...errors(401, 403, 502, 503) },
    }),
    async (c) => {
      const totals = usesLocalStore(c.env)
        ? (await localTotals(db(c.env))).flatMap((r) => (isMetric(r.name) ? [{ name: r.name, org: r.org, labels: parseLabelKey(r.labels), value: Number(r.value) }] : []))
        : (await aeTotals(c.env, Number(c.env.METRICS_RETENTION_DAYS) || 31)).flatMap((r) =>
            isMetric(r.name) ? [{ name: r.name, org: r.org, labels: Object.fromEntries(METRICS[r.name].labels.map((l, i) => [l, r.values[i] ?? ''])), value: r.value }] : [],
          );
      const lines: string[] = [];
      for (const name of METRIC_NAMES) {
        const mine = totals.filter((t) => t.name === name);
        lines.push(`# HELP ${promName(name)} ${METRICS[name].title} (${METRICS[name].unit})`, `# TYPE ${promName(name)} counter`);
        for (const t of mine) {
          const labels = [`org="${t.org}"`, ...METRICS[name].labels.map((l, i) => `${l}="${promValue(t.labels[l] ?? labelValues(name, {})[i] ?? '')}"`)];
          lines.push(`${promName(name)}{${labels.join(',')}} ${t.value}`);
        }
      }
      return c.text(lines.join('\n') + '\n', 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    },
  );
