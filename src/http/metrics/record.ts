/**
 * Recording a metric (every layer does; reading them is src/metrics/, the area that serves
 * `/metrics`): Workers Analytics Engine in production (`METRICS` dataset binding, no await,
 * nothing on the request's critical path), or hourly sums in D1 where Analytics Engine drops
 * writes (local development and tests: `METRICS_STORE=d1`). A metric never fails a request.
 *
 *   recordMetric(c.env, c.executionCtx, 'auth.login_failures', { product: 'console' });
 *   recordMetric(env, ctx, 'dvr.stored_bytes', { driver }, { value: bytes });
 */
import { db } from '../../db/client';
import { createLogger } from '../log';
import { labelValues, type MetricLabels, type MetricName } from './catalog';
import { addPoint } from './queries';

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
  const write = addPoint(db(env), { name, labels, org, value }).catch((e: unknown) => log.warn('metric dropped', { name, error: String(e) }));
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
