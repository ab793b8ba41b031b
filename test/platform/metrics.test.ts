/**
 * Metrics: every request counted under its route pattern, series for the dashboard's charts,
 * Prometheus text for scrapers, who may read what (platform admins: all; org admins: their org's
 * org-scoped metrics), and the production reader of Analytics Engine against a double of the SQL API.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { db } from '../../src/db/client';
import { addPoint } from '../../src/http/metrics/queries';
import { recordMetric } from '../../src/http/metrics/record';
import { toSeries } from '../../src/metrics/routes';
import { setWorld } from '../../src/world';
import { client, json } from '../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../support/users';

let admin: TestUser, orgAdmin: TestUser, member: TestUser, org: { id: number }, other: { id: number };

beforeAll(async () => {
  admin = await makeUser({ role: 'admin' });
  orgAdmin = await makeUser();
  member = await makeUser();
  org = await makeOrg();
  other = await makeOrg();
  await addMember(org.id, orgAdmin.id, 'admin');
  await addMember(org.id, member.id, 'member');
  await addPoint(db(env), { name: 'play.sessions', labels: { outcome: 'allocated' }, org: org.id, value: 1 });
  await addPoint(db(env), { name: 'play.sessions', labels: { outcome: 'refused', reason: 'no_seat' }, org: org.id, value: 1 });
  await addPoint(db(env), { name: 'play.sessions', labels: { outcome: 'allocated' }, org: other.id, value: 5 });
});

type Series = { total: number; series: Array<{ key: string; total: number; points: Array<{ t: string; v: number }> }> };

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 50; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return read();
}

describe('request metrics', () => {
  it('counts requests under the route pattern, not the URL, split by status', async () => {
    for (const id of [101, 102, 103]) expect((await client().games[':game_id'].$get({ param: { game_id: String(id) } })).status).toBe(404);
    const read = async () => json<Series>(await client({ token: admin.token }).metrics.series.$get({ query: { metric: 'http.requests', by: 'route' } }));
    const body = await eventually(read, (b) => (b.series.find((s) => s.key === '/games/:game_id')?.total ?? 0) >= 3);
    const games = body.series.find((s) => s.key === '/games/:game_id');
    expect(games?.total).toBe(3);
    expect(body.series.some((s) => s.key.includes('101'))).toBe(false);
  });

  it('serves Prometheus text to platform admins', async () => {
    const res = await eventually(
      async () => (await client({ token: admin.token }).metrics.$get()).text(),
      (t) => t.includes('route="/games/:game_id"'),
    );
    expect(res).toContain('# TYPE edgeplane_http_requests_total counter');
    expect(res).toMatch(/edgeplane_http_requests_total\{org="0",route="\/games\/:game_id",method="GET",status="404"\} 3/);
    expect(res).toMatch(new RegExp(`edgeplane_play_sessions_total\\{org="${org.id}",outcome="refused",reason="no_seat"\\} 1`));
  });

  it('refuses /metrics to anyone but a platform admin', async () => {
    expect((await client().metrics.$get()).status).toBe(401);
    expect((await client({ token: orgAdmin.token }).metrics.$get()).status).toBe(403);
  });
});

describe('who reads which series', () => {
  it('gives an org admin their own org’s play sessions, split by outcome', async () => {
    const body = await json<Series>(await client({ token: orgAdmin.token }).metrics.series.$get({ query: { metric: 'play.sessions', range: '7d', org_id: String(org.id), by: 'outcome' } }));
    expect(Object.fromEntries(body.series.map((s) => [s.key, s.total]))).toEqual({ allocated: 1, refused: 1 });
  });

  it('refuses an org admin another org, a platform metric, or no org at all', async () => {
    expect((await client({ token: orgAdmin.token }).metrics.series.$get({ query: { metric: 'play.sessions', org_id: String(other.id) } })).status).toBe(403);
    expect((await client({ token: orgAdmin.token }).metrics.series.$get({ query: { metric: 'http.requests', org_id: String(org.id) } })).status).toBe(403);
    expect((await client({ token: orgAdmin.token }).metrics.series.$get({ query: { metric: 'play.sessions' } })).status).toBe(403);
  });

  it('refuses a plain member of the org', async () => {
    expect((await client({ token: member.token }).metrics.series.$get({ query: { metric: 'play.sessions', org_id: String(org.id) } })).status).toBe(403);
  });

  it('gives a platform admin every org at once', async () => {
    const body = await json<Series>(await client({ token: admin.token }).metrics.series.$get({ query: { metric: 'play.sessions', range: '30d' } }));
    expect(body.total).toBe(7);
  });

  it('answers unknown metrics, ranges and labels with 400', async () => {
    // Ill-typed on purpose: the typed client would not compile them, the Worker must refuse them.
    for (const query of [{ metric: 'nope' }, { metric: 'http.requests', range: '1y' }, { metric: 'http.requests', by: 'password' }])
      expect((await client({ token: admin.token }).metrics.series.$get({ query: query as never })).status).toBe(400);
  });
});

describe('series shape', () => {
  it('spreads hourly rows over evenly spaced buckets with zeros in between', () => {
    const since = Date.parse('2026-12-01T00:00:00Z');
    const now = Date.parse('2026-12-01T05:30:00Z');
    const s = toSeries([{ bucket: '2026-12-01T01:00:00.000Z', key: '', value: 2 }, { bucket: '2026-12-01T04:00:00.000Z', key: '', value: 3 }], since, now, 3600);
    expect(s.series[0]!.points.map((p) => p.v)).toEqual([0, 2, 0, 0, 3, 0]);
    expect(s.total).toBe(5);
  });
});

describe('Analytics Engine (production store)', () => {
  let restore: () => void = () => {};
  afterEach(() => restore());
  const aeEnv = { ...env, METRICS_STORE: 'analytics-engine', CF_ACCOUNT_ID: 'acc123', METRICS_API_TOKEN: 'ae-token', METRICS_SQL_API: 'https://ae.test/client/v4' };

  it('writes a data point without touching D1, labels in catalog order', () => {
    const points: unknown[] = [];
    recordMetric({ ...env, METRICS_STORE: 'analytics-engine', METRICS: { writeDataPoint: (p: unknown) => points.push(p) } as AnalyticsEngineDataset }, undefined, 'play.sessions', { reason: 'no_seat', outcome: 'refused' }, { org: 9 });
    expect(points).toEqual([{ indexes: ['play.sessions'], blobs: ['play.sessions', '9', 'refused', 'no_seat'], doubles: [1] }]);
  });

  it('reads series through the SQL API with the token, and maps its rows', async () => {
    const seen: Array<{ url: string; auth: string | null; sql: string }> = [];
    restore = setWorld({
      fetch: async (input, init) => {
        const req = new Request(input, init);
        seen.push({ url: req.url, auth: req.headers.get('Authorization'), sql: await req.text() });
        const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
        return Response.json({ meta: [], data: [{ bucket: hour, key: 'allocated', value: 4 }], rows: 1 });
      },
    });
    const res = await app.request(`https://edgeplane.test/metrics/series?metric=play.sessions&by=outcome&org_id=${org.id}`, { headers: { Authorization: `Bearer ${admin.token}`, 'cf-connecting-ip': '203.0.113.4' } }, aeEnv);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Series;
    expect(body.series).toMatchObject([{ key: 'allocated', total: 4 }]);
    expect(seen[0]).toMatchObject({ url: 'https://ae.test/client/v4/accounts/acc123/analytics_engine/sql', auth: 'Bearer ae-token' });
    expect(seen[0]!.sql).toContain("index1 = 'play.sessions'");
    expect(seen[0]!.sql).toContain(`blob2 = '${org.id}'`);
    expect(seen[0]!.sql).toContain('blob3 AS key');
  });

  it('says 503 when reading is not configured, and 502 when the SQL API fails', async () => {
    const unconfigured = await app.request('https://edgeplane.test/metrics/series?metric=http.requests', { headers: { Authorization: `Bearer ${admin.token}`, 'cf-connecting-ip': '203.0.113.4' } }, { ...aeEnv, METRICS_API_TOKEN: undefined });
    expect(unconfigured.status).toBe(503);
    expect(await unconfigured.json()).toMatchObject({ code: 'metrics_unconfigured' });
    restore = setWorld({ fetch: async () => new Response('upstream down', { status: 500 }) });
    const failing = await app.request('https://edgeplane.test/metrics/series?metric=http.requests', { headers: { Authorization: `Bearer ${admin.token}`, 'cf-connecting-ip': '203.0.113.4' } }, aeEnv);
    expect(failing.status).toBe(502);
  });
});
