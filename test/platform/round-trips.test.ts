/**
 * The round-trip counter (src/http/round-trips.ts): with COUNT_ROUND_TRIPS on, each answer says how
 * many sequential storage trips (D1 calls or batches, Durable Object calls) the request waited on;
 * overlapping calls are one trip; off, nothing is added.
 */
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../src/env';
import { app } from '../../src/app';
import { db } from '../../src/db/client';
import { countRoundTrips } from '../../src/http/round-trips';
import { makeGame, member, onlineNode, own, playWorld } from '../console/play/helpers';

const on = { ...env, COUNT_ROUND_TRIPS: 'true' };
const one = (d: ReturnType<typeof db>) => d.get<{ n: number }>(sql`SELECT 1 AS n`);

const probe = new Hono<AppEnv>()
  .use('*', countRoundTrips)
  .get('/none', (c) => c.text('ok'))
  .get('/one', async (c) => c.json(await one(db(c.env))))
  .get('/two', async (c) => {
    const d = db(c.env);
    await one(d);
    return c.json(await one(d));
  })
  .get('/parallel', async (c) => {
    const d = db(c.env);
    return c.json(await Promise.all([one(d), one(d)]));
  })
  .get('/batch', async (c) => {
    const d = db(c.env);
    const [a, b] = await d.batch([d.select({ n: sql<number>`1` }).from(sql`(SELECT 1)`), d.select({ n: sql<number>`2` }).from(sql`(SELECT 1)`)]);
    return c.json({ a, b });
  })
  .get('/raw', async (c) => {
    const row = await c.env.DB.prepare('SELECT ?1 AS n').bind(5).first<{ n: number }>();
    await c.env.DB.withSession('first-unconstrained').prepare('SELECT 1').all();
    return c.json(row);
  })
  .get('/allocator', async (c) => {
    const stub = c.env.ORG_ALLOCATOR.getByName('round-trips-probe');
    const none = await stub.get(1, 1);
    return c.json({ none, row: await one(db(c.env)) });
  })
  .get('/fails', async (c) => {
    await c.env.DB.prepare('SELECT * FROM no_such_table').all().catch(() => null);
    return c.text('ok');
  });

async function trips(path: string, e: object = on): Promise<string | null> {
  const res = await probe.request(`https://edgeplane.test${path}`, {}, e);
  expect(res.status).toBe(200);
  return res.headers.get('X-Storage-Round-Trips');
}

describe('storage round trips', () => {
  it('counts one D1 query as 1 and two sequential ones as 2', async () => {
    expect(await trips('/none')).toBe('0');
    expect(await trips('/one')).toBe('1');
    expect(await trips('/two')).toBe('2');
  });

  it('counts overlapping calls once: Promise.all of two queries, and one batch', async () => {
    expect(await trips('/parallel')).toBe('1');
    expect(await trips('/batch')).toBe('1');
  });

  it('counts raw statements, sessions and failed calls', async () => {
    expect(await trips('/raw')).toBe('2');
    expect(await trips('/fails')).toBe('1');
  });

  it('keeps concurrent requests apart: each answer counts only its own calls', async () => {
    // The counted env is built once per env object; the running request's counter is found per call.
    const answers = await Promise.all(['/two', '/none', '/one', '/parallel', '/two', '/batch'].map((p) => trips(p)));
    expect(answers).toEqual(['2', '0', '1', '1', '2', '1']);
  });

  it('counts a Durable Object call as a trip', async () => {
    expect(await trips('/allocator')).toBe('2');
  });

  it('adds nothing when COUNT_ROUND_TRIPS is off (the default)', async () => {
    expect(env.COUNT_ROUND_TRIPS).toBe('false');
    expect(await trips('/two', env)).toBeNull();
  });

  it('reports through the whole app, error answers included', async () => {
    const version = await app.request('https://edgeplane.test/version', {}, on);
    expect(version.headers.get('X-Storage-Round-Trips')).toBe('0');
    const refused = await app.request('https://edgeplane.test/orgs', { headers: { Authorization: 'Bearer not-a-token' } }, on);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('X-Storage-Round-Trips')).toBe('0');
    expect(refused.headers.get('Server-Timing')).toMatch(/^storage;desc="0 round trips";dur=\d+$/);
  });

  it('POST /sessions takes 2 round trips (one D1 batch, the allocator), and refusals answer as before', async () => {
    const w = await playWorld();
    const game = await makeGame();
    await onlineNode(w, [game], { capacity: 2 });
    const alice = await member(w);
    const bob = await member(w);
    await own(w.org.id, alice.id, game);
    // As in production: metrics go to Analytics Engine. With METRICS_STORE=d1 (local development,
    // the bench stack) the metric's D1 write, fired without waiting, would be counted as a third trip.
    const production = { ...on, METRICS_STORE: 'analytics-engine' };
    const post = (token: string, body: object) =>
      app.request('https://edgeplane.test/sessions', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'cf-connecting-ip': '203.0.113.7' }, body: JSON.stringify(body) }, production);
    const ok = await post(alice.token, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('X-Storage-Round-Trips')).toBe('2');
    // Acting for someone else without the admin role: refused after the one batch, no allocator call.
    const forOther = await post(bob.token, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(forOther.status).toBe(403);
    expect(forOther.headers.get('X-Storage-Round-Trips')).toBe('1');
  });
});

