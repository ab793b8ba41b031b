/**
 * Publishing an event: the one function producers call. It finds the endpoints the event reaches,
 * writes one `pending` delivery log row per endpoint and enqueues one Queue message per endpoint;
 * the consumer (./delivery.ts) does the HTTP.
 *
 *   notify(env, ctx, { type: 'recording.stored', source: { driver, username }, data: { path, bytes, playback_path } });
 *   notify(env, ctx, { type: 'session.started', orgId, data: { session_id, user_id, game_id } });
 *
 * With `ctx` (an ExecutionContext, a DurableObjectState or a Hono context) the work runs in its
 * `waitUntil` and `notify` returns at once; without, the returned
 * promise settles when the messages are queued. It never throws: a producer's own work must not fail
 * because a notification could not be sent (the failure is logged). A `playback_path` in the data
 * becomes `playback_url`, absolute when `WEBHOOKS_PUBLIC_BASE_URL` is set.
 */
import { db } from '../db/client';
import { createLogger } from '../http/log';
import { z } from '../http/openapi';
import { nowIso, randomToken } from '../world';
import { EVENT_TYPES, type Notification, type WebhookEvent } from './events';
import { insertDeliveries, markNotQueued, matchingEndpoints } from './queries';

export const WEBHOOK_QUEUE_NAME = 'edgeplane-webhooks';

/** The Queue message: the event travels with it, so a retry sends the very same body. */
export interface DeliveryMessage {
  delivery_id: string;
  endpoint_id: string;
  event: WebhookEvent;
  /** Attempts made before an owner's "Retry" queued it again: the log counts on from there. */
  prior_attempts?: number;
}

const log = createLogger({ area: 'notifications' });

export const newDeliveryId = () => `msg_${randomToken(18)}`;

/** Anything with `waitUntil`: an ExecutionContext or a DurableObjectState. */
export type Waiter = { waitUntil(promise: Promise<unknown>): void };
/** A Hono context counts: its `executionCtx` getter throws when there is none (app.request in tests). */
type Context = { readonly executionCtx: Waiter };
type PublishEnv = Pick<Env, 'DB' | 'WEBHOOK_QUEUE' | 'WEBHOOKS_PUBLIC_BASE_URL'>;

function waiterOf(ctx: Waiter | Context | null | undefined): Waiter | null {
  if (!ctx) return null;
  if (!('executionCtx' in ctx)) return ctx;
  try {
    return ctx.executionCtx;
  } catch {
    return null;
  }
}

export function notify(env: PublishEnv, ctx: Waiter | Context | null | undefined, n: Notification): Promise<number> {
  const work = publish(env, n).catch((e: unknown) => {
    log.error('webhook event not queued', { type: n.type, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    return 0;
  });
  const waiter = waiterOf(ctx);
  if (waiter) {
    waiter.waitUntil(work);
    return Promise.resolve(0);
  }
  return work;
}

function eventData(env: PublishEnv, n: Notification): Record<string, unknown> {
  const data: Record<string, unknown> = 'source' in n ? { source: { driver: n.source.driver, username: n.source.username }, ...n.data } : { org_id: n.orgId, ...n.data };
  if (typeof data.playback_path === 'string') {
    const base = env.WEBHOOKS_PUBLIC_BASE_URL.replace(/\/+$/, '');
    data.playback_url = base + data.playback_path;
    delete data.playback_path;
  }
  return data;
}

/** Fans `n` out; resolves to the number of deliveries queued. */
async function publish(env: PublishEnv, n: Notification): Promise<number> {
  const d = db(env);
  const targets = await matchingEndpoints(d, n.type, 'source' in n ? { source: n.source } : { orgId: n.orgId });
  if (targets.length === 0) return 0;
  const event: WebhookEvent = { type: n.type, timestamp: nowIso(), data: eventData(env, n) };
  return enqueueDeliveries(env, deliveryMessages(targets.map((t) => t.id), event));
}

/** One message (and delivery id) per endpoint for `event`. */
export function deliveryMessages(endpointIds: readonly string[], event: WebhookEvent): DeliveryMessage[] {
  return endpointIds.map((endpoint_id) => ({ delivery_id: newDeliveryId(), endpoint_id, event }));
}

/** Messages per `sendBatch` (the Queues limit). */
const SEND_BATCH = 100;
/** A refused send is tried once more after this pause: Queue sends fail transiently. */
export const SEND_RETRY_MS = 250;

/**
 * Log rows first, then messages: a message whose row is missing would be delivered unseen. A send
 * that still fails after one more try marks its rows (and those of the chunks not sent yet) `failed`
 * with a `not queued` error, so the owner's delivery log says so instead of showing them `pending`
 * for ever, and throws (producers' `notify` logs it). Each row keeps its event, so the housekeeping
 * sweep (./jobs.ts) sends such a delivery, and one lost without an error (the isolate ended in
 * between), once more.
 */
export async function enqueueDeliveries(env: Pick<Env, 'DB' | 'WEBHOOK_QUEUE'>, messages: readonly DeliveryMessage[]): Promise<number> {
  if (messages.length === 0) return 0;
  const d = db(env);
  const stmts = insertDeliveries(
    d,
    messages.map((m) => ({ id: m.delivery_id, endpointId: m.endpoint_id, eventType: m.event.type, eventJson: JSON.stringify(m.event) })),
  );
  await d.batch(stmts as [(typeof stmts)[0], ...typeof stmts]);
  await sendDeliveries(env, messages);
  return messages.length;
}

/**
 * The Queue sends of `messages` whose log rows exist: a refused send is tried once more, then its
 * rows (and those of the chunks not sent yet) are marked `failed` (not queued) and the error thrown.
 */
export async function sendDeliveries(env: Pick<Env, 'DB' | 'WEBHOOK_QUEUE'>, messages: readonly DeliveryMessage[]): Promise<void> {
  const d = db(env);
  for (let i = 0; i < messages.length; i += SEND_BATCH) {
    const batch = messages.slice(i, i + SEND_BATCH).map((body) => ({ body, contentType: 'json' as const }));
    try {
      await env.WEBHOOK_QUEUE.sendBatch(batch).catch(async () => {
        await new Promise((r) => setTimeout(r, SEND_RETRY_MS));
        return env.WEBHOOK_QUEUE.sendBatch(batch);
      });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      await markNotQueued(d, messages.slice(i).map((m) => m.delivery_id), `not queued: ${reason}`.slice(0, 500));
      throw e;
    }
  }
}

const StoredEvent = z.object({ type: z.enum([...EVENT_TYPES, 'webhook.test']), timestamp: z.string(), data: z.record(z.string(), z.unknown()) });

/** A delivery row's stored event (`event_json`), or null when missing or unreadable (not re-sendable). */
export function storedEvent(text: string | null): WebhookEvent | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const event = StoredEvent.safeParse(value);
  return event.success ? event.data : null;
}
