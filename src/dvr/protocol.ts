/**
 * The overseer WebSocket protocol as the control plane speaks it (contract §5): message shapes,
 * their zod schemas (every inbound frame is validated with `parseServerFrame` before the link acts
 * on it), TaskInfo trimming for `GET /api/workers`, and the ws→http URL rewrite that Workers'
 * `fetch` needs for an outbound WebSocket.
 *
 *   const res = await fetch(dialUrl('ws://127.0.0.1:8081/ws'), { headers: { Upgrade: 'websocket' } });
 */
import { z } from '@hono/zod-openapi';

/** The largest overseer frame the link accepts: a `tasks` list of a couple of thousand tasks fits;
 * recorder output lines are a few hundred bytes. */
export const MAX_FRAME_BYTES = 1024 * 1024;

const ID_MAX = 128;
const TASK_ID_MAX = 256;
const PID_MAX = 2 ** 31;
const TS_MAX = 64;
const STREAM_MAX = 16;
const Id = z.string().max(ID_MAX);
const TaskId = z.string().max(TASK_ID_MAX);
const Pid = z.number().int().min(0).max(PID_MAX);
const Ts = z.string().max(TS_MAX);
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const TaskInfoSchema = z.object({
  task_id: TaskId,
  action: z.string().max(128),
  params: z.record(z.string().max(128), z.string().max(65_536)).optional(),
  state: z.string().max(32),
  worker_state: z.string().max(32).optional(),
  current_pid: Pid.optional(),
  restart_count: Count.optional(),
  created_at: Ts.optional(),
  last_started_at: Ts.optional(),
  last_exited_at: Ts.optional(),
  last_exit_code: z.number().int().nullable().optional(),
  error_message: z.string().max(4096).optional(),
  queued_at: Ts.optional(),
});
export type TaskInfo = z.infer<typeof TaskInfoSchema>;

export const PoolSchema = z.object({ limit: Count, running: Count, queue_depth: Count });
export type PoolInfo = z.infer<typeof PoolSchema>;

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
const MetricsSchema = z.object(Object.fromEntries(METRIC_KEYS.map((k) => [k, Count.default(0)])) as Record<(typeof METRIC_KEYS)[number], z.ZodDefault<typeof Count>>);

/**
 * Every frame the overseer may send, validated at the link's door (contract §5.3; `queued`,
 * `dequeued` and `pool_updated` as sticky-overseer 2.4.1 sends them with a pool limit). Unknown
 * keys are dropped; a known type with a field of the wrong type is a malformed frame.
 */
export const ServerFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), id: Id.optional(), task_id: TaskId, pid: Pid.optional(), restart_of: Pid.optional(), ts: Ts.optional() }),
  z.object({
    type: z.literal('output'),
    id: Id.optional(),
    task_id: TaskId,
    pid: Pid.optional(),
    stream: z.string().max(STREAM_MAX).optional(),
    data: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
    ts: Ts.optional(),
  }),
  z.object({ type: z.literal('exited'), id: Id.optional(), task_id: TaskId, pid: Pid.optional(), exit_code: z.number().int().optional(), intentional: z.boolean().optional(), ts: Ts.optional() }),
  z.object({ type: z.literal('restarting'), id: Id.optional(), task_id: TaskId, pid: Pid.optional(), attempt: Count.optional() }),
  z.object({ type: z.literal('errored'), id: Id.optional(), task_id: TaskId, pid: Pid.optional(), exit_count: Count.optional(), ts: Ts.optional() }),
  z.object({ type: z.literal('queued'), id: Id.optional(), task_id: TaskId, position: Count.optional(), ts: Ts.optional() }),
  z.object({ type: z.literal('dequeued'), id: Id.optional(), task_id: TaskId, reason: z.string().max(64).optional(), ts: Ts.optional() }),
  z.object({ type: z.literal('pool_updated'), id: Id.optional(), pool: PoolSchema.optional(), ts: Ts.optional() }),
  z.object({ type: z.literal('tasks'), id: Id, tasks: z.array(TaskInfoSchema).max(20_000) }),
  z.object({ type: z.literal('pool_info'), id: Id, pool: PoolSchema }),
  z.object({ type: z.literal('metrics'), id: Id, global: MetricsSchema }),
  z.object({ type: z.literal('error'), id: Id.optional(), message: z.string().max(4096).optional(), existing_task_id: TaskId.optional() }),
  z.object({ type: z.literal('subscribed'), id: Id.optional(), task_id: TaskId.optional() }),
  z.object({ type: z.literal('unsubscribed'), id: Id.optional(), task_id: TaskId.optional() }),
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

const FRAME_TYPES = new Set(ServerFrameSchema.options.map((o) => o.shape.type.value));

/** What arrived on the socket: a valid frame, a frame of a type we do not speak (ignored), or a
 * malformed one (with the request id it claims, so a waiting request can fail at once). */
export type Inbound = { ok: true; frame: ServerFrame } | { ok: false; ignored: true } | { ok: false; ignored: false; id?: string; problem: string };

export function parseServerFrame(raw: string): Inbound {
  if (raw.length > MAX_FRAME_BYTES) return { ok: false, ignored: false, problem: `frame of ${raw.length} bytes exceeds ${MAX_FRAME_BYTES}` };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, ignored: false, problem: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, ignored: false, problem: 'not an object' };
  const { type, id } = value as { type?: unknown; id?: unknown };
  const claimedId = typeof id === 'string' && id ? id : undefined;
  if (typeof type !== 'string') return { ok: false, ignored: false, id: claimedId, problem: 'no type' };
  if (!FRAME_TYPES.has(type as ServerFrame['type'])) return { ok: false, ignored: true };
  if (type === 'output') {
    const frame = outputFrame(value as Record<string, unknown>);
    if (frame) return { ok: true, frame };
  }
  const parsed = ServerFrameSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, ignored: false, id: claimedId, problem: `${type}: ${issue ? `${issue.path.join('.') || '(frame)'} ${issue.message}` : 'invalid'}` };
  }
  return { ok: true, frame: parsed.data };
}

const optionalString = (v: unknown, max: number): boolean => v === undefined || (typeof v === 'string' && v.length <= max);

/**
 * The hot path: an `output` push (every recorder line, thousands a second in a burst) checked by
 * hand against exactly the rules of its zod schema, unknown keys dropped the same way. zod's generic
 * walk cost ~7 % of a heartbeat burst's CPU (issue 17 target 4). Anything this does not accept (an
 * object `data`, a field of the wrong type or size) returns null and goes through zod, which then
 * accepts or words the problem as before — so the two can never disagree on what is valid.
 */
function outputFrame(v: Record<string, unknown>): ServerFrameOf<'output'> | null {
  const { id, task_id, pid, stream, data, ts } = v;
  if (typeof task_id !== 'string' || task_id.length > TASK_ID_MAX) return null;
  if (!optionalString(id, ID_MAX) || !optionalString(stream, STREAM_MAX) || !optionalString(ts, TS_MAX) || !optionalString(data, Infinity)) return null;
  if (pid !== undefined && !(typeof pid === 'number' && Number.isInteger(pid) && pid >= 0 && pid <= PID_MAX)) return null;
  const frame: ServerFrameOf<'output'> = { type: 'output', task_id };
  if (id !== undefined) frame.id = id as string;
  if (pid !== undefined) frame.pid = pid;
  if (stream !== undefined) frame.stream = stream as string;
  if (data !== undefined) frame.data = data as string;
  if (ts !== undefined) frame.ts = ts as string;
  return frame;
}

/**
 * Why the link must not dial `OVERSEER_URL` as configured, or null. Every `start` carries the
 * sites' login cookies, so the link speaks only `wss://` with a shared secret (`OVERSEER_TOKEN`,
 * sent as `Authorization: Bearer …` on the upgrade); plain `ws://` only where
 * `ALLOW_INSECURE_OVERSEER` is "true" (the development stack and the tests).
 */
export function overseerConfigProblem(env: Pick<Env, 'OVERSEER_URL' | 'ALLOW_INSECURE_OVERSEER'> & { OVERSEER_TOKEN?: string }): string | null {
  let url: URL;
  try {
    url = new URL(env.OVERSEER_URL);
  } catch {
    return 'OVERSEER_URL is not a URL';
  }
  const insecureAllowed = env.ALLOW_INSECURE_OVERSEER === 'true';
  if (url.protocol !== 'wss:' && !(insecureAllowed && url.protocol === 'ws:')) {
    return insecureAllowed ? 'OVERSEER_URL must be ws:// or wss://' : 'OVERSEER_URL must be wss:// (ws:// only with ALLOW_INSECURE_OVERSEER=true, for local development)';
  }
  if ((env.OVERSEER_TOKEN ?? '').length < 32) return 'OVERSEER_TOKEN must be set (at least 32 characters)';
  return null;
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
