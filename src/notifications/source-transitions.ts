/**
 * DVR source events from the SourceMonitor's state, so the monitor needs one call after each
 * commit instead of one per code path:
 *
 *   noteSourceTransitions(this.env, this.ctx, this.ref, this.state);   // in SourceMonitor.commit()
 *
 * `source.errored` when the worker state becomes `errored`, `source.recovered` when it leaves it
 * (reset-error, restart, re-subscribe), `recording.started` when `last_recording_at` moves (a
 * RECORDING START). What was last announced is kept in the object's own synchronous KV storage, in
 * the same commit as its state, so an evicted or restarted monitor does not announce twice.
 */
import type { SourceKey } from './events';
import { world } from '../world';
import { notify } from './publish';

const KEY = 'notifications.seen';
/** A monitor that predates notifications: its last recording is history, not news, after this long. */
const STALE_MS = 5 * 60_000;

interface Seen {
  errored: boolean;
  recordingAt: string | null;
}

export function noteSourceTransitions(
  env: Env,
  ctx: Pick<DurableObjectState, 'waitUntil' | 'storage'>,
  ref: SourceKey | null,
  s: { workerState: string; errorMessage: string | null; lastRecordingAt: string | null },
): void {
  if (!ref) return;
  const kv = ctx.storage.kv;
  const known = kv.get<Seen>(KEY);
  const recent = s.lastRecordingAt !== null && world.now() - Date.parse(s.lastRecordingAt) < STALE_MS;
  const seen: Seen = known ?? { errored: false, recordingAt: recent ? null : s.lastRecordingAt };
  const now: Seen = { errored: s.workerState === 'errored', recordingAt: s.lastRecordingAt };
  if (known && seen.errored === now.errored && seen.recordingAt === now.recordingAt) return;
  kv.put(KEY, now);
  const source = { driver: ref.driver, username: ref.username };
  if (now.errored && !seen.errored) void notify(env, ctx, { type: 'source.errored', source, data: { error: s.errorMessage } });
  if (!now.errored && seen.errored) void notify(env, ctx, { type: 'source.recovered', source });
  if (now.recordingAt !== null && now.recordingAt !== seen.recordingAt) void notify(env, ctx, { type: 'recording.started', source, data: { started_at: now.recordingAt } });
}
