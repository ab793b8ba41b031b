/**
 * The one entry point the overseer link calls for recorder output (issue 16). It never throws: a
 * catalog failure is logged and must not stall the link's ordered event queue.
 *
 *   if (frame.type === 'output') await recordingsHook(this.env, ref, frame.data);
 */
import { createLogger } from '../../http/log';
import { recordMetric } from '../../http/metrics/record';
import type { SourceRef } from '../runtime';
import { onRecorderOutput } from './events';

export async function recordingsHook(env: Env, ref: SourceRef, data: unknown): Promise<void> {
  try {
    const what = await onRecorderOutput(env, ref, data);
    if (what === 'recording-session' && /"event"\s*:\s*"RECORDING START"/.test(typeof data === 'string' ? data : '')) recordMetric(env, undefined, 'dvr.recordings', { event: 'started', driver: ref.driver });
  } catch (e) {
    createLogger({ source: `${ref.driver}/${ref.username}` }).error('recordings catalog update failed', { error: String(e) });
  }
}
