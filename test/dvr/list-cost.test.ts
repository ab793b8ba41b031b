/**
 * `GET /api/subscriptions` is polled every 5 s by every open dashboard: it must cost a constant
 * number of D1 statements however many subscriptions there are, and must not carry log tails.
 * Counted by spying on the D1 binding the Worker uses (tests and Worker share the isolate).
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

let admin: TestUser;

beforeAll(async () => {
  await useFakeOverseer('list-cost');
  admin = await makeUser({ role: 'admin' });
});

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
    // The caller's session lookup, the change counters (the list's ETag, which lets an unchanged
    // poll answer 304 without building the list), and the list itself.
    expect(small.count).toBeLessThanOrEqual(3);
    expect(large.body.every((s) => Array.isArray(s.logs) && (s.logs as unknown[]).length === 0)).toBe(true);
    expect(large.body[0]).toMatchObject({ canonical_url: 'https://chaturbate.com/few0/', status: 'inactive', last_heartbeat: '0001-01-01T00:00:00Z' });
  });
});
