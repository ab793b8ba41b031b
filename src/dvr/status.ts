/**
 * The SubscriptionStatus object (contract §3.2, §6.6) and the one-statement queries behind it.
 * A list is a single D1 statement whatever its length: subscriptions joined with the sources'
 * runtime mirror (written by each SourceMonitor); the config (for `canonical_url`) is read once in
 * the same batch. Lists carry `logs: []`; the log tail comes from the single GET and
 * `/logs` (the monitor), so a 5-second dashboard poll never ships 200 lines per row.
 *
 *   const [rows, cfg] = await d.batch([listStatusRowsQuery(d, { userId: 7 }), storedConfigQuery(d)]);
 *   const list = presentList(rows, cfg);
 *   const one = await statusWithLogs(env, row);                       // + the monitor's log tail
 */
import { z } from '@hono/zod-openapi';
import type { ListRow, StatusRow } from './queries';
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

/** A list's rows as the dashboard shows them, with the stored config (`storedConfigQuery`'s rows). */
export function presentList(rows: ListRow[], configRows: ReadonlyArray<{ data: string }>): SubscriptionStatus[] {
  if (rows.length === 0) return [];
  const cfg = mergeStored(configRows[0]?.data);
  return rows.map((r) => presentInList(r, cfg));
}

/** One row that cannot be presented (a legacy driver name, a config the code no longer reads)
 * loses its derived fields, never the whole list: every admin's dashboard polls this list. */
function presentInList(r: ListRow, cfg: Pick<DvrConfig, 'driver_urls'>): SubscriptionStatus {
  try {
    return present(r, cfg, []);
  } catch (e) {
    log.warn('subscription row presented without derived fields', { sub_id: r.subId, error: String(e) });
    return present(r, { driver_urls: null }, []);
  }
}

/** A full status (with the log tail from the source's monitor). */
export async function statusWithLogs(env: Env, row: StatusRow): Promise<SubscriptionStatus> {
  const logs = await env.SOURCE_MONITOR.getByName(monitorName(row)).logs();
  return present(row, mergeStored(row.configData), logs);
}

export function refOf(row: Pick<StatusRow, 'sourceId' | 'driver' | 'username'>): SourceRef {
  return { sourceId: row.sourceId, driver: row.driver, username: row.username };
}

/** The live status a dashboard shows, from posture and the runtime mirror (defined only here). */
function displayStatus(posture: string, workerState: string, recordingState: string | null, recordingSessionActive: boolean): SubscriptionStatus['status'] {
  if (posture !== 'active') return 'inactive';
  if (workerState === 'errored') return 'error';
  if (workerState === 'running') return recordingState === 'recording' || recordingSessionActive ? 'recording' : 'waiting';
  return 'starting';
}

const WORKER_STATES = new Set(['idle', 'starting', 'running', 'errored']);
const RECORDING_STATES = new Set(['recording', 'sleeping', 'idle']);

export function present(r: ListRow, cfg: Pick<DvrConfig, 'driver_urls'>, logs: string[]): SubscriptionStatus {
  const workerState = (WORKER_STATES.has(r.workerState) ? r.workerState : 'idle') as SubscriptionStatus['worker_state'];
  const recordingSessionActive = r.recordingSessionActive;
  const out: SubscriptionStatus = {
    driver: r.driver,
    username: r.username,
    source_id: r.sourceId,
    sub_id: r.subId,
    user_id: r.userId,
    posture: r.posture,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    status: displayStatus(r.posture, workerState, r.recordingState, recordingSessionActive),
    worker_state: workerState,
    logs,
    last_heartbeat: r.lastHeartbeat ?? ZERO_TIME,
    session_active: recordingSessionActive,
  };
  if (r.pid) out.pid = r.pid;
  if (r.errorMessage) out.error_message = r.errorMessage;
  if (r.recordingState && RECORDING_STATES.has(r.recordingState)) out.recording_state = r.recordingState as SubscriptionStatus['recording_state'];
  if (r.recordingSessionDuration) out.session_duration = r.recordingSessionDuration;
  if (r.lastRecordingAt) out.last_recording_at = r.lastRecordingAt;
  if (r.recordingSessionStartedAt) out.session_started_at = r.recordingSessionStartedAt;
  const url = canonicalUrl(cfg, r.driver, r.username);
  if (url) out.canonical_url = url;
  return out;
}
