/**
 * Webhook endpoints through the API: who may register which scope, the secret shown once and never
 * stored in clear, every operation on an endpoint refused (as a 404) to an actor who does not
 * manage it, and the owner's "Retry" of a failed delivery.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { eq } from 'drizzle-orm';
import { db } from '../../src/db/client';
import { webhookDeliveries } from '../../src/db/schema';
import { newDeliveryId } from '../../src/notifications/publish';
import { app } from '../../src/app';
import { BASE, call, json } from '../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../support/users';
import { receiver, verifyStandardWebhook } from './support';

type Endpoint = { id: string; url: string; scope: string; org_id: number | null; events: string[]; format: string; enabled: boolean; secret?: string };
type Delivery = { id: string; event_type: string; status: string; attempts: number; response_status: number | null };

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

async function register(u: TestUser, body: Record<string, unknown>) {
  return call('POST', '/api/webhooks', { token: u.token, body: { url: 'https://hooks.example.com/in', events: ['recording.stored'], ...body } });
}

async function created(u: TestUser, body: Record<string, unknown> = {}): Promise<Endpoint> {
  const res = await register(u, body);
  expect(res.status).toBe(201);
  return json<Endpoint>(res);
}

describe('registering an endpoint', () => {
  it('gives a user a user endpoint with a whsec_ secret in the creation answer only', async () => {
    const alice = await makeUser();
    const ep = await created(alice, { format: 'discord', description: 'my channel' });
    expect(ep).toMatchObject({ scope: 'user', org_id: null, events: ['recording.stored'], format: 'discord', enabled: true });
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const again = await json<Endpoint>(await call('GET', `/api/webhooks/${ep.id}`, { token: alice.token }));
    expect(again.secret).toBeUndefined();
    const list = await json<{ endpoints: Endpoint[] }>(await call('GET', '/api/webhooks', { token: alice.token }));
    expect(list.endpoints.map((e) => e.id)).toEqual([ep.id]);
    expect(list.endpoints[0]!.secret).toBeUndefined();
    const stored = await env.DB.prepare('SELECT secret_enc FROM webhook_endpoints WHERE id = ?1').bind(ep.id).first<{ secret_enc: string }>();
    expect(stored!.secret_enc).not.toContain(ep.secret!.slice(6));
  });

  it('refuses console events on a user endpoint and DVR events on an org endpoint', async () => {
    const alice = await makeUser();
    const res = await register(alice, { events: ['session.started'] });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe('event_not_allowed');
    const org = await makeOrg();
    await addMember(org.id, alice.id, 'admin');
    const res2 = await register(alice, { scope: 'org', org_id: org.id, events: ['recording.started'] });
    expect(res2.status).toBe(400);
  });

  it('refuses unknown event names, unknown fields and a missing token', async () => {
    const alice = await makeUser();
    expect((await register(alice, { events: ['recording.deleted'] })).status).toBe(400);
    expect((await register(alice, { owner_id: 1 })).status).toBe(400);
    const anon = await call('POST', '/api/webhooks', { body: { url: 'https://hooks.example.com/in', events: ['recording.stored'] } });
    expect(anon.status).toBe(403);
  });

  it('lets only a platform admin register a platform endpoint', async () => {
    const alice = await makeUser();
    const res = await register(alice, { scope: 'platform' });
    expect(res.status).toBe(403);
    const admin = await makeUser({ role: 'admin' });
    const ep = await created(admin, { scope: 'platform', events: ['recording.stored', 'session.ended'] });
    expect(ep.scope).toBe('platform');
  });

  it('lets an org admin, not a member nor an outsider, register an org endpoint', async () => {
    const org = await makeOrg();
    const boss = await makeUser();
    const member = await makeUser();
    const outsider = await makeUser();
    await addMember(org.id, boss.id, 'admin');
    await addMember(org.id, member.id, 'member');
    const body = { scope: 'org', org_id: org.id, events: ['proof.pending_review'] };
    expect((await register(member, body)).status).toBe(403);
    expect((await register(outsider, body)).status).toBe(403);
    const ep = await created(boss, body);
    expect(ep).toMatchObject({ scope: 'org', org_id: org.id });
    expect((await register(boss, { scope: 'org', events: ['proof.pending_review'] })).status).toBe(400);
  });
});

describe('who manages an endpoint', () => {
  it('refuses another user every operation on it, as if it did not exist', async () => {
    const alice = await makeUser();
    const mallory = await makeUser();
    const ep = await created(alice);
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/api/webhooks/${ep.id}`],
      ['PATCH', `/api/webhooks/${ep.id}`, { url: 'https://evil.example.net/' }],
      ['DELETE', `/api/webhooks/${ep.id}`],
      ['POST', `/api/webhooks/${ep.id}/test`],
      ['POST', `/api/webhooks/${ep.id}/rotate-secret`],
      ['GET', `/api/webhooks/${ep.id}/deliveries`],
      ['POST', `/api/webhooks/${ep.id}/deliveries/msg_abcdefghijklmnopqrstuvwx/retry`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await call(method, path, { token: mallory.token, body });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await json<{ endpoints: Endpoint[] }>(await call('GET', '/api/webhooks', { token: mallory.token }))).endpoints).toEqual([]);
    const still = await json<Endpoint>(await call('GET', `/api/webhooks/${ep.id}`, { token: alice.token }));
    expect(still.url).toBe('https://hooks.example.com/in');
  });

  it('lets a fellow org admin manage the org endpoint, and a member of the org not', async () => {
    const org = await makeOrg();
    const [a, b, m] = [await makeUser(), await makeUser(), await makeUser()];
    await addMember(org.id, a.id, 'admin');
    await addMember(org.id, b.id, 'owner');
    await addMember(org.id, m.id, 'member');
    const ep = await created(a, { scope: 'org', org_id: org.id, events: ['session.started'] });
    const patched = await call('PATCH', `/api/webhooks/${ep.id}`, { token: b.token, body: { enabled: false } });
    expect(patched.status).toBe(200);
    expect((await json<Endpoint>(patched)).enabled).toBe(false);
    expect((await call('GET', `/api/webhooks/${ep.id}`, { token: m.token })).status).toBe(404);
    // An admin of another org sees nothing of it.
    const other = await makeOrg();
    const c = await makeUser();
    await addMember(other.id, c.id, 'admin');
    expect((await call('DELETE', `/api/webhooks/${ep.id}`, { token: c.token })).status).toBe(404);
  });

  it('lets a platform admin see and remove anyone’s endpoint', async () => {
    const alice = await makeUser();
    const admin = await makeUser({ role: 'admin' });
    const ep = await created(alice);
    const list = await json<{ endpoints: Endpoint[] }>(await call('GET', '/api/webhooks', { token: admin.token }));
    expect(list.endpoints.map((e) => e.id)).toContain(ep.id);
    expect((await call('DELETE', `/api/webhooks/${ep.id}`, { token: admin.token })).status).toBe(200);
    expect((await call('GET', `/api/webhooks/${ep.id}`, { token: alice.token })).status).toBe(404);
  });

  it('checks a changed URL against the same rules as a new one', async () => {
    const alice = await makeUser();
    const ep = await created(alice);
    const res = await call('PATCH', `/api/webhooks/${ep.id}`, { token: alice.token, body: { url: 'https://169.254.169.254/latest/meta-data' } });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe('webhook_url_refused');
  });
});

describe('send test, rotate secret, delivery log', () => {
  it('delivers a signed webhook.test that shows in the delivery log, and signs with the rotated secret afterwards', async () => {
    const rx = receiver([200]);
    restore = rx.restore;
    const alice = await makeUser();
    const ep = await created(alice);
    expect((await call('POST', `/api/webhooks/${ep.id}/test`, { token: alice.token })).status).toBe(202);
    await vi.waitFor(async () => {
      const log = await json<{ deliveries: Delivery[] }>(await call('GET', `/api/webhooks/${ep.id}/deliveries`, { token: alice.token }));
      expect(log.deliveries).toHaveLength(1);
      expect(log.deliveries[0]).toMatchObject({ event_type: 'webhook.test', status: 'succeeded', attempts: 1, response_status: 200 });
    }, { timeout: 10_000, interval: 200 });
    expect(rx.requests).toHaveLength(1);
    expect(JSON.parse(rx.requests[0]!.body)).toMatchObject({ type: 'webhook.test', data: { endpoint_id: ep.id } });
    expect(await verifyStandardWebhook(ep.secret!, rx.requests[0]!)).toBe(true);

    const rotated = await json<Endpoint>(await call('POST', `/api/webhooks/${ep.id}/rotate-secret`, { token: alice.token }));
    expect(rotated.secret).not.toBe(ep.secret);
    await call('POST', `/api/webhooks/${ep.id}/test`, { token: alice.token });
    await vi.waitFor(() => expect(rx.requests).toHaveLength(2), { timeout: 10_000, interval: 200 });
    expect(await verifyStandardWebhook(rotated.secret!, rx.requests[1]!)).toBe(true);
    expect(await verifyStandardWebhook(ep.secret!, rx.requests[1]!)).toBe(false);
  });
});

describe('retrying a failed delivery', () => {
  /** A delivery that failed for good after `attempts` tries, keeping its event (migration 0004). */
  async function failedDelivery(endpointId: string, o: { attempts?: number; status?: 'failed' | 'succeeded' | 'pending'; keepsEvent?: boolean } = {}) {
    const id = newDeliveryId();
    const event = { type: 'session.started', timestamp: '2026-11-30T10:00:00.000Z', data: { org_id: 1, session_id: 'ps_retry', user_id: 7, game_id: 3 } };
    await db(env)
      .insert(webhookDeliveries)
      .values({
        id,
        endpointId,
        eventType: event.type,
        eventJson: o.keepsEvent === false ? null : JSON.stringify(event),
        status: o.status ?? 'failed',
        attempts: o.attempts ?? 8,
        responseStatus: 500,
        error: 'HTTP 500',
      })
      .run();
    return { id, event };
  }
  const retry = (u: TestUser, ep: string, id: string) => call('POST', `/api/webhooks/${ep}/deliveries/${id}/retry`, { token: u.token });
  const logOf = async (u: TestUser, ep: string) => (await json<{ deliveries: Delivery[] }>(await call('GET', `/api/webhooks/${ep}/deliveries`, { token: u.token }))).deliveries;

  async function orgEndpoint() {
    const org = await makeOrg();
    const boss = await makeUser();
    await addMember(org.id, boss.id, 'admin');
    const ep = await created(boss, { scope: 'org', org_id: org.id, events: ['session.started'] });
    return { org, boss, ep };
  }

  it('lets the org admin send a failed delivery again: same stored body and webhook-id, pending, then succeeded', async () => {
    const rx = receiver([200]);
    restore = rx.restore;
    const { boss, ep } = await orgEndpoint();
    const { id, event } = await failedDelivery(ep.id);
    const res = await retry(boss, ep.id, id);
    expect(res.status).toBe(202);
    expect(await json(res)).toMatchObject({ id, status: 'pending', error: null, attempts: 8 });
    await vi.waitFor(async () => {
      expect((await logOf(boss, ep.id))[0]).toMatchObject({ id, status: 'succeeded', attempts: 9, response_status: 200, error: null });
    }, { timeout: 10_000, interval: 200 });
    expect(rx.requests).toHaveLength(1);
    expect(rx.requests[0]!.headers['webhook-id']).toBe(id);
    expect(JSON.parse(rx.requests[0]!.body)).toEqual(event);
    expect(await verifyStandardWebhook(ep.secret!, rx.requests[0]!)).toBe(true);
    const audit = await env.DB.prepare("SELECT target_id FROM audit_log WHERE action = 'webhook.delivery_retry'").all<{ target_id: string }>();
    expect(audit.results.map((r) => r.target_id)).toContain(ep.id);
  });

  it('refuses another org’s admin and a plain member of the org (404), leaving the delivery failed', async () => {
    const rx = receiver([200]);
    restore = rx.restore;
    const { org, ep } = await orgEndpoint();
    const { id } = await failedDelivery(ep.id);
    const other = await makeOrg();
    const stranger = await makeUser();
    await addMember(other.id, stranger.id, 'admin');
    const member = await makeUser();
    await addMember(org.id, member.id, 'member');
    for (const who of [stranger, member]) {
      const res = await retry(who, ep.id, id);
      expect(res.status).toBe(404);
    }
    // The other org's admin's own endpoint does not reach this org's delivery either.
    const theirs = await created(stranger, { scope: 'org', org_id: other.id, events: ['session.started'] });
    expect((await retry(stranger, theirs.id, id)).status).toBe(404);
    const row = await db(env).select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get();
    expect(row).toMatchObject({ status: 'failed', attempts: 8, error: 'HTTP 500' });
    expect(rx.requests).toHaveLength(0);
  });

  it('answers 409 for a delivery that is not failed, that keeps no event, or that a first click already queued', async () => {
    const rx = receiver([new TypeError('connection refused')]);
    restore = rx.restore;
    const { boss, ep } = await orgEndpoint();
    const done = await failedDelivery(ep.id, { status: 'succeeded', attempts: 1 });
    const notFailed = await retry(boss, ep.id, done.id);
    expect(notFailed.status).toBe(409);
    expect((await json(notFailed)).code).toBe('delivery_not_failed');
    const old = await failedDelivery(ep.id, { keepsEvent: false });
    const noEvent = await retry(boss, ep.id, old.id);
    expect(noEvent.status).toBe(409);
    expect((await json(noEvent)).code).toBe('delivery_not_resendable');
    const twice = await failedDelivery(ep.id);
    expect((await retry(boss, ep.id, twice.id)).status).toBe(202);
    const second = await retry(boss, ep.id, twice.id);
    expect(second.status).toBe(409);
    expect((await json(second)).code).toBe('delivery_not_failed');
    expect((await retry(boss, ep.id, 'msg_doesnotexist000000000')).status).toBe(404);
    expect((await retry(boss, ep.id, 'not-a-delivery')).status).toBe(400);
  });

  it('audits a retry only when it was queued: not one given back with 409 (nothing to send) or 503 (queue refused)', async () => {
    const { boss, ep } = await orgEndpoint();
    const audited = async () => (await env.DB.prepare("SELECT details FROM audit_log WHERE action = 'webhook.delivery_retry' AND target_id = ?1").bind(ep.id).all<{ details: string }>()).results.length;
    const unreadable = await failedDelivery(ep.id);
    await db(env).update(webhookDeliveries).set({ eventJson: '{"not": "an event"' }).where(eq(webhookDeliveries.id, unreadable.id)).run();
    const res = await retry(boss, ep.id, unreadable.id);
    expect([res.status, (await json(res)).code]).toEqual([409, 'delivery_not_resendable']);
    expect(await audited()).toBe(0);

    const refused = await failedDelivery(ep.id);
    const down = { ...env, WEBHOOK_QUEUE: { sendBatch: async () => { throw new Error('queue down'); } } } as unknown as Env;
    const req = new Request(`${BASE}/api/webhooks/${ep.id}/deliveries/${refused.id}/retry`, { method: 'POST', headers: { Authorization: `Bearer ${boss.token}`, 'cf-connecting-ip': '203.0.113.7' } });
    const busy = await app.fetch(req, down, createExecutionContext());
    expect([busy.status, (await json(busy)).code]).toEqual([503, 'queue_unavailable']);
    expect(await audited()).toBe(0);
    expect(await db(env).select().from(webhookDeliveries).where(eq(webhookDeliveries.id, refused.id)).get()).toMatchObject({ status: 'failed' });

    const rx = receiver([200]);
    restore = rx.restore;
    const fine = await failedDelivery(ep.id);
    expect((await retry(boss, ep.id, fine.id)).status).toBe(202);
    expect(await audited()).toBe(1);
  });
});

describe('retrying a failed delivery when the audit write fails', () => {
  it('sends nothing and leaves the delivery failed: the error the client gets is true', async () => {
    const org = await makeOrg();
    const boss = await makeUser();
    await addMember(org.id, boss.id, 'admin');
    const ep = await created(boss, { scope: 'org', org_id: org.id, events: ['session.started'] });
    const id = newDeliveryId();
    const event = { type: 'session.started', timestamp: '2026-11-30T10:00:00.000Z', data: { org_id: 1, session_id: 'ps_audit', user_id: 7, game_id: 3 } };
    await db(env).insert(webhookDeliveries).values({ id, endpointId: ep.id, eventType: event.type, eventJson: JSON.stringify(event), status: 'failed', attempts: 8, responseStatus: 500, error: 'HTTP 500' }).run();
    // The audit log refuses this one row, as a real D1 write can fail; every message sent is counted.
    await env.DB.exec("CREATE TRIGGER test_audit_down BEFORE INSERT ON audit_log WHEN NEW.action = 'webhook.delivery_retry' BEGIN SELECT RAISE(ABORT, 'audit down'); END");
    const sent: unknown[] = [];
    const counting = { ...env, WEBHOOK_QUEUE: { sendBatch: async (b: unknown[]) => { sent.push(...b); } } } as unknown as Env;
    try {
      const req = new Request(`${BASE}/api/webhooks/${ep.id}/deliveries/${id}/retry`, { method: 'POST', headers: { Authorization: `Bearer ${boss.token}`, 'cf-connecting-ip': '203.0.113.7' } });
      const res = await app.fetch(req, counting, createExecutionContext());
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(sent).toHaveLength(0);
      expect(await db(env).select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get()).toMatchObject({ status: 'failed', attempts: 8, error: 'HTTP 500' });
    } finally {
      await env.DB.exec('DROP TRIGGER test_audit_down');
    }
    // With the audit log back, the same click queues it once, audited once.
    const req = new Request(`${BASE}/api/webhooks/${ep.id}/deliveries/${id}/retry`, { method: 'POST', headers: { Authorization: `Bearer ${boss.token}`, 'cf-connecting-ip': '203.0.113.7' } });
    const ok = await app.fetch(req, counting, createExecutionContext());
    expect(ok.status).toBe(202);
    expect(sent).toHaveLength(1);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'webhook.delivery_retry' AND target_id = ?1").bind(ep.id).first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });
});

describe('OpenAPI', () => {
  it('documents every webhook operation with an operationId, tags, bearer security and a 4xx', async () => {
    const doc = await json<{ paths: Record<string, Record<string, { operationId?: string; tags?: string[]; security?: unknown[]; responses: Record<string, unknown> }>> }>(await call('GET', '/openapi.json'));
    const ops = Object.entries(doc.paths)
      .filter(([p]) => p.startsWith('/api/webhooks'))
      .flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ at: `${m} ${p}`, ...op })));
    expect(ops.map((o) => o.operationId).sort()).toEqual(
      ['createWebhookEndpoint', 'deleteWebhookEndpoint', 'getWebhookEndpoint', 'listWebhookDeliveries', 'listWebhookEndpoints', 'retryWebhookDelivery', 'rotateWebhookSecret', 'sendWebhookTest', 'updateWebhookEndpoint'],
    );
    for (const o of ops) {
      expect(o.tags, o.at).toEqual(['webhooks']);
      expect(o.security, o.at).toEqual([{ bearer: [] }]);
      expect(Object.keys(o.responses).some((s) => s.startsWith('4')), o.at).toBe(true);
    }
  });
});
