/**
 * The one entry point the overseer link calls for recorder output (issue 16). It never throws: a
 * catalog failure is logged and must not stall the link's ordered event queue.
 *
 *   if (frame.type === 'output') await recordingsHook(this.env, ref, frame.data);
 */
import { createLogger } from '../../http/log';
import type { SourceRef } from '../runtime';
import { onRecorderOutput } from './events';

export async function recordingsHook(env: Env, ref: SourceRef, data: unknown): Promise<void> {
  try {
    await onRecorderOutput(env, ref, data);
  } catch (e) {
    createLogger({ source: `${ref.driver}/${ref.username}` }).error('recordings catalog update failed', { error: String(e) });
  }
}
