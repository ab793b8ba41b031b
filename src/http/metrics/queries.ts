/**
 * The local metric store's write: `metric_points` holds hourly sums (`METRICS_STORE=d1`). Reading
 * and pruning the store is the metrics area's (src/metrics/queries.ts); writing sits here, below
 * every area, because every layer records metrics.
 *
 *   await addPoint(db(env), { name: 'play.sessions', labels: { outcome: 'allocated' }, org: 7, value: 1 });
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { metricPoints } from '../../db/schema';
import { labelKey, type MetricLabels, type MetricName } from './catalog';

const HOUR_MS = 3_600_000;

/** The start of the hour holding `ms`, as the store's `bucket` (ISO). */
export function hourBucket(ms: number): string {
  return new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();
}

export async function addPoint<N extends MetricName>(d: Db, p: { name: N; labels: MetricLabels<N>; org: number; value: number; at?: number }) {
  await d
    .insert(metricPoints)
    .values({ bucket: hourBucket(p.at ?? Date.now()), name: p.name, orgId: p.org, labels: labelKey(p.name, p.labels), value: p.value, count: 1 })
    .onConflictDoUpdate({
      target: [metricPoints.bucket, metricPoints.name, metricPoints.orgId, metricPoints.labels],
      set: { value: sql`${metricPoints.value} + excluded.value`, count: sql`${metricPoints.count} + 1` },
    });
}
