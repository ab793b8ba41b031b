/**
 * The overseer WebSocket protocol as the control plane speaks it (contract §5): message shapes,
 * TaskInfo trimming for `GET /api/workers`, and the ws→http URL rewrite that Workers' `fetch`
 * needs for an outbound WebSocket.
 *
 *   const res = await fetch(dialUrl('ws://127.0.0.1:8081/ws'), { headers: { Upgrade: 'websocket' } });
 */
export interface TaskInfo {
  task_id: string;
  action: string;
  params?: Record<string, string>;
  state: string;
  worker_state?: string;
  current_pid?: number;
  restart_count?: number;
  created_at?: string;
  last_started_at?: string;
  last_exited_at?: string;
  last_exit_code?: number;
  error_message?: string;
}

export interface PoolInfo {
  limit: number;
  running: number;
  queue_depth: number;
}

export const METRIC_KEYS = [
  'tasks_started',
  'tasks_completed',
  'tasks_errored',
  'tasks_restarted',
  'total_output_lines',
  'enqueued',
  'dequeued',
  'displaced',
  'expired',
] as const;
export type Metrics = Record<(typeof METRIC_KEYS)[number], number>;

/** Any frame from the overseer: `type` plus whatever fields that type carries. */
export interface ServerFrame {
  type: string;
  id?: string;
  [k: string]: unknown;
}

/** Workers dial WebSockets with `fetch` over http(s); `ws://` → `http://`, `wss://` → `https://`. */
export function dialUrl(url: string): string {
  return url.replace(/^ws(s?):\/\//i, 'http$1://');
}

/** The TaskInfo keys `GET /api/workers` returns (contract §3.9), with the omission rules. */
export function presentTask(t: TaskInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    task_id: t.task_id,
    action: t.action,
    state: t.state,
    worker_state: t.worker_state ?? '',
    restart_count: t.restart_count ?? 0,
    created_at: t.created_at ?? '',
  };
  if (t.params && Object.keys(t.params).length > 0) out.params = t.params;
  if (t.current_pid) out.current_pid = t.current_pid;
  if (t.last_started_at) out.last_started_at = t.last_started_at;
  if (t.last_exited_at) out.last_exited_at = t.last_exited_at;
  if (t.last_exit_code !== undefined && t.last_exit_code !== null) out.last_exit_code = t.last_exit_code;
  if (t.error_message) out.error_message = t.error_message;
  return out;
}
