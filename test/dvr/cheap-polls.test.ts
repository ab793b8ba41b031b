/**
 * Cheap polls (issue 17 target 3): DVR list routes carry a strong ETag built from per-scope change
 * counters; a matching If-None-Match answers 304 with no body, and every kind of change a list
 * shows (subscribe, posture, a source's runtime from the overseer, an admin edit, the config, a
 * user deletion's cascade) makes the next poll a 200 with the new data. Another user's change does
 * not invalidate my list; a 304 is only possible after the route's own authorization.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, subscribedAndRunning, useFakeOverseer, type FakeOverseer } from './fake';

let fake: FakeOverseer;
let admin: TestUser;
let me: TestUser;
let other: TestUser;

type Sub = { username: string; posture: string; worker_state: string; sub_id: number };

/** A poll as the dashboard makes it: the last tag in If-None-Match. */
async function poll(path: string, who: { token: string }, etag?: string) {
  const res = await call('GET', path, { token: who.token, headers: etag ? { 'If-None-Match': etag } : {} });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get('ETag'), text, body: text ? (JSON.parse(text) as unknown) : null };
}

beforeAll(async () => {
  fake = await useFakeOverseer('cheap-polls');
  admin = await makeUser({ role: 'admin' });
  me = await makeUser();
  other = await makeUser();
});

describe('GET /api/subscriptions with If-None-Match', () => {
  it('answers 304 with no body while nothing changed, and the same strong tag', async () => {
    await call('POST', '/api/subscriptions', { token: me.token, body: { driver: 'chaturbate', username: 'poll-a' } });
    const first = await poll('/api/subscriptions', me);
    expect(first.status).toBe(200);
    expect(first.etag).toMatch(/^"[^"]+"$/);
    const again = await poll('/api/subscriptions', me, first.etag!);
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.etag).toBe(first.etag);
  });

  it('a wrong or old tag gets the full list', async () => {
    const wrong = await poll('/api/subscriptions', me, '"nope"');
    expect(wrong.status).toBe(200);
    expect((wrong.body as Sub[]).map((s) => s.username)).toContain('poll-a');
    const before = wrong.etag!;
    await call('POST', '/api/subscriptions', { token: me.token, body: { driver: 'chaturbate', username: 'poll-b' } });
    const stale = await poll('/api/subscriptions', me, before);
    expect(stale.status).toBe(200);
    expect((stale.body as Sub[]).map((s) => s.username)).toContain('poll-b');
    expect(stale.etag).not.toBe(before);
  });

  it('a pause makes the next poll a 200 showing it', async () => {
    const { etag } = await poll('/api/subscriptions', me);
    await call('POST', '/api/subscriptions/chaturbate/poll-b/pause', { token: me.token });
    const next = await poll('/api/subscriptions', me, etag!);
    expect(next.status).toBe(200);
    expect((next.body as Sub[]).find((s) => s.username === 'poll-b')!.posture).toBe('paused');
  });

  it("another user's subscription does not invalidate my list, but does the admin's", async () => {
    // Let the recorders started and stopped above settle (their runtime is the global sources scope).
    let mine = await poll('/api/subscriptions', me);
    mine = await eventually(async () => poll('/api/subscriptions', me, mine.etag!).then((r) => (r.status === 200 ? (mine = r) : r)), (r) => r.status === 304, 'settled');
    const all = await poll('/api/subscriptions', admin);
    // poll-a already records for me: a second subscriber changes no runtime, only subscriptions.
    await call('POST', '/api/subscriptions', { token: other.token, body: { driver: 'chaturbate', username: 'poll-a' } });
    await call('POST', '/api/subscriptions/chaturbate/poll-a/pause', { token: other.token });
    expect((await poll('/api/subscriptions', me, mine.etag!)).status).toBe(304);
    const adminNext = await poll('/api/subscriptions', admin, all.etag!);
    expect(adminNext.status).toBe(200);
    expect((adminNext.body as Array<Sub & { user_id: number }>).some((s) => s.username === 'poll-a' && s.user_id === other.id)).toBe(true);
  });

  it("an admin's edit of my subscription makes my next poll a 200", async () => {
    const mine = await poll('/api/subscriptions', me);
    const subId = (mine.body as Sub[]).find((s) => s.username === 'poll-a')!.sub_id;
    expect((await call('POST', `/api/admin/subscriptions/${subId}/pause`, { token: admin.token })).status).toBe(200);
    const next = await poll('/api/subscriptions', me, mine.etag!);
    expect(next.status).toBe(200);
    expect((next.body as Sub[]).find((s) => s.username === 'poll-a')!.posture).toBe('paused');
  });

  it('a source status change pushed by the overseer makes the next poll a 200', async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, me, 'poll-live');
    const running = await poll('/api/subscriptions', me);
    expect((running.body as Sub[]).find((s) => s.username === 'poll-live')!.worker_state).toBe('running');
    expect((await poll('/api/subscriptions', me, running.etag!)).status).toBe(304);
    await fake.send({ type: 'exited', task_id: taskId, pid, exit_code: 0, intentional: true, ts: new Date().toISOString() });
    const after = await eventually(() => poll('/api/subscriptions', me, running.etag!), (r) => r.status === 200, 'a 200 after the exit');
    expect((after.body as Sub[]).find((s) => s.username === 'poll-live')!.worker_state).toBe('idle');
  });

  it('a config change invalidates the lists (canonical URLs are part of them)', async () => {
    const mine = await poll('/api/subscriptions', me);
    const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
    expect((await call('PUT', '/api/config', { token: admin.token, body: cfg })).status).toBe(200);
    expect((await poll('/api/subscriptions', me, mine.etag!)).status).toBe(200);
  });

  it("a deleted user's cascade invalidates the admin's list", async () => {
    const doomed = await makeUser();
    await call('POST', '/api/subscriptions', { token: doomed.token, body: { driver: 'chaturbate', username: 'poll-doomed' } });
    const all = await poll('/api/subscriptions', admin);
    expect((all.body as Sub[]).some((s) => s.username === 'poll-doomed')).toBe(true);
    expect((await call('DELETE', `/api/users/${doomed.id}`, { token: admin.token })).status).toBe(204);
    const next = await poll('/api/subscriptions', admin, all.etag!);
    expect(next.status).toBe(200);
    expect((next.body as Sub[]).some((s) => s.username === 'poll-doomed')).toBe(false);
  });
});

describe('authorization comes before the tag', () => {
  it('an anonymous caller with a current tag is refused, not answered 304', async () => {
    const { etag } = await poll('/api/subscriptions', me);
    const res = await call('GET', '/api/subscriptions', { headers: { 'If-None-Match': etag! } });
    expect(res.status).toBe(403);
  });

  it("my tag sent by another user gets that user's own list", async () => {
    const mine = await poll('/api/subscriptions', me);
    const theirs = await poll('/api/subscriptions', other, mine.etag!);
    expect(theirs.status).toBe(200);
    expect(theirs.etag).not.toBe(mine.etag);
    expect((theirs.body as Array<Sub & { user_id: number }>).every((s) => s.user_id === other.id)).toBe(true);
  });

  it("a stranger with the owner's events tag is refused", async () => {
    const owned = await poll('/api/sources/chaturbate/poll-a/events', me);
    expect(owned.status).toBe(200);
    expect((await poll('/api/sources/chaturbate/poll-a/events', me, owned.etag!)).status).toBe(304);
    const stranger = await makeUser();
    // Not a 304: the source is hidden from a non-subscriber exactly as without a tag.
    expect((await poll('/api/sources/chaturbate/poll-a/events', stranger, owned.etag!)).status).toBe(404);
  });

  it('a non-admin with the admin users-list tag is refused', async () => {
    const users = await poll('/api/users', admin);
    expect(users.status).toBe(200);
    expect((await poll('/api/users', admin, users.etag!)).status).toBe(304);
    expect((await poll('/api/users', me, users.etag!)).status).toBe(403);
  });
});

describe('the other lists', () => {
  it("a source's events poll turns 200 when the overseer reports a worker event", async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, me, 'poll-events');
    const before = await poll('/api/sources/chaturbate/poll-events/events', me);
    expect((await poll('/api/sources/chaturbate/poll-events/events', me, before.etag!)).status).toBe(304);
    await fake.send({ type: 'exited', task_id: taskId, pid, exit_code: 3, intentional: false, ts: new Date().toISOString() });
    const after = await eventually(() => poll('/api/sources/chaturbate/poll-events/events', me, before.etag!), (r) => r.status === 200, 'a 200 after the exit');
    expect((after.body as { events: Array<{ event_type: string }> }).events[0]!.event_type).toBe('exited');
  });

  it('a new user invalidates the users list; an admin’s user list for me follows my changes', async () => {
    const users = await poll('/api/users', admin);
    await makeUser();
    expect((await poll('/api/users', admin, users.etag!)).status).toBe(200);
    const mineViaAdmin = await poll(`/api/admin/users/${me.id}/subscriptions`, admin);
    expect((await poll(`/api/admin/users/${me.id}/subscriptions`, admin, mineViaAdmin.etag!)).status).toBe(304);
    await call('POST', '/api/subscriptions/chaturbate/poll-a/resume', { token: me.token });
    expect((await poll(`/api/admin/users/${me.id}/subscriptions`, admin, mineViaAdmin.etag!)).status).toBe(200);
  });
});

describe('polls read from the overseer or a monitor (tagged by digest)', () => {
  it("a source's log tail answers 304 while unchanged and 200 with the new line after one", async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, me, 'poll-logs');
    const path = '/api/sources/chaturbate/poll-logs/logs';
    const first = await poll(path, me);
    expect(first.status).toBe(200);
    const again = await poll(path, me, first.etag!);
    expect([again.status, again.text, again.etag]).toEqual([304, '', first.etag]);
    await fake.send({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: 'poll-logs: a line the page shows', ts: new Date().toISOString() });
    const after = await eventually(() => poll(path, me, first.etag!), (r) => r.status === 200, 'a 200 after the new line');
    expect((after.body as { logs: string[] }).logs.some((l) => l.includes('poll-logs: a line the page shows'))).toBe(true);
    expect(after.etag).not.toBe(first.etag);
    // Authorization first: a stranger holding the tag gets the same 404 as without it.
    expect((await poll(path, await makeUser(), after.etag!)).status).toBe(404);
  });

  it('diagnostics answer 304 while the fleet is unchanged and 200 when the pool changes', async () => {
    const first = await poll('/api/admin/diagnostics', admin);
    expect(first.status).toBe(200);
    expect((await poll('/api/admin/diagnostics', admin, first.etag!)).status).toBe(304);
    const limit = ((first.body as { recorder: { pool?: { limit: number } } }).recorder.pool?.limit ?? 50) + 7;
    await fake.pool(limit);
    const after = await eventually(() => poll('/api/admin/diagnostics', admin, first.etag!), (r) => r.status === 200, 'a 200 after the pool change');
    expect((after.body as { recorder: { pool: { limit: number } } }).recorder.pool.limit).toBe(limit);
    expect((await poll('/api/admin/diagnostics', me, after.etag!)).status).toBe(403);
  });

  it("the overseer's task list answers 304 while unchanged and 200 with a new task", async () => {
    const first = await poll('/api/workers', admin);
    expect(first.status).toBe(200);
    expect((await poll('/api/workers', admin, first.etag!)).status).toBe(304);
    await subscribedAndRunning(fake, me, 'poll-workers');
    const after = await eventually(() => poll('/api/workers', admin, first.etag!), (r) => r.status === 200, 'a 200 with the new task');
    expect((after.body as Array<{ params?: { source?: string } }>).some((t) => t.params?.source === 'poll-workers')).toBe(true);
    expect((await poll('/api/workers', me, after.etag!)).status).toBe(403);
  });
});
