/**
 * The webhook consumer, driven through the Worker's real `queue` export with hand-built batches (so
 * nothing runs behind the test), the receiver faked at the fetch boundary: signatures a Standard
 * Webhooks verifier accepts, retries with exponential backoff, the dead letter after the last attempt,
 * a webhook-id that never changes, the three payload formats, and the SSRF check at delivery time.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { db } from '../../src/db/client';
import { webhookEndpoints } from '../../src/db/schema';
import { backoffSeconds, deliverySettings } from '../../src/notifications/delivery';
import { sealSecret, newSecret } from '../../src/notifications/signing';
import { makeUser } from '../support/users';
import { deliverOnce, deliveryRow, pendingDelivery, receiver, verifyStandardWebhook } from './support';

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

function rx(statuses: Array<number | Error>) {
  const r = receiver(statuses);
  restore = r.restore;
  return r;
}

let n = 0;
/** An endpoint row as registration would write it (or, with a refused URL, as an older one might be). */
async function endpoint(opts: { url?: string; format?: 'standard' | 'discord' | 'slack'; enabled?: boolean } = {}) {
  const owner = await makeUser();
  n += 1;
  const id = `wh_delivery${String(n).padStart(6, '0')}`;
  const secret = newSecret();
  await db(env)
    .insert(webhookEndpoints)
    .values({
      id,
      ownerId: owner.id,
      scope: 'user',
      url: opts.url ?? 'https://hooks.example.com/in',
      format: opts.format ?? 'standard',
      events: JSON.stringify(['recording.stored']),
      secretEnc: await sealSecret(env, id, secret),
      enabled: opts.enabled ?? true,
    })
    .run();
  return { id, secret };
}

describe('a delivery', () => {
  it('is POSTed once with Standard Webhooks headers that a spec verifier accepts, and logged as succeeded', async () => {
    const r = rx([204]);
    const ep = await endpoint();
    const m = await pendingDelivery(ep.id);
    expect(await deliverOnce(m)).toEqual({ acked: true, retried: null });
    expect(r.requests).toHaveLength(1);
    const got = r.requests[0]!;
    expect(got.url).toBe('https://hooks.example.com/in');
    expect(got.headers['webhook-id']).toBe(m.delivery_id);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.redirect).toBe('manual');
    expect(JSON.parse(got.body)).toEqual({ type: 'recording.stored', timestamp: m.event.timestamp, data: m.event.data });
    expect(await verifyStandardWebhook(ep.secret, got)).toBe(true);
    // A tampered body or another secret does not verify.
    expect(await verifyStandardWebhook(ep.secret, { ...got, body: got.body.replace('alice', 'mallory') })).toBe(false);
    expect(await verifyStandardWebhook(newSecret(), got)).toBe(false);
    expect(await deliveryRow(m.delivery_id)).toMatchObject({ status: 'succeeded', attempts: 1, responseStatus: 204, error: null });
  });

  it('is retried with exponential backoff on a 500, keeping the same webhook-id, until the receiver accepts it', async () => {
    const r = rx([500, 503, new TypeError('connection reset'), 200]);
    const ep = await endpoint();
    const m = await pendingDelivery(ep.id);
    const first = await deliverOnce(m, 1);
    expect(first.acked).toBe(false);
    expect(first.retried).toEqual({ delaySeconds: 30 });
    expect(await deliveryRow(m.delivery_id)).toMatchObject({ status: 'retrying', attempts: 1, responseStatus: 500, error: 'HTTP 500' });
    expect((await deliverOnce(m, 2)).retried).toEqual({ delaySeconds: 60 });
    const third = await deliverOnce(m, 3);
    expect(third.retried).toEqual({ delaySeconds: 120 });
    expect((await deliveryRow(m.delivery_id))!.error).toMatch(/network error: connection reset/);
    expect(await deliverOnce(m, 4)).toEqual({ acked: true, retried: null });
    expect(await deliveryRow(m.delivery_id)).toMatchObject({ status: 'succeeded', attempts: 4, responseStatus: 200 });
    expect(new Set(r.requests.map((q) => q.headers['webhook-id']))).toEqual(new Set([m.delivery_id]));
    for (const q of r.requests) expect(await verifyStandardWebhook(ep.secret, q)).toBe(true);
  });

  it('backs off 30 s, doubling, capped at an hour', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(backoffSeconds)).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600]);
  });

  it('becomes a dead-letter record after the last attempt: failed in the log, parked on the DLQ, no more retries', async () => {
    rx([500]);
    const ep = await endpoint();
    const m = await pendingDelivery(ep.id);
    const parked: unknown[] = [];
    const dlq = { send: vi.fn(async (body: unknown) => void parked.push(body)), sendBatch: vi.fn() } as unknown as Queue;
    const res = await deliverOnce(m, deliverySettings.maxAttempts, { ...env, WEBHOOK_DLQ: dlq });
    expect(res).toEqual({ acked: true, retried: null });
    expect(await deliveryRow(m.delivery_id)).toMatchObject({ status: 'failed', attempts: deliverySettings.maxAttempts, responseStatus: 500, error: 'HTTP 500' });
    expect(parked).toEqual([expect.objectContaining({ delivery_id: m.delivery_id, endpoint_id: ep.id, attempts: deliverySettings.maxAttempts, error: 'HTTP 500' })]);
  });

  it('does not follow a redirect: it is a failed attempt', async () => {
    const r = rx([302]);
    const ep = await endpoint();
    const m = await pendingDelivery(ep.id);
    expect((await deliverOnce(m)).retried).not.toBeNull();
    expect(r.requests).toHaveLength(1);
    expect(await deliveryRow(m.delivery_id)).toMatchObject({ status: 'retrying', responseStatus: 302, error: 'redirect (HTTP 302) not followed' });
  });

  it('is not sent again when a redelivered message finds it already succeeded', async () => {
    const r = rx([200]);
    const ep = await endpoint();
    const m = await pendingDelivery(ep.id);
    await deliverOnce(m, 1);
    expect(await deliverOnce(m, 1)).toEqual({ acked: true, retried: null });
    expect(r.requests).toHaveLength(1);
  });

  it('re-checks the URL at delivery: a stored private address is refused without a request or a retry', async () => {
    const r = rx([200]);
    const ep = await endpoint({ url: 'https://10.0.0.5/hook' });
    const m = await pendingDelivery(ep.id);
    expect(await deliverOnce(m)).toEqual({ acked: true, retried: null });
    expect(r.requests).toHaveLength(0);
    expect(await deliveryRow(m.delivery_id)).toMatchObject({ status: 'failed', error: 'destination refused: address refused: private' });
  });

  it('is dropped for a disabled endpoint and recorded as such', async () => {
    const r = rx([200]);
    const ep = await endpoint({ enabled: false });
    const m = await pendingDelivery(ep.id);
    expect((await deliverOnce(m)).acked).toBe(true);
    expect(r.requests).toHaveLength(0);
    expect(await deliveryRow(m.delivery_id)).toMatchObject({ status: 'failed', error: 'endpoint disabled' });
  });
});

describe('payload formats', () => {
  const event = { type: 'recording.stored' as const, data: { source: { driver: 'chaturbate', username: 'alice' }, path: '2026-02-18/x.mp4', bytes: 1024, playback_url: 'https://dvr.example.com/media/subscriptions/chaturbate/alice/2026-02-18/x.mp4' } };

  it('sends Discord an execute-webhook body: content and an embed with the fields and the playback link', async () => {
    const r = rx([204]);
    const ep = await endpoint({ format: 'discord' });
    await deliverOnce(await pendingDelivery(ep.id, event));
    const body = JSON.parse(r.requests[0]!.body) as { content: string; embeds: Array<{ title: string; url: string; fields: Array<{ name: string; value: string }> }> };
    expect(body.content).toBe('Recording stored: chaturbate/alice — 2026-02-18/x.mp4');
    expect(body.embeds[0]).toMatchObject({ title: 'recording.stored', url: event.data.playback_url });
    expect(body.embeds[0]!.fields).toContainEqual({ name: 'source', value: 'chaturbate/alice', inline: true });
    expect(await verifyStandardWebhook(ep.secret, r.requests[0]!)).toBe(true);
  });

  it('sends Slack an incoming-webhook body: text and blocks', async () => {
    const r = rx([200]);
    const ep = await endpoint({ format: 'slack' });
    await deliverOnce(await pendingDelivery(ep.id, event));
    const body = JSON.parse(r.requests[0]!.body) as { text: string; blocks: Array<{ type: string; text?: { type: string; text: string } }> };
    expect(body.text).toBe('Recording stored: chaturbate/alice — 2026-02-18/x.mp4');
    expect(body.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: body.text } });
    expect(body.blocks[1]!.text!.text).toContain('*bytes*: 1024');
  });
});
