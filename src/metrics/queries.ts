/**
 * The local metric store's statements (`metric_points`, hourly sums). Production reads Analytics
 * Engine instead (`analytics-engine.ts`); both answer the same shapes.
 */
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { db } from '../db/client';
import { metricPoints } from '../db/schema';
import { labelKey, parseLabelKey, type MetricLabels, type MetricName } from './catalog';

const HOUR_MS = 3_600_000;

export function hourBucket(ms: number): string {
  return new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();
}

export async function addPoint<N extends MetricName>(env: Pick<Env, 'DB'>, p: { name: N; labels: MetricLabels<N>; org: number; value: number; at?: number }) {
  await db(env)
    .insert(metricPoints)
    .values({ bucket: hourBucket(p.at ?? Date.now()), name: p.name, orgId: p.org, labels: labelKey(p.name, p.labels), value: p.value, count: 1 })
    .onConflictDoUpdate({
      target: [metricPoints.bucket, metricPoints.name, metricPoints.orgId, metricPoints.labels],
      set: { value: sql`${metricPoints.value} + excluded.value`, count: sql`${metricPoints.count} + 1` },
    });
}

export interface SeriesRow {
  /** Start of the hour (ISO). */
  bucket: string;
  /** The `by` label's value, or '' when not split. */
  key: string;
  value: number;
}

/** Hourly sums since `since`, optionally for one org, split by one label. */
export async function localSeries(env: Pick<Env, 'DB'>, q: { name: MetricName; since: number; org?: number; by?: string }): Promise<SeriesRow[]> {
  const where = and(eq(metricPoints.name, q.name), gte(metricPoints.bucket, hourBucket(q.since)), q.org === undefined ? undefined : eq(metricPoints.orgId, q.org));
  if (!q.by) {
    const rows = await db(env)
      .select({ bucket: metricPoints.bucket, value: sql<number>`SUM(${metricPoints.value})` })
      .from(metricPoints)
      .where(where)
      .groupBy(metricPoints.bucket);
    return rows.map((r) => ({ bucket: r.bucket, key: '', value: Number(r.value) }));
  }
  const rows = await db(env)
    .select({ bucket: metricPoints.bucket, labels: metricPoints.labels, value: sql<number>`SUM(${metricPoints.value})` })
    .from(metricPoints)
    .where(where)
    .groupBy(metricPoints.bucket, metricPoints.labels);
  return rows.map((r) => ({ bucket: r.bucket, key: parseLabelKey(r.labels)[q.by!] ?? '', value: Number(r.value) }));
}

/** Totals per metric, org and label set over the retained window (the Prometheus endpoint). */
export async function localTotals(env: Pick<Env, 'DB'>) {
  return db(env)
    .select({ name: metricPoints.name, org: metricPoints.orgId, labels: metricPoints.labels, value: sql<number>`SUM(${metricPoints.value})` })
    .from(metricPoints)
    .groupBy(metricPoints.name, metricPoints.orgId, metricPoints.labels);
}

/** Retention: drops the hours older than the cutoff (the hourly cron keeps this to a day's rows). */
export async function pruneBefore(env: Pick<Env, 'DB'>, cutoffMs: number): Promise<number> {
  const res = await db(env).delete(metricPoints).where(lt(metricPoints.bucket, hourBucket(cutoffMs))).run();
  return res.meta.changes ?? 0;
}
