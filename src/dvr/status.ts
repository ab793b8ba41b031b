/**
 * The SubscriptionStatus object (contract §3.2, §6.6) and the one-statement queries behind it.
 * A list is a single D1 statement whatever its length: subscriptions joined with the sources'
 * runtime mirror (written by each SourceMonitor), with the config row folded into the first row
 * only (for `canonical_url`). Lists carry `logs: []`; the log tail comes from the single GET and
 * `/logs` (the monitor), so a 5-second dashboard poll never ships 200 lines per row.
 *
 *   const list = await listStatuses(env, { userId: 7 });             // one D1 statement
 *   const one = await statusWithLogs(env, row);                       // + the monitor's log tail
 */
import { z } from '@hono/zod-openapi';
import { monitorName, type SourceRef } from './runtime';
import { createLogger } from '../http/log';
import { canonicalUrl, mergeStored, type DvrConfig } from './settings';

const log = createLogger({ component: 'dvr-status' });

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export const SubscriptionStatusSchema = z
  .object({
    driver: z.string(),
    username: z.string(),
    source_id: z.number().int(),
    sub_id: z.number().int(),
    user_id: z.number().int(),
    posture: z.enum(['active', 'paused', 'archived']),
    created_at: z.string(),
    updated_at: z.string(),
    status: z.enum(['inactive', 'error', 'starting', 'waiting', 'recording']),
    worker_state: z.enum(['idle', 'starting', 'running', 'errored']),
    pid: z.number().int().optional(),
    error_message: z.string().optional(),
    logs: z.array(z.string()),
    recording_state: z.enum(['recording', 'sleeping', 'idle']).optional(),
    session_duration: z.string().optional(),
    last_heartbeat: z.string(),
    last_recording_at: z.string().optional(),
    session_active: z.boolean(),
    session_started_at: z.string().optional(),
    canonical_url: z.string().optional(),
  })
  .openapi('SubscriptionStatus');

export type SubscriptionStatus = z.infer<typeof SubscriptionStatusSchema>;

/** One joined row: subscription + source + runtime mirror. */
export interface StatusRow {
  sub_id: number;
  user_id: number;
  posture: 'active' | 'paused' | 'archived';
  created_at: string;
  updated_at: string;
  source_id: number;
  driver: string;
  username: string;
  worker_state: string;
  pid: number;
  recording_state: string | null;
  session_active: number;
  session_started_at: string | null;
  session_duration: string | null;
  last_heartbeat: string | null;
  last_recording_at: string | null;
  error_message: string | null;
  config_data?: string | null;
}

const COLUMNS = `sub.id AS sub_id, sub.user_id, sub.posture, sub.created_at, sub.updated_at,
  s.id AS source_id, s.driver, s.username, s.worker_state, s.pid, s.recording_state, s.session_active,
  s.session_started_at, s.session_duration, s.last_heartbeat, s.last_recording_at, s.error_message`;

/** One statement: every subscription (optionally of one user) in `sub_id` order, plus the config
 * JSON on the first row only. */
export async function listStatuses(env: Pick<Env, 'DB'>, filter: { userId?: number }): Promise<SubscriptionStatus[]> {
  const where = filter.userId === undefined ? '' : 'WHERE sub.user_id = ?1';
  const stmt = env.DB.prepare(
    `SELECT ${COLUMNS},
            CASE WHEN row_number() OVER (ORDER BY sub.id) = 1 THEN (SELECT data FROM config WHERE id = 1) END AS config_data
       FROM subscriptions sub JOIN sources s ON s.id = sub.source_id
       ${where}
      ORDER BY sub.id`,
  );
  const { results } = await (filter.userId === undefined ? stmt : stmt.bind(filter.userId)).all<StatusRow>();
  if (results.length === 0) return [];
  const cfg = mergeStored(results[0]!.config_data);
  return results.map((r) => presentInList(r, cfg));
}

/** One row that cannot be presented (a legacy driver name, a config the code no longer reads)
 * loses its derived fields, never the whole list: every admin's dashboard polls this list. */
function presentInList(r: StatusRow, cfg: Pick<DvrConfig, 'driver_urls'>): SubscriptionStatus {
  try {
    return present(r, cfg, []);
  } catch (e) {
    log.warn('subscription row presented without derived fields', { sub_id: r.sub_id, error: String(e) });
    return present(r, { driver_urls: null }, []);
  }
}

/** The caller's own subscription to `(driver, username)`, with the config for `canonical_url`. */
export async function findOwnRow(env: Pick<Env, 'DB'>, userId: number, driver: string, username: string) {
  return env.DB.prepare(
    `SELECT ${COLUMNS}, (SELECT data FROM config WHERE id = 1) AS config_data
       FROM sources s LEFT JOIN subscriptions sub ON sub.source_id = s.id AND sub.user_id = ?1
      WHERE s.driver = ?2 AND s.username = ?3`,
  )
    .bind(userId, driver, username)
    .first<StatusRow & { sub_id: number | null }>();
}

export async function findRowBySubId(env: Pick<Env, 'DB'>, subId: number) {
  return env.DB.prepare(
    `SELECT ${COLUMNS}, (SELECT data FROM config WHERE id = 1) AS config_data
       FROM subscriptions sub JOIN sources s ON s.id = sub.source_id WHERE sub.id = ?1`,
  )
    .bind(subId)
    .first<StatusRow>();
}

/** A full status (with the log tail from the source's monitor). */
export async function statusWithLogs(env: Env, row: StatusRow): Promise<SubscriptionStatus> {
  const logs = await env.SOURCE_MONITOR.getByName(monitorName(row)).logs();
  return present(row, mergeStored(row.config_data), logs);
}

export function refOf(row: Pick<StatusRow, 'source_id' | 'driver' | 'username'>): SourceRef {
  return { sourceId: row.source_id, driver: row.driver, username: row.username };
}

function displayStatus(posture: string, workerState: string, recordingState: string | null, sessionActive: boolean): SubscriptionStatus['status'] {
  if (posture !== 'active') return 'inactive';
  if (workerState === 'errored') return 'error';
  if (workerState === 'running') return recordingState === 'recording' || sessionActive ? 'recording' : 'waiting';
  return 'starting';
}

const WORKER_STATES = new Set(['idle', 'starting', 'running', 'errored']);
const RECORDING_STATES = new Set(['recording', 'sleeping', 'idle']);

export function present(r: StatusRow, cfg: Pick<DvrConfig, 'driver_urls'>, logs: string[]): SubscriptionStatus {
  const workerState = (WORKER_STATES.has(r.worker_state) ? r.worker_state : 'idle') as SubscriptionStatus['worker_state'];
  const sessionActive = r.session_active === 1;
  const out: SubscriptionStatus = {
    driver: r.driver,
    username: r.username,
    source_id: r.source_id,
    sub_id: r.sub_id,
    user_id: r.user_id,
    posture: r.posture,
    created_at: r.created_at,
    updated_at: r.updated_at,
    status: displayStatus(r.posture, workerState, r.recording_state, sessionActive),
    worker_state: workerState,
    logs,
    last_heartbeat: r.last_heartbeat ?? ZERO_TIME,
    session_active: sessionActive,
  };
  if (r.pid) out.pid = r.pid;
  if (r.error_message) out.error_message = r.error_message;
  if (r.recording_state && RECORDING_STATES.has(r.recording_state)) out.recording_state = r.recording_state as SubscriptionStatus['recording_state'];
  if (r.session_duration) out.session_duration = r.session_duration;
  if (r.last_recording_at) out.last_recording_at = r.last_recording_at;
  if (r.session_started_at) out.session_started_at = r.session_started_at;
  const url = canonicalUrl(cfg, r.driver, r.username);
  if (url) out.canonical_url = url;
  return out;
}
