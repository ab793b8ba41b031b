/**
 * The webhook Queue consumer: one message = one event for one endpoint, POSTed with Standard
 * Webhooks headers, at least once.
 *
 *   queue(batch, env) → handleWebhookBatch(batch, env)
 *
 * Per message: the endpoint is re-read (deleted → dropped; disabled → recorded as failed), its URL
 * re-checked against the SSRF rules (refused → failed, no retry), the body rendered in the
 * endpoint's format and signed, and POSTed with a timeout and `redirect: 'manual'` (a redirect is a
 * failure, never followed). A 2xx is success. Anything else is retried with exponential backoff
 * (`msg.retry({ delaySeconds })`) until `MAX_ATTEMPTS`; then the delivery log row becomes the
 * dead-letter record (`failed`) and the message is parked on the dead-letter queue. Every attempt
 * updates the row (status, attempts, response code, latency, error). `webhook-id` is the delivery
 * id, the same on every attempt, so receivers can drop duplicates; a message whose row already
 * says `succeeded` (a redelivery) is acknowledged without sending again. An owner's "Retry" of a
 * failed delivery (POST /api/webhooks/{id}/deliveries/{delivery_id}/retry) is a new message for the
 * same row: same id and body, `prior_attempts` so the log's count goes on.
 */
import { db } from '../db/client';
import { createLogger } from '../http/log';
import { z } from '../http/openapi';
import { world } from '../world';
import { allowsPrivate, checkDestination } from './destination';
import { render, type WebhookEvent } from './events';
import type { DeliveryMessage } from './publish';
import { getDelivery, getEndpoint, recordAttempt, type EndpointRow } from './queries';
import { openSecret, signPayload } from './signing';

export const deliverySettings = {
  maxAttempts: 8,
  timeoutMs: 10_000,
  retryBaseSeconds: 30,
  retryMaxSeconds: 3600,
  concurrency: 4,
};

const Message = z.object({
  delivery_id: z.string().min(1).max(64),
  endpoint_id: z.string().min(1).max(64),
  event: z.object({ type: z.string(), timestamp: z.string(), data: z.record(z.string(), z.unknown()) }),
  prior_attempts: z.number().int().min(0).max(10_000).optional(),
});

const log = createLogger({ job: 'webhooks' });

/** Seconds before attempt `attempt + 1`: 30 s, 1 min, 2 min, … capped at an hour. */
export function backoffSeconds(attempt: number): number {
  return Math.min(deliverySettings.retryMaxSeconds, deliverySettings.retryBaseSeconds * 2 ** Math.max(0, attempt - 1));
}

type Outcome = { ok: true; status: number; latencyMs: number } | { ok: false; retry: boolean; status: number | null; latencyMs: number | null; error: string };

/** One attempt: checks, render, sign, POST. Throws only for the unexpected (treated as retryable). */
async function attempt(env: Env, endpoint: EndpointRow, deliveryId: string, event: WebhookEvent): Promise<Outcome> {
  if (!endpoint.enabled && event.type !== 'webhook.test') return { ok: false, retry: false, status: null, latencyMs: null, error: 'endpoint disabled' };
  const dest = checkDestination(endpoint.url, { allowPrivate: allowsPrivate(env) });
  if (!dest.ok) return { ok: false, retry: false, status: null, latencyMs: null, error: `destination refused: ${dest.reason}` };
  const body = render(endpoint.format, event);
  const timestamp = Math.floor(world.now() / 1000);
  const secret = await openSecret(env, endpoint.id, endpoint.secretEnc);
  const headers = {
    'Content-Type': 'application/json',
    'User-Agent': 'Edgeplane-Webhooks/1',
    'webhook-id': deliveryId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await signPayload(secret, deliveryId, timestamp, body),
  };
  const started = world.now();
  let res: Response;
  try {
    res = await world.fetch(dest.url.toString(), { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(deliverySettings.timeoutMs) });
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    return { ok: false, retry: true, status: null, latencyMs: world.now() - started, error: timedOut ? `timed out after ${deliverySettings.timeoutMs} ms` : `network error: ${e instanceof Error ? e.message : String(e)}` };
  }
  const latencyMs = world.now() - started;
  // The receiver's body is not ours to keep; drain it so the connection is released.
  await res.body?.cancel().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, latencyMs };
  const error = res.status >= 300 && res.status < 400 ? `redirect (HTTP ${res.status}) not followed` : `HTTP ${res.status}`;
  return { ok: false, retry: true, status: res.status, latencyMs, error };
}

async function handleOne(env: Env, msg: Message<unknown>): Promise<void> {
  const parsed = Message.safeParse(msg.body);
  if (!parsed.success) {
    log.warn('webhook message dropped: not a delivery', { id: msg.id });
    msg.ack();
    return;
  }
  const m = parsed.data as DeliveryMessage;
  const d = db(env);
  const [endpoint, row] = await Promise.all([getEndpoint(d, m.endpoint_id), getDelivery(d, m.delivery_id)]);
  // Deleted endpoint (its log rows went with it), or a redelivery of a message already delivered.
  if (!endpoint || !row || row.status === 'succeeded') {
    msg.ack();
    return;
  }
  let outcome: Outcome;
  try {
    outcome = await attempt(env, endpoint, m.delivery_id, m.event);
  } catch (e) {
    outcome = { ok: false, retry: true, status: null, latencyMs: null, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  // After an owner's "Retry" the log counts on from the attempts before it; the new message gets a
  // full round of its own (`msg.attempts` restarts at 1).
  const attempts = (m.prior_attempts ?? 0) + msg.attempts;
  if (outcome.ok) {
    await recordAttempt(d, m.delivery_id, { status: 'succeeded', attempts, responseStatus: outcome.status, latencyMs: outcome.latencyMs, error: null });
    msg.ack();
    return;
  }
  const final = !outcome.retry || msg.attempts >= deliverySettings.maxAttempts;
  await recordAttempt(d, m.delivery_id, {
    status: final ? 'failed' : 'retrying',
    attempts,
    responseStatus: outcome.status,
    latencyMs: outcome.latencyMs,
    error: outcome.error,
  });
  if (!final) {
    msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
    return;
  }
  log.warn('webhook delivery failed for good', { delivery: m.delivery_id, endpoint: m.endpoint_id, attempts, error: outcome.error });
  if (outcome.retry) {
    // Dead letter: the D1 row is what the owner sees; the DLQ keeps the message for an operator.
    await env.WEBHOOK_DLQ.send({ ...m, attempts, error: outcome.error }, { contentType: 'json' });
  }
  msg.ack();
}

export async function handleWebhookBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(deliverySettings.concurrency, batch.messages.length) }, async () => {
    while (next < batch.messages.length) await handleOne(env, batch.messages[next++]!);
  });
  await Promise.all(lanes);
}
