/**
 * Fan-out: `notify` queues one delivery per matching endpoint — the subscribers' user endpoints for
 * a source's events, the org's endpoints for its console events, platform endpoints for everything —
 * and nothing for endpoints that did not choose the event, are disabled, or belong to someone else.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { failUnqueuedDeliveriesJob, UNQUEUED_AFTER_MINUTES } from '../../src/notifications/jobs';
import { notify, type DeliveryMessage } from '../../src/notifications/publish';
import { call, json } from '../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../support/users';
import { receiver, subscribe } from './support';

let restore: (() => void) | null = null;
beforeEach(async () => {
  // Every delivery the background consumer makes lands here, never on the network.
  restore = receiver([200]).restore;
  await env.DB.prepare('DELETE FROM webhook_endpoints').run();
});
afterEach(() => restore?.());

async function endpointOf(u: TestUser, body: Record<string, unknown>): Promise<string> {
  const res = await call('POST', '/api/webhooks', { token: u.token, body: { url: 'https://hooks.example.com/in', ...body } });
  expect(res.status).toBe(201);
  return (await json<{ id: string }>(res)).id;
}

async function queuedFor(id: string): Promise<string[]> {
  const rows = await env.DB.prepare('SELECT event_type FROM webhook_deliveries WHERE endpoint_id = ?1 ORDER BY created_at').bind(id).all<{ event_type: string }>();
  return rows.results.map((r) => r.event_type);
}

describe('notify', () => {
  it('reaches the user endpoints of the source’s subscribers and platform endpoints, not other users', async () => {
    const [alice, bob, admin] = [await makeUser(), await makeUser(), await makeUser({ role: 'admin' })];
    await subscribe('chaturbate', 'fanout1', [alice.id]);
    await subscribe('chaturbate', 'other1', [bob.id]);
    const a = await endpointOf(alice, { events: ['recording.stored', 'source.errored'] });
    const b = await endpointOf(bob, { events: ['recording.stored'] });
    const p = await endpointOf(admin, { scope: 'platform', events: ['recording.stored'] });
    const n = await notify(env, null, { type: 'recording.stored', source: { driver: 'chaturbate', username: 'fanout1' }, data: { path: 'x.mp4', playback_path: '/media/subscriptions/chaturbate/fanout1/x.mp4' } });
    expect(n).toBe(2);
    expect(await queuedFor(a)).toEqual(['recording.stored']);
    expect(await queuedFor(p)).toEqual(['recording.stored']);
    expect(await queuedFor(b)).toEqual([]);
  });

  it('skips endpoints that did not choose the event and disabled ones', async () => {
    const alice = await makeUser();
    await subscribe('chaturbate', 'fanout2', [alice.id]);
    const wantsErrors = await endpointOf(alice, { events: ['source.errored'] });
    const off = await endpointOf(alice, { events: ['recording.started'] });
    await call('PATCH', `/api/webhooks/${off}`, { token: alice.token, body: { enabled: false } });
    expect(await notify(env, null, { type: 'recording.started', source: { driver: 'chaturbate', username: 'fanout2' } })).toBe(0);
    expect(await queuedFor(wantsErrors)).toEqual([]);
    expect(await queuedFor(off)).toEqual([]);
  });

  it('reaches the org’s endpoints for its console events, not another org’s', async () => {
    const [o1, o2] = [await makeOrg(), await makeOrg()];
    const [a1, a2] = [await makeUser(), await makeUser()];
    await addMember(o1.id, a1.id, 'admin');
    await addMember(o2.id, a2.id, 'admin');
    const e1 = await endpointOf(a1, { scope: 'org', org_id: o1.id, events: ['session.started', 'proof.pending_review'] });
    const e2 = await endpointOf(a2, { scope: 'org', org_id: o2.id, events: ['session.started'] });
    expect(await notify(env, null, { type: 'session.started', orgId: o1.id, data: { session_id: 7 } })).toBe(1);
    expect(await queuedFor(e1)).toEqual(['session.started']);
    expect(await queuedFor(e2)).toEqual([]);
  });

  it('turns a playback path into an absolute playback URL with WEBHOOKS_PUBLIC_BASE_URL', async () => {
    const rx = receiver([200]);
    const alice = await makeUser();
    await subscribe('chaturbate', 'fanout3', [alice.id]);
    await endpointOf(alice, { events: ['recording.stored'] });
    try {
      await notify({ ...env, WEBHOOKS_PUBLIC_BASE_URL: 'https://dvr.example.com/' }, null, { type: 'recording.stored', source: { driver: 'chaturbate', username: 'fanout3' }, data: { playback_path: '/media/subscriptions/chaturbate/fanout3/x.mp4' } });
      await vi.waitFor(() => expect(rx.requests).toHaveLength(1), { timeout: 10_000, interval: 200 });
      expect(JSON.parse(rx.requests[0]!.body).data).toEqual({ source: { driver: 'chaturbate', username: 'fanout3' }, playback_url: 'https://dvr.example.com/media/subscriptions/chaturbate/fanout3/x.mp4' });
    } finally {
      rx.restore();
    }
  });

  it('never throws at the producer, even when the queue refuses', async () => {
    const alice = await makeUser();
    await subscribe('chaturbate', 'fanout4', [alice.id]);
    await endpointOf(alice, { events: ['source.recovered'] });
    const broken = { ...env, WEBHOOK_QUEUE: { send: () => Promise.reject(new Error('queue down')), sendBatch: () => Promise.reject(new Error('queue down')) } as unknown as Queue };
    await expect(notify(broken, null, { type: 'source.recovered', source: { driver: 'chaturbate', username: 'fanout4' } })).resolves.toBe(0);
  });
});

type LogRow = { event_type: string; status: string; attempts: number; error: string | null };
async function deliveryLog(u: TestUser, endpointId: string): Promise<LogRow[]> {
  const res = await call('GET', `/api/webhooks/${endpointId}/deliveries`, { token: u.token });
  expect(res.status).toBe(200);
  return (await json<{ deliveries: LogRow[] }>(res)).deliveries;
}

describe('a delivery the queue did not take', () => {
  it('shows as failed (not queued) in the owner’s log when the queue keeps refusing, not pending for ever', async () => {
    const alice = await makeUser();
    await subscribe('chaturbate', 'unqueued1', [alice.id]);
    const id = await endpointOf(alice, { events: ['source.errored'] });
    const broken = { ...env, WEBHOOK_QUEUE: { send: () => Promise.reject(new Error('queue down')), sendBatch: () => Promise.reject(new Error('queue down')) } as unknown as Queue };
    await notify(broken, null, { type: 'source.errored', source: { driver: 'chaturbate', username: 'unqueued1' }, data: { error: 'x' } });
    expect(await deliveryLog(alice, id)).toMatchObject([{ event_type: 'source.errored', status: 'failed', attempts: 0, error: 'not queued: queue down' }]);
  });

  it('is sent again once when the queue refuses it the first time, and delivered', async () => {
    const rx = receiver([200]);
    try {
      const alice = await makeUser();
      await subscribe('chaturbate', 'unqueued2', [alice.id]);
      const id = await endpointOf(alice, { events: ['source.errored'] });
      let refusals = 0;
      const flaky = {
        ...env,
        WEBHOOK_QUEUE: {
          sendBatch: (batch: Iterable<MessageSendRequest>) => (refusals++ === 0 ? Promise.reject(new Error('queue busy')) : env.WEBHOOK_QUEUE.sendBatch(batch)),
        } as unknown as Queue,
      };
      expect(await notify(flaky, null, { type: 'source.errored', source: { driver: 'chaturbate', username: 'unqueued2' }, data: { error: 'x' } })).toBe(1);
      await vi.waitFor(() => expect(rx.requests).toHaveLength(1), { timeout: 10_000, interval: 200 });
      await vi.waitFor(async () => expect(await deliveryLog(alice, id)).toMatchObject([{ status: 'succeeded', attempts: 1 }]), { timeout: 10_000, interval: 200 });
    } finally {
      rx.restore();
    }
  });

  it('is sent again by the sweep, once, with the same id and body, after the queue refused it', async () => {
    const rx = receiver([200]);
    try {
      const alice = await makeUser();
      await subscribe('chaturbate', 'resent1', [alice.id]);
      const id = await endpointOf(alice, { events: ['source.errored'] });
      const refused: DeliveryMessage[] = [];
      const broken = {
        ...env,
        WEBHOOK_QUEUE: {
          sendBatch: (batch: Iterable<MessageSendRequest>) => {
            refused.push(...[...batch].map((m) => m.body as DeliveryMessage));
            return Promise.reject(new Error('queue down'));
          },
        } as unknown as Queue,
      };
      await notify(broken, null, { type: 'source.errored', source: { driver: 'chaturbate', username: 'resent1' }, data: { error: 'x' } });
      expect(await deliveryLog(alice, id)).toMatchObject([{ status: 'failed', attempts: 0, error: 'not queued: queue down' }]);
      const lost = refused[0]!;
      // The next sweep after the bound, with the queue back: the very message is queued again.
      const minutesLater = (m: number) => Date.now() + m * 60_000;
      expect(await failUnqueuedDeliveriesJob(env, minutesLater(UNQUEUED_AFTER_MINUTES + 1))).toBe(0);
      await vi.waitFor(() => expect(rx.requests).toHaveLength(1), { timeout: 10_000, interval: 200 });
      expect(rx.requests[0]!.headers['webhook-id']).toBe(lost.delivery_id);
      expect(JSON.parse(rx.requests[0]!.body)).toEqual(lost.event);
      await vi.waitFor(async () => expect(await deliveryLog(alice, id)).toMatchObject([{ status: 'succeeded', attempts: 1 }]), { timeout: 10_000, interval: 200 });
      // Once: later sweeps neither send it again nor touch the delivered row.
      expect(await failUnqueuedDeliveriesJob(env, minutesLater(2 * UNQUEUED_AFTER_MINUTES + 5))).toBe(0);
      expect(rx.requests).toHaveLength(1);
    } finally {
      rx.restore();
    }
  });

  it('marks a re-send the queue refuses again as failed (not queued), and never re-sends it a second time', async () => {
    const alice = await makeUser();
    await subscribe('chaturbate', 'resent2', [alice.id]);
    const id = await endpointOf(alice, { events: ['source.errored'] });
    let sends = 0;
    const refusing = { ...env, WEBHOOK_QUEUE: { sendBatch: () => (sends++, Promise.reject(new Error('queue down'))) } as unknown as Queue };
    await notify(refusing, null, { type: 'source.errored', source: { driver: 'chaturbate', username: 'resent2' }, data: { error: 'x' } });
    expect(sends).toBe(2);
    const minutesLater = (m: number) => Date.now() + m * 60_000;
    // Re-sent once (refused again: failed as not queued), then left alone.
    await failUnqueuedDeliveriesJob(refusing, minutesLater(UNQUEUED_AFTER_MINUTES + 1));
    expect(sends).toBe(4);
    expect(await deliveryLog(alice, id)).toMatchObject([{ status: 'failed', attempts: 0, error: 'not queued: queue down' }]);
    await failUnqueuedDeliveriesJob(refusing, minutesLater(UNQUEUED_AFTER_MINUTES + 6));
    expect(sends).toBe(4);
  });

  it('shows as failed after the housekeeping sweep when its message was lost without an error; recent rows stay pending', async () => {
    const alice = await makeUser();
    const id = await endpointOf(alice, { events: ['source.errored'] });
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    // Rows written as enqueueDeliveries writes them, whose Queue message never left.
    await env.DB.batch([
      env.DB.prepare("INSERT INTO webhook_deliveries (id, endpoint_id, event_type, created_at) VALUES ('msg_lost', ?1, 'source.errored', ?2)").bind(id, minutesAgo(UNQUEUED_AFTER_MINUTES + 5)),
      env.DB.prepare("INSERT INTO webhook_deliveries (id, endpoint_id, event_type, created_at) VALUES ('msg_recent', ?1, 'source.errored', ?2)").bind(id, minutesAgo(1)),
    ]);
    expect(await failUnqueuedDeliveriesJob(env)).toBe(1);
    const log = await deliveryLog(alice, id);
    expect(log.find((r) => r.status === 'failed')).toMatchObject({ attempts: 0, error: `not queued: no delivery attempt within ${UNQUEUED_AFTER_MINUTES} min` });
    expect(log.map((r) => r.status).sort()).toEqual(['failed', 'pending']);
  });
});
