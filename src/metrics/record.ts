/**
 * Recording a metric: Workers Analytics Engine in production (`METRICS` dataset binding, no await,
 * nothing on the request's critical path), or hourly sums in D1 where Analytics Engine drops
 * writes (local development and tests: `METRICS_STORE=d1`). A metric never fails a request.
 *
 *   recordMetric(c.env, c.executionCtx, 'auth.login_failures', { product: 'console' });
 *   recordMetric(env, ctx, 'dvr.stored_bytes', { driver }, { value: bytes });
 */
import { createLogger } from '../http/log';
import { labelValues, type MetricLabels, type MetricName } from './catalog';
import { addPoint, pruneBefore } from './queries';

const log = createLogger({ component: 'metrics' });

export type MetricsEnv = Pick<Env, 'DB' | 'METRICS' | 'METRICS_STORE'>;

export function usesLocalStore(env: Pick<Env, 'METRICS_STORE'>): boolean {
  return env.METRICS_STORE === 'd1';
}

export function recordMetric<N extends MetricName>(
  env: MetricsEnv,
  ctx: Pick<ExecutionContext, 'waitUntil'> | undefined,
  name: N,
  labels: MetricLabels<N>,
  opts: { org?: number | null; value?: number } = {},
): void {
  const value = opts.value ?? 1;
  const org = opts.org ?? 0;
  if (!Number.isFinite(value)) return;
  if (!usesLocalStore(env)) {
    try {
      env.METRICS?.writeDataPoint({ indexes: [name], blobs: [name, String(org), ...labelValues(name, labels)], doubles: [value] });
    } catch (e) {
      log.warn('metric dropped', { name, error: String(e) });
    }
    return;
  }
  const write = addPoint(env, { name, labels, org, value }).catch((e: unknown) => log.warn('metric dropped', { name, error: String(e) }));
  if (ctx) ctx.waitUntil(write);
}

/** The request's ExecutionContext when there is one (tests calling `app.request` have none). */
export function executionContextOf(c: { executionCtx: Pick<ExecutionContext, 'waitUntil'> }): Pick<ExecutionContext, 'waitUntil'> | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/** Housekeeping: the local store keeps `METRICS_RETENTION_DAYS` (Analytics Engine keeps its own). */
export async function pruneMetrics(env: Pick<Env, 'DB' | 'METRICS_STORE' | 'METRICS_RETENTION_DAYS'>, now = Date.now()): Promise<void> {
  if (!usesLocalStore(env)) return;
  const days = Math.max(1, Number(env.METRICS_RETENTION_DAYS) || 31);
  await pruneBefore(env, now - days * 86_400_000);
}
