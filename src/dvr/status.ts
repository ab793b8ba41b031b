/**
 * The SubscriptionStatus object (contract §3.2, §6.6). A single one is presented here (`present`);
 * a list is a single D1 statement whatever its length, whose JSON SQLite writes (queries.ts
 * `listStatusJsonQuery`, held to `present` byte for byte by test/dvr/list-json.test.ts):
 * subscriptions joined with the sources' runtime mirror (written by each SourceMonitor); the config
 * (for `canonical_url`) is read by the same statement. Lists carry `logs: []`; the log tail comes from
 * the single GET and `/logs` (the monitor), so a 5-second dashboard poll never ships 200 lines per row.
 *
 *   const built = listTemplates();
 *   const parts = await listStatusJsonQuery(d, { userId: 7 }, built.templates);
 *   const json = listBody(parts, built);                              // the list's JSON text
 *   const one = await statusWithLogs(env, row);                       // + the monitor's log tail
 */
import { z } from '@hono/zod-openapi';
import { ZERO_TIME, type ListParts, type ListRow, type StatusRow } from './queries';
import { monitorName, type SourceRef } from './runtime';
import { canonicalUrl, mergeStored, type DvrConfig } from './settings';

export { ZERO_TIME };

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

/** The JSON object `{driver: URL template}` SQLite builds a list's `canonical_url` from
 * (queries.ts `listStatusJsonQuery`): the drivers `canonicalUrl` finds a template for. */
export function canonicalTemplates(cfg: Pick<DvrConfig, 'driver_urls'>): string {
  const urls = cfg.driver_urls ?? {};
  return JSON.stringify(Object.fromEntries(Object.entries(urls).filter(([, t]) => typeof t === 'string' && t !== '')));
}

/**
 * The stored config a list statement is built against (a per-isolate cache of a parsed config,
 * never of an authorization fact): the list's batch reads the stored config too, and a list built
 * against another one is mended (`listBody`), so an answer always follows the config of its own
 * transaction.
 */
let assumed: { data: string | undefined; templates: string } | undefined;

/** The templates to build a list statement with, and the config they come from (for `listBody`);
 * before any list, the defaults (no config stored). */
export function listTemplates(): { data: string | undefined; templates: string } {
  assumed ??= { data: undefined, templates: canonicalTemplates(mergeStored(undefined)) };
  return assumed;
}

/**
 * A list's JSON from `listStatusJsonQuery`'s parts (each carries the stored config). When the
 * stored config is not the one the statement assumed (it changed since this isolate last looked),
 * the canonical URLs are recomputed here (the last field: deleting and setting it keeps the order)
 * and later lists assume the new config. An empty list has no part, so no config: it is `[]`
 * under any config, and the assumption stays as it was.
 */
export function listBody(parts: ListParts, built: { data: string | undefined }): string {
  if (parts.length === 0) return '[]';
  const body = `[${parts.map((p) => p.part).join(',')}]`;
  const data = parts[0]!.config ?? undefined;
  if (data === built.data) return body;
  const cfg = mergeStored(data);
  assumed = { data, templates: canonicalTemplates(cfg) };
  const list = JSON.parse(body) as SubscriptionStatus[];
  for (const s of list) {
    delete s.canonical_url;
    const url = canonicalUrl(cfg, s.driver, s.username);
    if (url) s.canonical_url = url;
  }
  return JSON.stringify(list);
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
