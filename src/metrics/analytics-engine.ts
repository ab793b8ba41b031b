/**
 * Reading Workers Analytics Engine through the account's SQL API (the only way to read it). Needs
 * `CF_ACCOUNT_ID` and the `METRICS_API_TOKEN` secret (Account Analytics: Read); `METRICS_SQL_API`
 * is the API base, so staging and tests can point it at a double. Answers the same rows as the
 * local store.
 */
import { BadGateway, ServiceUnavailable } from '../http/errors';
import { world } from '../world';
import { METRICS, type MetricName } from '../http/metrics/catalog';
import type { SeriesRow } from './queries';

type AeEnv = Pick<Env, 'CF_ACCOUNT_ID' | 'METRICS_SQL_API' | 'METRICS_DATASET'> & { METRICS_API_TOKEN?: string };

const quote = (s: string) => `'${s.replaceAll("\\", '\\\\').replaceAll("'", "\\'")}'`;

async function sqlQuery(env: AeEnv, query: string): Promise<Array<Record<string, unknown>>> {
  if (!env.CF_ACCOUNT_ID || !env.METRICS_API_TOKEN) throw new ServiceUnavailable('metrics are not readable: set CF_ACCOUNT_ID and the METRICS_API_TOKEN secret', 'metrics_unconfigured');
  const url = `${env.METRICS_SQL_API.replace(/\/+$/, '')}/accounts/${encodeURIComponent(env.CF_ACCOUNT_ID)}/analytics_engine/sql`;
  let res: Response;
  try {
    res = await world.fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${env.METRICS_API_TOKEN}` }, body: query });
  } catch {
    throw new BadGateway('the analytics SQL API is unreachable', 'metrics_upstream');
  }
  if (!res.ok) throw new BadGateway(`the analytics SQL API answered ${res.status}`, 'metrics_upstream');
  const body = (await res.json().catch(() => null)) as { data?: unknown } | null;
  if (!body || !Array.isArray(body.data)) throw new BadGateway('the analytics SQL API answered something unexpected', 'metrics_upstream');
  return body.data as Array<Record<string, unknown>>;
}

/** blob1 = metric name, blob2 = org id, blob3… = the catalog's labels in order; double1 = value. */
export async function aeSeries(env: AeEnv, q: { name: MetricName; since: number; org?: number; by?: string }): Promise<SeriesRow[]> {
  const labelIndex = q.by ? (METRICS[q.name].labels as readonly string[]).indexOf(q.by) : -1;
  const key = labelIndex >= 0 ? `blob${labelIndex + 3}` : "''";
  const hours = Math.max(1, Math.ceil((Date.now() - q.since) / 3_600_000));
  const query = `SELECT toStartOfInterval(timestamp, INTERVAL '1' HOUR) AS bucket, ${key} AS key, SUM(_sample_interval * double1) AS value
FROM ${env.METRICS_DATASET}
WHERE index1 = ${quote(q.name)} AND timestamp > NOW() - INTERVAL '${hours}' HOUR${q.org === undefined ? '' : ` AND blob2 = ${quote(String(q.org))}`}
GROUP BY bucket, key ORDER BY bucket FORMAT JSON`;
  const rows = await sqlQuery(env, query);
  return rows.map((r) => ({ bucket: new Date(`${String(r.bucket).replace(' ', 'T')}Z`).toISOString(), key: String(r.key ?? ''), value: Number(r.value) || 0 }));
}

/** Totals per metric, org and labels over the retention window, for the Prometheus endpoint. */
export async function aeTotals(env: AeEnv, days: number) {
  const rows = await sqlQuery(
    env,
    `SELECT blob1 AS name, blob2 AS org, blob3, blob4, blob5, SUM(_sample_interval * double1) AS value FROM ${env.METRICS_DATASET}
WHERE timestamp > NOW() - INTERVAL '${days}' DAY GROUP BY name, org, blob3, blob4, blob5 FORMAT JSON`,
  );
  return rows.map((r) => ({ name: String(r.name), org: Number(r.org) || 0, values: [r.blob3, r.blob4, r.blob5].map((v) => String(v ?? '')), value: Number(r.value) || 0 }));
}
