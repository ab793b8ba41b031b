/**
 * The notifications area's housekeeping: a delivery whose log row was written but whose Queue
 * message never left (the isolate ended between the two, or the queue refused the send) would
 * never reach its receiver. Each row keeps its event (`event_json`), so every run first sends such a
 * delivery again, ONCE (`requeued_at`), with its original id and body (receivers drop duplicates by
 * `webhook-id`); a row still not attempted `UNQUEUED_AFTER_MINUTES` after that re-send, or one
 * without a stored event (older than migration 0004), is marked `failed`, so the owner's log does
 * not show it `pending` for ever. Registered in src/scheduled.ts.
 *
 *   jobs.frequent.push(failUnqueuedDeliveriesJob);
 */
import { db } from '../db/client';
import { createLogger } from '../http/log';
import { world } from '../world';
import { sendDeliveries, storedEvent, type DeliveryMessage } from './publish';
import { failUnattemptedDeliveries, requeueUnattemptedDeliveries } from './queries';

/** A message not attempted this long after its row was written (or re-sent) is taken as never queued. */
export const UNQUEUED_AFTER_MINUTES = 15;
/** How far back each run looks: the cron runs every 5 minutes, so a row is seen about 12 times. */
const SWEEP_WINDOW_MINUTES = 60;
/** The fail pass looks this much further back, so a row re-sent late in the window is still seen. */
const RESENT_MARGIN_MINUTES = UNQUEUED_AFTER_MINUTES + 10;

const minutesBefore = (now: number, m: number) => new Date(now - m * 60_000).toISOString();

/** Re-sends what can be re-sent, then fails what cannot; resolves to the number failed. */
export async function failUnqueuedDeliveriesJob(env: Pick<Env, 'DB' | 'WEBHOOK_QUEUE'>, now = world.now()): Promise<number> {
  const d = db(env);
  const log = createLogger({ job: 'webhooks' });
  const to = minutesBefore(now, UNQUEUED_AFTER_MINUTES);
  const from = minutesBefore(now, UNQUEUED_AFTER_MINUTES + SWEEP_WINDOW_MINUTES);
  const res = await failUnattemptedDeliveries(
    d,
    minutesBefore(now, UNQUEUED_AFTER_MINUTES + SWEEP_WINDOW_MINUTES + RESENT_MARGIN_MINUTES),
    to,
    `not queued: no delivery attempt within ${UNQUEUED_AFTER_MINUTES} min`,
  );
  const failed = res.meta.changes ?? 0;
  if (failed > 0) log.warn('webhook deliveries never queued', { count: failed });
  const claimed = await requeueUnattemptedDeliveries(d, from, to, new Date(now).toISOString());
  const messages = claimed.flatMap((r): DeliveryMessage[] => {
    const event = storedEvent(r.eventJson);
    return event ? [{ delivery_id: r.id, endpoint_id: r.endpointId, event }] : [];
  });
  if (messages.length > 0) {
    log.warn('webhook deliveries sent again', { count: messages.length });
    // A refusal marks them failed (not queued) again, and they are not re-sent a second time.
    await sendDeliveries(env, messages).catch((e: unknown) => log.error('webhook re-send not queued', { error: e instanceof Error ? e.message : String(e) }));
  }
  return failed;
}
