/**
 * The entry points the overseer link calls for recorder output (issue 16). They never throw: a
 * catalog failure is logged and must not stall the link's ordered event queue.
 *
 *   if (frame.type === 'output') await recordingsHook(this.env, ref, frame.data);
 *   await recordingsHookBatch(this.env, ref, outputs.map((f) => f.data));  // a burst: one D1 batch
 */
import { db, type Db } from '../../db/client';
import { createLogger } from '../../http/log';
import { recordMetric } from '../../http/metrics/record';
import type { SourceRef } from '../runtime';
import { onRecorderOutput, recorderOutputStatements } from './events';

export async function recordingsHook(env: Env, ref: SourceRef, data: unknown): Promise<void> {
  try {
    const what = await onRecorderOutput(env, ref, data);
    if (what === 'recording-session') noteRecordingStart(env, ref, data);
  } catch (e) {
    createLogger({ source: `${ref.driver}/${ref.username}` }).error('recordings catalog update failed', { error: String(e) });
  }
}

/** The recorder lines of one source, in order, applied to the catalog in one D1 batch. */
export async function recordingsHookBatch(env: Env, ref: SourceRef, lines: unknown[], client?: Db): Promise<void> {
  if (lines.length === 0) return;
  let each: Array<{ data: unknown; what: string | null }>;
  try {
    // A caller that keeps a client passes it: making one walks the whole schema.
    const d = client ?? db(env);
    const built = lines.map((data) => ({ data, ...recorderOutputStatements(d, ref, data) }));
    const statements = built.flatMap((e) => e.statements);
    if (statements.length > 0) await d.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
    each = built;
  } catch (e) {
    // A batch is all or nothing: one line D1 refuses must not cost the others. Line by line, as
    // before batching (every catalog write is idempotent, so nothing lands twice).
    createLogger({ source: `${ref.driver}/${ref.username}` }).warn('recordings catalog batch failed, applying line by line', { error: String(e), lines: lines.length });
    for (const data of lines) await recordingsHook(env, ref, data);
    return;
  }
  for (const e of each) if (e.what === 'recording-session') noteRecordingStart(env, ref, e.data);
}

function noteRecordingStart(env: Env, ref: SourceRef, data: unknown): void {
  if (/"event"\s*:\s*"RECORDING START"/.test(typeof data === 'string' ? data : '')) recordMetric(env, undefined, 'dvr.recordings', { event: 'started', driver: ref.driver });
}
