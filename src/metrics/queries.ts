/**
 * The local metric store's reads and its retention (`metric_points`, hourly sums). Production reads
 * Analytics Engine instead (`analytics-engine.ts`); both answer the same shapes. Writing a point is
 * the recorder's (src/http/metrics/queries.ts), used by every layer.
 *
 *   const rows = await localSeries(db(env), { name: 'http.requests', since, by: 'status' });
 */
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { changes, type Db } from '../db/client';
import { metricPoints } from '../db/schema';
import { parseLabelKey, type MetricName } from '../http/metrics/catalog';
import { hourBucket } from '../http/metrics/queries';

export interface SeriesRow {
  /** Start of the hour (ISO). */
  bucket: string;
  /** The `by` label's value, or '' when not split. */
  key: string;
  value: number;
}

/** Hourly sums since `since`, optionally for one org, split by one label. */
export async function localSeries(d: Db, q: { name: MetricName; since: number; org?: number; by?: string }): Promise<SeriesRow[]> {
  const where = and(eq(metricPoints.name, q.name), gte(metricPoints.bucket, hourBucket(q.since)), q.org === undefined ? undefined : eq(metricPoints.orgId, q.org));
  if (!q.by) {
    const rows = await d
      .select({ bucket: metricPoints.bucket, value: sql<number>`SUM(${metricPoints.value})` })
      .from(metricPoints)
      .where(where)
      .groupBy(metricPoints.bucket);
    return rows.map((r) => ({ bucket: r.bucket, key: '', value: Number(r.value) }));
  }
  const rows = await d
    .select({ bucket: metricPoints.bucket, labels: metricPoints.labels, value: sql<number>`SUM(${metricPoints.value})` })
    .from(metricPoints)
    .where(where)
    .groupBy(metricPoints.bucket, metricPoints.labels);
  return rows.map((r) => ({ bucket: r.bucket, key: parseLabelKey(r.labels)[q.by!] ?? '', value: Number(r.value) }));
}

/** Totals per metric, org and label set over the retained window (the Prometheus endpoint). */
export async function localTotals(d: Db) {
  return d
    .select({ name: metricPoints.name, org: metricPoints.orgId, labels: metricPoints.labels, value: sql<number>`SUM(${metricPoints.value})` })
    .from(metricPoints)
    .groupBy(metricPoints.name, metricPoints.orgId, metricPoints.labels);
}

/** Retention: drops the hours older than the cutoff (the 5-minute cron keeps this to a few rows). */
export async function pruneBefore(d: Db, cutoffMs: number): Promise<number> {
  return changes(await d.delete(metricPoints).where(lt(metricPoints.bucket, hourBucket(cutoffMs))).run());
}
