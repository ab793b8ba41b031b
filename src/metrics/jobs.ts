/**
 * The metrics area's housekeeping: the local store keeps `METRICS_RETENTION_DAYS` of hourly sums
 * (Analytics Engine keeps its own). Registered in src/scheduled.ts.
 *
 *   jobs.frequent.push(pruneMetricsJob);
 */
import { db } from '../db/client';
import { usesLocalStore } from '../http/metrics/record';
import { pruneBefore } from './queries';

export async function pruneMetricsJob(env: Pick<Env, 'DB' | 'METRICS_STORE' | 'METRICS_RETENTION_DAYS'>, now = Date.now()): Promise<void> {
  if (!usesLocalStore(env)) return;
  const days = Math.max(1, Number(env.METRICS_RETENTION_DAYS) || 31);
  await pruneBefore(db(env), now - days * 86_400_000);
}
