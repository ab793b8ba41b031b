/**
 * Helpers for the webhook tests: a fake receiver at the fetch boundary (`world.fetch`), a Standard
 * Webhooks verifier written from the specification (not from our signing code), and a way to run one
 * queued delivery through the Worker's real `queue` export.
 *
 *   const rx = receiver([500, 200]);               // answers 500, then 200 (the last one repeats)
 *   const res = await deliverOnce(message, 1);     // { acked, retried }
 *   expect(await verifyStandardWebhook(secret, rx.requests[0])).toBe(true);
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import worker from '../../src/index';
import { db } from '../../src/db/client';
import { sources, subscriptions, webhookDeliveries } from '../../src/db/schema';
import type { WebhookEvent } from '../../src/notifications/events';
import { newDeliveryId, WEBHOOK_QUEUE_NAME, type DeliveryMessage } from '../../src/notifications/publish';
import { setWorld, world } from '../../src/world';

export interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
  redirect: RequestInit['redirect'];
}

/** Replaces outbound fetch with a receiver answering `statuses` in turn (the last repeats). */
export function receiver(statuses: Array<number | Error> = [200]) {
  const requests: Received[] = [];
  const passOn = world.fetch;
  const restore = setWorld({
    fetch: async (input, init) => {
      // Only webhook deliveries are ours; anything else (the overseer link's dial) goes on as before.
      if (!new Headers(init?.headers).has('webhook-id')) return passOn(input, init);
      const req = new Request(input, init);
      requests.push({ url: req.url, headers: Object.fromEntries(req.headers), body: await req.text(), redirect: init?.redirect });
      const s = statuses[Math.min(requests.length - 1, statuses.length - 1)]!;
      if (s instanceof Error) throw s;
      return new Response(s === 204 ? null : 'ok', { status: s, headers: s >= 300 && s < 400 ? { Location: 'http://169.254.169.254/' } : {} });
    },
  });
  return { requests, restore };
}

function b64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * From the Standard Webhooks spec: signed content `${id}.${timestamp}.${body}`, HMAC-SHA256 keyed by
 * the base64 secret after `whsec_`, base64-encoded, in a space-separated list of `v1,<sig>`; the
 * timestamp within five minutes of now.
 */
export async function verifyStandardWebhook(secret: string, r: Pick<Received, 'headers' | 'body'>, nowSeconds = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const id = r.headers['webhook-id'];
  const ts = r.headers['webhook-timestamp'];
  const sigs = r.headers['webhook-signature'];
  if (!id || !ts || !sigs || !/^\d+$/.test(ts) || Math.abs(nowSeconds - Number(ts)) > 300) return false;
  const key = await crypto.subtle.importKey('raw', Uint8Array.from(atob(secret.split('_')[1]!), (c) => c.charCodeAt(0)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const expected = b64(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${ts}.${r.body}`))));
  return sigs.split(' ').some((s) => {
    const [v, sig] = s.split(',');
    if (v !== 'v1' || !sig || sig.length !== expected.length) return false;
    let diff = 0;
    for (let i = 0; i < sig.length; i++) diff |= sig.charCodeAt(i) ^ expected.charCodeAt(i);
    return diff === 0;
  });
}

/** A pending delivery row plus the message the publisher would have queued for it. */
export async function pendingDelivery(endpointId: string, event?: Partial<WebhookEvent>): Promise<DeliveryMessage> {
  const m: DeliveryMessage = {
    delivery_id: newDeliveryId(),
    endpoint_id: endpointId,
    event: { type: 'recording.stored', timestamp: new Date().toISOString(), data: { source: { driver: 'chaturbate', username: 'alice' }, path: 'a/b.mp4' }, ...event },
  };
  await db(env).insert(webhookDeliveries).values({ id: m.delivery_id, endpointId, eventType: m.event.type }).run();
  return m;
}

let seq = 0;
/** Runs one message (delivered for the `attempts`-th time) through the Worker's queue handler. */
export async function deliverOnce(body: DeliveryMessage, attempts = 1, workerEnv: Env = env) {
  seq += 1;
  const id = `hook-${seq}`;
  const batch = createMessageBatch<DeliveryMessage>(WEBHOOK_QUEUE_NAME, [{ id, timestamp: new Date(), attempts, body }]);
  // The harness reports which messages were retried but not their delay: record it on the way.
  const msg = batch.messages[0]!;
  const retry = msg.retry.bind(msg);
  let delaySeconds: number | undefined;
  msg.retry = (opts) => {
    delaySeconds = opts?.delaySeconds;
    retry(opts);
  };
  const ctx = createExecutionContext();
  await worker.queue(batch, workerEnv);
  const result = await getQueueResult(batch, ctx);
  const retried = result.retryMessages.some((m) => m.msgId === id);
  return { acked: result.explicitAcks.includes(id), retried: retried ? { delaySeconds } : null };
}

export function deliveryRow(id: string) {
  return db(env).select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get();
}

/** A source with the given subscribers (posture `active`), straight into D1. */
export async function subscribe(driver: string, username: string, userIds: number[]): Promise<number> {
  const d = db(env);
  const src = await d.insert(sources).values({ driver, username }).onConflictDoNothing().returning().get();
  const id = src?.id ?? (await env.DB.prepare('SELECT id FROM sources WHERE driver = ?1 AND username = ?2').bind(driver, username).first<{ id: number }>())!.id;
  for (const userId of userIds) await d.insert(subscriptions).values({ userId, sourceId: id }).onConflictDoNothing().run();
  return id;
}
