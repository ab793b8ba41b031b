/**
 * The notifications area's housekeeping: a delivery whose log row was written but whose Queue
 * message never left (the isolate ended between the two, or the send failed without reaching
 * `enqueueDeliveries`' own error handling) would stay `pending` for ever in the owner's log. Every
 * run marks such rows `failed` once they are older than `UNQUEUED_AFTER_MINUTES`. Registered in
 * src/scheduled.ts.
 *
 *   jobs.frequent.push(failUnqueuedDeliveriesJob);
 *
 * The event body travels only in the Queue message (the log row does not keep it), so the sweep can
 * make the loss visible but cannot send it again.
 */
import { db } from '../db/client';
import { createLogger } from '../http/log';
import { world } from '../world';
import { failUnattemptedDeliveries } from './queries';

/** A message not attempted this long after its row was written is taken as never queued. */
export const UNQUEUED_AFTER_MINUTES = 15;
/** How far back each run looks: the cron runs every 5 minutes, so a row is seen about 12 times. */
const SWEEP_WINDOW_MINUTES = 60;

export async function failUnqueuedDeliveriesJob(env: Pick<Env, 'DB'>, now = world.now()): Promise<number> {
  const to = new Date(now - UNQUEUED_AFTER_MINUTES * 60_000).toISOString();
  const from = new Date(now - (UNQUEUED_AFTER_MINUTES + SWEEP_WINDOW_MINUTES) * 60_000).toISOString();
  const res = await failUnattemptedDeliveries(db(env), from, to, `not queued: no delivery attempt within ${UNQUEUED_AFTER_MINUTES} min`);
  const n = res.meta.changes ?? 0;
  if (n > 0) createLogger({ job: 'webhooks' }).warn('webhook deliveries never queued', { count: n });
  return n;
}
