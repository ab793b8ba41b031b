/**
 * `GET /api/subscriptions` is polled every 5 s by every open dashboard: it must cost a constant
 * number of D1 statements however many subscriptions there are, must not carry log tails, and
 * (issue 17 target 1) waits on ONE storage round trip, the 304 answer included; so does the single
 * GET with its log tail. Statements are counted by spying on the D1 binding the Worker uses (tests
 * and Worker share the isolate), round trips by the Worker's own `X-Storage-Round-Trips`.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { app } from '../../src/app';
import { BASE, call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

let admin: TestUser;
let user: TestUser;

beforeAll(async () => {
  await useFakeOverseer('list-cost');
  admin = await makeUser({ role: 'admin' });
  user = await makeUser();
});

// As in production: metrics go to Analytics Engine (METRICS_STORE=d1 in tests would add the
// metric's own D1 write, fired after the answer, as a trip).
const counted = { ...env, COUNT_ROUND_TRIPS: 'true', METRICS_STORE: 'analytics-engine' };

async function measured(path: string, token: string | undefined, headers: Record<string, string> = {}) {
  const res = await app.request(`${BASE}${path}`, { headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'cf-connecting-ip': '203.0.113.7', ...headers } }, counted);
  const text = await res.text();
  return { status: res.status, trips: res.headers.get('X-Storage-Round-Trips'), etag: res.headers.get('ETag'), text, bookmark: res.headers.get('x-d1-bookmark') };
}

/** Inserts `n` paused subscriptions for `userId` straight into D1 (no recorder starts). */
async function seed(userId: number, n: number, prefix: string) {
  const stmts: D1PreparedStatement[] = [];
  for (let i = 0; i < n; i++) {
    stmts.push(env.DB.prepare(`INSERT INTO sources (driver, username) VALUES ('chaturbate', ?1)`).bind(`${prefix}${i}`));
    stmts.push(
      env.DB.prepare(`INSERT INTO subscriptions (user_id, source_id, posture) SELECT ?1, id, 'paused' FROM sources WHERE driver = 'chaturbate' AND username = ?2`).bind(
        userId,
        `${prefix}${i}`,
      ),
    );
  }
  await env.DB.batch(stmts);
}

async function statementsFor(path: string, token: string): Promise<{ count: number; body: Array<Record<string, unknown>> }> {
  const prepare = vi.spyOn(env.DB, 'prepare');
  const batch = vi.spyOn(env.DB, 'batch');
  // Requests read through a D1 session (src/http/d1-session.ts): count what goes through it too.
  const sessionSql: string[] = [];
  let sessionBatches = 0;
  const open = env.DB.withSession.bind(env.DB);
  const withSession = vi.spyOn(env.DB, 'withSession').mockImplementation((constraint?: string) => {
    const session = open(constraint as never);
    const prep = session.prepare.bind(session);
    const bat = session.batch.bind(session);
    session.prepare = (q: string) => (sessionSql.push(q), prep(q));
    session.batch = ((stmts: D1PreparedStatement[]) => (sessionBatches++, bat(stmts))) as typeof session.batch;
    return session;
  });
  try {
    const res = await call('GET', path, { token });
    expect(res.status).toBe(200);
    const body = await json<Array<Record<string, unknown>>>(res);
    // The request's metric (METRICS_STORE=d1 in tests; Analytics Engine in production) is written
    // after the answer, off the critical path: it is not the route's cost.
    const own = [...prepare.mock.calls.map(([q]) => String(q)), ...sessionSql].filter((q) => !q.includes('metric_points'));
    return { count: own.length + batch.mock.calls.length + sessionBatches, body };
  } finally {
    prepare.mockRestore();
    batch.mockRestore();
    withSession.mockRestore();
  }
}

describe('GET /api/subscriptions cost', () => {
  it('uses the same number of D1 statements for 5 and for 300 subscriptions, without logs', async () => {
    await seed(admin.id, 5, 'few');
    const small = await statementsFor('/api/subscriptions', admin.token);
    expect(small.body).toHaveLength(5);
    await seed(admin.id, 295, 'many');
    const large = await statementsFor('/api/subscriptions', admin.token);
    expect(large.body).toHaveLength(300);
    expect(large.count).toBe(small.count);
    expect(small.count).toBeGreaterThan(0); // the spy sees the Worker's statements
    // One batch (1) of 3 statements: the caller's session lookup, the change counters (the list's
    // ETag) and the guarded list statement (everyone's for an admin, the caller's own otherwise,
    // each part with the config its canonical URLs follow).
    expect(small.count).toBeLessThanOrEqual(4);
    expect(large.body.every((s) => Array.isArray(s.logs) && (s.logs as unknown[]).length === 0)).toBe(true);
    expect(large.body[0]).toMatchObject({ canonical_url: 'https://chaturbate.com/few0/', status: 'inactive', last_heartbeat: '0001-01-01T00:00:00Z' });
  });
});

describe('round trips (issue 17 target 1)', () => {
  it('GET /api/subscriptions is one round trip for an admin and for a user, 200 or 304, and keeps the D1 bookmark', async () => {
    await call('POST', '/api/subscriptions', { token: user.token, body: { driver: 'chaturbate', username: 'trip-a' } });
    for (const who of [admin, user]) {
      const full = await measured('/api/subscriptions', who.token);
      expect(full.status).toBe(200);
      expect(full.trips).toBe('1');
      expect(full.bookmark).toBeTruthy();
      const again = await measured('/api/subscriptions', who.token, { 'If-None-Match': full.etag! });
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
      expect(again.trips).toBe('1');
      expect(again.etag).toBe(full.etag);
    }
    const mine = JSON.parse((await measured('/api/subscriptions', user.token)).text) as Array<{ username: string; user_id: number }>;
    expect(mine.map((s) => s.username)).toEqual(['trip-a']);
  });

  it('the other conditional lists are one round trip too', async () => {
    for (const [path, token] of [
      [`/api/admin/users/${user.id}/subscriptions`, admin.token],
      ['/api/users', admin.token],
      ['/api/sources/chaturbate/trip-a/events', user.token],
    ] as const) {
      const full = await measured(path, token);
      expect([path, full.status, full.trips]).toEqual([path, 200, '1']);
      const again = await measured(path, token, { 'If-None-Match': full.etag! });
      expect([path, again.status, again.trips]).toEqual([path, 304, '1']);
    }
  });

  it('GET /api/subscriptions/{d}/{u} with its log tail is one round trip', async () => {
    const one = await measured('/api/subscriptions/chaturbate/trip-a', user.token);
    expect(one.status).toBe(200);
    expect(one.trips).toBe('1');
    expect(JSON.parse(one.text)).toMatchObject({ username: 'trip-a', user_id: user.id, logs: expect.any(Array) });
  });

  it('refuses the wrong actor with the same codes as before, after that one trip', async () => {
    // No token: refused without any storage call.
    const anon = await measured('/api/subscriptions', undefined);
    expect([anon.status, JSON.parse(anon.text).code, anon.trips]).toEqual([403, 'missing_token', '0']);
    // A revoked login (logged out): the batch's caller check refuses, list or not.
    const gone = await makeUser();
    expect((await call('POST', '/api/auth/logout', { token: gone.token })).status).toBeLessThan(300);
    const revoked = await measured('/api/subscriptions', gone.token);
    expect([revoked.status, JSON.parse(revoked.text).code, revoked.trips]).toEqual([403, 'invalid_token', '1']);
    // Someone else's subscription: 404 as before; a non-admin on admin lists: 403 admin_required.
    const stranger = await makeUser();
    const other = await measured('/api/subscriptions/chaturbate/trip-a', stranger.token);
    expect([other.status, JSON.parse(other.text).error]).toEqual([404, 'subscription chaturbate/trip-a not found']);
    for (const path of [`/api/admin/users/${user.id}/subscriptions`, '/api/users']) {
      const res = await measured(path, user.token);
      expect([path, res.status, JSON.parse(res.text).code]).toEqual([path, 403, 'admin_required']);
    }
    const events = await measured('/api/sources/chaturbate/trip-a/events', stranger.token);
    expect([events.status, JSON.parse(events.text).error]).toEqual([404, 'source chaturbate/trip-a not found']);
  });
});
