/**
 * Built lists kept per isolate (issue 17 target 3, src/dvr/list-cache.ts): a changed list is read
 * and built once, and every later poll of the same version — the dashboards holding an old tag —
 * is answered from the kept bytes, its batch reading only the counters. A change moves a counter
 * and the next poll is built again; a body is only ever served to a caller of its own view (a
 * user's list never to another user, everyone's list only to a caller the batch confirmed as
 * admin); the kept bytes stay within their bound. Browsers (gzip first in Accept-Encoding) get the
 * kept gzip bytes. Tests and Worker share the isolate, so the kept entries are looked at directly.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { listCacheUsage, prefersGzip, resetListCache } from '../../src/dvr/list-cache';
import { app } from '../../src/app';
import { BASE, call } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

let admin: TestUser;
let alice: TestUser;
let bob: TestUser;

type Sub = { username: string; posture: string; user_id: number };
const BROWSER = 'gzip, deflate, br, zstd';
const STALE_ALL = '"subs-all-0.0.0"';

beforeAll(async () => {
  await useFakeOverseer('list-cache');
  admin = await makeUser({ role: 'admin' });
  alice = await makeUser();
  bob = await makeUser();
  await subscribePaused(alice, 'cache-alice-1');
  await subscribePaused(alice, 'cache-alice-2');
  await subscribePaused(bob, 'cache-bob-1');
});

/**
 * A paused subscription written straight into D1 (its triggers bump the counters as any writer's
 * do): no recorder starts, so no runtime change moves the lists while a test compares them.
 */
async function subscribePaused(who: { id: number }, name: string) {
  await env.DB.batch([
    env.DB.prepare(`INSERT INTO sources (driver, username) VALUES ('chaturbate', ?1)`).bind(name),
    env.DB.prepare(`INSERT INTO subscriptions (user_id, source_id, posture) SELECT ?1, id, 'paused' FROM sources WHERE username = ?2`).bind(who.id, name),
  ]);
}

afterEach(() => resetListCache());

/**
 * GETs `path` and records, per statement of the request's D1 batch (requests read through a D1
 * session, src/http/d1-session.ts), the rows it returned.
 */
async function get(path: string, who: { token: string }, headers: Record<string, string> = {}) {
  const statements: Array<{ sql: string; rows: number }> = [];
  const open = env.DB.withSession.bind(env.DB);
  const spy = vi.spyOn(env.DB, 'withSession').mockImplementation((constraint?: string) => {
    const session = open(constraint as never);
    const batch = session.batch.bind(session);
    session.batch = (async (stmts: D1PreparedStatement[]) => {
      const sqls = stmts.map((s) => String((s as unknown as { statement?: string }).statement ?? ''));
      const results = await batch(stmts);
      results.forEach((r, i) => statements.push({ sql: sqls[i]!, rows: r.results?.length ?? 0 }));
      return results;
    }) as typeof session.batch;
    return session;
  });
  try {
    const res = await call('GET', path, { token: who.token, headers });
    const text = await res.text();
    return { status: res.status, etag: res.headers.get('ETag'), text, body: text ? (JSON.parse(text) as unknown) : null, statements };
  } finally {
    spy.mockRestore();
  }
}

/** Rows the subscription list statements returned (SQLite-built JSON parts). */
const listRows = (r: { statements: Array<{ sql: string; rows: number }> }) => r.statements.filter((s) => s.sql.includes('group_concat')).reduce((n, s) => n + s.rows, 0);

describe('a changed list is built once and served many times', () => {
  it('a second poll with a stale tag reads no list row and gets the same bytes and tag', async () => {
    const first = await get('/api/subscriptions', admin, { 'If-None-Match': STALE_ALL });
    expect(first.status).toBe(200);
    expect(listRows(first)).toBeGreaterThan(0);
    expect((first.body as Sub[]).map((s) => s.username)).toEqual(['cache-alice-1', 'cache-alice-2', 'cache-bob-1']);
    const second = await get('/api/subscriptions', admin, { 'If-None-Match': STALE_ALL });
    expect(second.status).toBe(200);
    expect(listRows(second)).toBe(0);
    expect(second.text).toBe(first.text);
    expect(second.etag).toBe(first.etag);
    // Still one batch: the kept body costs no second trip.
    expect(new Set(second.statements.map((s) => s.sql)).size).toBe(second.statements.length);
    // Without any tag (a page's first load) the kept body serves too.
    const plain = await get('/api/subscriptions', admin);
    expect([plain.status, listRows(plain), plain.text]).toEqual([200, 0, first.text]);
  });

  it('a change makes the next poll a new body, then that one is kept', async () => {
    const before = await get('/api/subscriptions', alice);
    expect((before.body as Sub[]).every((s) => s.posture === 'paused')).toBe(true);
    expect(listRows(await get('/api/subscriptions', alice))).toBe(0);
    // Straight into D1 (the trigger bumps alice's counter): the archive route would also message
    // the recorder fleet, whose answer could move the lists again mid-test.
    await env.DB.prepare(`UPDATE subscriptions SET posture = 'archived' WHERE user_id = ?1 AND source_id = (SELECT id FROM sources WHERE username = 'cache-alice-1')`).bind(alice.id).run();
    const after = await get('/api/subscriptions', alice, { 'If-None-Match': before.etag! });
    expect(after.status).toBe(200);
    expect(after.etag).not.toBe(before.etag);
    expect(listRows(after)).toBeGreaterThan(0);
    expect((after.body as Sub[]).find((s) => s.username === 'cache-alice-1')!.posture).toBe('archived');
    const again = await get('/api/subscriptions', alice, { 'If-None-Match': before.etag! });
    expect([listRows(again), again.text]).toEqual([0, after.text]);
    // The client holding the new tag still gets its 304.
    expect((await get('/api/subscriptions', alice, { 'If-None-Match': after.etag! })).status).toBe(304);
  });

  it('the users list and an admin’s view of a user’s list are kept too, and follow changes', async () => {
    const users = await get('/api/users', admin, { 'If-None-Match': '"users-0"' });
    const usersAgain = await get('/api/users', admin, { 'If-None-Match': '"users-0"' });
    expect(usersAgain.statements.find((s) => s.sql.includes('username_enc'))!.rows).toBe(0);
    expect(usersAgain.text).toBe(users.text);
    const carol = await makeUser();
    const usersAfter = await get('/api/users', admin, { 'If-None-Match': '"users-0"' });
    expect((usersAfter.body as Array<{ id: number }>).map((u) => u.id)).toContain(carol.id);

    const viaAdmin = await get(`/api/admin/users/${bob.id}/subscriptions`, admin);
    expect((viaAdmin.body as Sub[]).map((s) => s.username)).toEqual(['cache-bob-1']);
    // Bob's own poll is the same view (`subs-u<id>`): the admin's build serves it.
    const own = await get('/api/subscriptions', bob);
    expect([listRows(own), own.text]).toEqual([0, viaAdmin.text]);
  });
});

describe("a source's events (the source page's list)", () => {
  const path = '/api/sources/chaturbate/cache-alice-2/events';
  const eventRows = (r: { statements: Array<{ sql: string; rows: number }> }) => r.statements.find((s) => s.sql.includes('from "worker_events"'))!.rows;
  async function event(type: string, ts: string) {
    await env.DB.prepare(`INSERT INTO worker_events (source_id, pid, event_type, exit_code, ts) SELECT id, 41, ?1, NULL, ?2 FROM sources WHERE username = 'cache-alice-2'`).bind(type, ts).run();
  }

  it('are kept while unchanged, rebuilt after a new event, and never shown to a stranger', async () => {
    await event('started', '2026-12-01T10:00:00Z');
    const stale = { 'If-None-Match': '"events-1-0"' };
    const first = await get(path, alice, stale);
    expect(first.status).toBe(200);
    expect(eventRows(first)).toBe(1);
    const second = await get(path, alice, stale);
    expect([second.status, eventRows(second), second.text, second.etag]).toEqual([200, 0, first.text, first.etag]);
    await event('exited', '2026-12-01T10:05:00Z');
    const third = await get(path, alice, stale);
    expect(eventRows(third)).toBe(2);
    expect((third.body as { events: Array<{ event_type: string }> }).events.map((e) => e.event_type)).toEqual(['exited', 'started']);
    // Kept for alice's source: bob does not subscribe to it, and is refused as before.
    expect((await call('GET', path, { token: bob.token })).status).toBe(404);
    expect((await get(path, admin, stale)).text).toBe(third.text);
  });
});

describe('a kept list is only served to its own view', () => {
  it("user A never gets user B's list, with any tag", async () => {
    const bobs = await get('/api/subscriptions', bob);
    expect(listCacheUsage().keys).toContain(`subs-u${bob.id}`);
    for (const tag of [undefined, bobs.etag!, `"subs-u${alice.id}-0.0.0"`]) {
      const alices = await get('/api/subscriptions', alice, tag ? { 'If-None-Match': tag } : {});
      expect(alices.status).toBe(200);
      expect((alices.body as Sub[]).every((s) => s.user_id === alice.id)).toBe(true);
      expect(alices.text).not.toBe(bobs.text);
    }
  });

  it("a user never gets everyone's list, even with its tag, nor an admin demoted since it was kept", async () => {
    const all = await get('/api/subscriptions', admin);
    expect((all.body as Sub[]).length).toBe(3);
    const user = await get('/api/subscriptions', alice, { 'If-None-Match': all.etag! });
    expect(user.status).toBe(200);
    expect((user.body as Sub[]).every((s) => s.user_id === alice.id)).toBe(true);

    const demoted = await makeUser({ role: 'admin' });
    expect(((await get('/api/subscriptions', demoted)).body as Sub[]).length).toBe(3);
    await env.DB.prepare(`UPDATE users SET role = 'user' WHERE id = ?1`).bind(demoted.id).run();
    const after = await get('/api/subscriptions', demoted, { 'If-None-Match': all.etag! });
    expect(after.status).toBe(200);
    expect(after.body).toEqual([]);
    expect((await call('GET', '/api/users', { token: demoted.token })).status).toBe(403);
  });

  it('a refused caller gets the refusal, not the kept body', async () => {
    await get(`/api/admin/users/${bob.id}/subscriptions`, admin);
    expect((await call('GET', `/api/admin/users/${bob.id}/subscriptions`, { token: alice.token })).status).toBe(403);
    expect((await call('GET', '/api/subscriptions')).status).toBe(403);
  });
});

describe('the bound', () => {
  it('keeps the total within its bytes, dropping the least recently used view first', async () => {
    const a = (await get('/api/subscriptions', alice)).text.length;
    const b = (await get('/api/subscriptions', bob)).text.length;
    resetListCache(a + b + 10);
    await get('/api/subscriptions', alice);
    await get('/api/subscriptions', bob);
    expect(listCacheUsage().keys).toEqual([`subs-u${alice.id}`, `subs-u${bob.id}`]);
    await get('/api/subscriptions', alice); // alice's is now the most recently used
    const third = await makeUser();
    await subscribePaused(third, 'cache-third');
    await get('/api/subscriptions', third);
    const usage = listCacheUsage();
    expect(usage.bytes).toBeLessThanOrEqual(usage.maxBytes);
    expect(usage.keys).toEqual([`subs-u${alice.id}`, `subs-u${third.id}`]);
    // An evicted view is read again, in the same single batch.
    const bobs = await get('/api/subscriptions', bob);
    expect(listRows(bobs)).toBeGreaterThan(0);
    expect((bobs.body as Sub[]).map((s) => s.username)).toEqual(['cache-bob-1']);
    expect(listCacheUsage().bytes).toBeLessThanOrEqual(usage.maxBytes);
  });

  it('does not keep a body larger than the whole bound, and still answers it', async () => {
    resetListCache(64);
    const all = await get('/api/subscriptions', admin);
    expect((all.body as Sub[]).length).toBeGreaterThan(0);
    expect(listCacheUsage()).toMatchObject({ entries: 0, bytes: 0 });
  });
});

describe('compression of kept lists', () => {
  /** The Worker's own answer, bytes as it sends them (a fetch through SELF would decode gzip). */
  async function raw(headers: Record<string, string>) {
    const res = await app.request(`${BASE}/api/subscriptions`, { headers: { Authorization: `Bearer ${admin.token}`, 'cf-connecting-ip': '203.0.113.7', ...headers } }, env);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const encoding = res.headers.get('Content-Encoding');
    const plain = encoding === 'gzip' ? await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text() : new TextDecoder().decode(bytes);
    return { status: res.status, encoding, vary: res.headers.get('Vary'), etag: res.headers.get('ETag'), wireBytes: bytes.byteLength, text: plain };
  }

  it('a browser gets the kept gzip bytes (decoding to the same JSON); other clients get plain JSON', async () => {
    const plain = await raw({});
    expect([plain.status, plain.encoding]).toEqual([200, null]);
    const browser = await raw({ 'Accept-Encoding': BROWSER });
    expect([browser.status, browser.encoding, browser.vary]).toEqual([200, 'gzip', 'Accept-Encoding']);
    expect(browser.text).toBe(plain.text);
    expect(browser.wireBytes).toBeLessThan(plain.wireBytes);
    expect(browser.etag).toBe(plain.etag);
    expect((await raw({ 'Accept-Encoding': BROWSER })).text).toBe(plain.text);
    const brFirst = await raw({ 'Accept-Encoding': 'br, gzip' });
    expect([brFirst.encoding, brFirst.text]).toEqual([null, plain.text]);
    // Through the Worker's own fetch handler a browser's request decodes to the same list.
    expect(await (await call('GET', '/api/subscriptions', { token: admin.token, headers: { 'Accept-Encoding': BROWSER } })).text()).toBe(plain.text);
  });

  it('reads the client’s preference as the edge does', () => {
    expect(prefersGzip(BROWSER)).toBe(true);
    expect(prefersGzip('gzip, deflate')).toBe(true);
    expect(prefersGzip('br, gzip')).toBe(false);
    expect(prefersGzip('br;q=0.5, gzip')).toBe(true);
    expect(prefersGzip('gzip;q=0, br')).toBe(false);
    expect(prefersGzip('identity, gzip')).toBe(false);
    expect(prefersGzip('deflate')).toBe(false);
    expect(prefersGzip(undefined)).toBe(false);
    // The last header's answer is remembered: asking again, after another header, answers alike.
    expect(prefersGzip('br, gzip')).toBe(false);
    expect(prefersGzip(BROWSER)).toBe(true);
    expect(prefersGzip(BROWSER)).toBe(true);
    expect(prefersGzip('br, gzip')).toBe(false);
  });
});
