import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { nowIso, world } from '../../../src/world';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../../support/users';
import { cleanSlate, fakeSources, html, jsonAnswer, runs, type FakeSources } from './support';

let src: FakeSources;
let admin: TestUser;

beforeEach(async () => {
  await cleanSlate();
  src = fakeSources();
  admin = await makeUser({ role: 'admin' });
});
afterEach(() => src.restore());

const today = () => new Date(world.now()).toISOString().slice(0, 10);

describe('POST /charts/top10/refresh', () => {
  it('lets a platform admin scrape now and answers the finished run', async () => {
    const res = await call('POST', '/charts/top10/refresh', { token: admin.token });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ chart_date: today(), trigger: 'manual', status: 'ok', source: 'steamcharts', error: null });
    const chart = await json<{ name: string }[]>(await call('GET', '/charts/top10'));
    expect(chart[0]!.name).toBe('Counter-Strike 2');
    const audited = await db(env).get<{ action: string; actor_user_id: number }>(sql`SELECT action, actor_user_id FROM audit_log WHERE action = 'charts.refresh' ORDER BY id DESC LIMIT 1`);
    expect(audited).toEqual({ action: 'charts.refresh', actor_user_id: admin.id });
  });

  it('answers 502 with the run id when both sources fail, and writes nothing', async () => {
    src.page = () => html('down', 503);
    src.api = () => jsonAnswer({}, 500);
    const res = await call('POST', '/charts/top10/refresh', { token: admin.token });
    expect(res.status).toBe(502);
    const body = await json<{ error: string; code: string; details: { run_id: number } }>(res);
    expect(body.code).toBe('chart_refresh_failed');
    expect(body.error).toBe('chart refresh failed: steamcharts: page answered HTTP 503; steam_api: Steam API answered HTTP 500');
    expect((await runs()).map((r) => r.id)).toEqual([body.details.run_id]);
    expect(await json(await call('GET', '/charts/top10'))).toEqual([]);
  });

  it('answers 409 while another run is in progress', async () => {
    await db(env).run(sql`INSERT INTO chart_runs (chart_date, trigger, status, started_at) VALUES (${today()}, 'cron', 'running', ${nowIso()})`);
    const res = await call('POST', '/charts/top10/refresh', { token: admin.token });
    expect(res.status).toBe(409);
    expect(src.calls).toEqual([]);
  });

  it('refuses anonymous callers (401)', async () => {
    const res = await call('POST', '/charts/top10/refresh');
    expect(res.status).toBe(401);
    expect(src.calls).toEqual([]);
  });

  it('refuses users who are not platform admins, org owners included (403)', async () => {
    const owner = await makeUser();
    const org = await makeOrg();
    await addMember(org.id, owner.id, 'owner');
    const res = await call('POST', '/charts/top10/refresh', { token: owner.token });
    expect(res.status).toBe(403);
    expect(src.calls).toEqual([]);
  });
});

describe('GET /charts/runs', () => {
  it('shows admins the run history newest first, with errors and the retry schedule', async () => {
    src.page = () => html('down', 503);
    src.api = () => jsonAnswer({}, 500);
    await call('POST', '/charts/top10/refresh', { token: admin.token });
    const res = await call('GET', '/charts/runs', { token: admin.token });
    expect(res.status).toBe(200);
    const body = await json<{ latest_chart_date: string | null; next_retry_at: string | null; runs: Record<string, unknown>[] }>(res);
    expect(body.latest_chart_date).toBeNull();
    expect(body.runs).toEqual([
      expect.objectContaining({ chart_date: today(), trigger: 'manual', status: 'failed', source: null, error: expect.stringMatching(/HTTP 503/) }),
    ]);
    expect(Date.parse(body.next_retry_at!)).toBeGreaterThan(Date.parse(String(body.runs[0]!.finished_at)));

    src.restore();
    src = fakeSources(); // the page is back
    await call('POST', '/charts/top10/refresh', { token: admin.token });
    const after = await json<{ latest_chart_date: string; next_retry_at: string | null; runs: { status: string }[] }>(await call('GET', '/charts/runs', { token: admin.token }));
    expect(after.latest_chart_date).toBe(today());
    expect(after.next_retry_at).toBeNull();
    expect(after.runs.map((r) => r.status)).toEqual(['ok', 'failed']);
  });

  it('filters by date and limits the list', async () => {
    await db(env).run(sql`INSERT INTO chart_runs (chart_date, trigger, status, started_at, finished_at, error) VALUES
      ('2026-11-01', 'cron', 'failed', '2026-11-01T06:15:00.000Z', '2026-11-01T06:15:03.000Z', 'steamcharts: timed out'),
      ('2026-11-01', 'retry', 'ok', '2026-11-01T06:20:00.000Z', '2026-11-01T06:20:02.000Z', NULL),
      ('2026-11-02', 'cron', 'ok', '2026-11-02T06:15:00.000Z', '2026-11-02T06:15:02.000Z', NULL)`);
    const byDate = await json<{ runs: { trigger: string }[] }>(await call('GET', '/charts/runs?date=2026-11-01', { token: admin.token }));
    expect(byDate.runs.map((r) => r.trigger)).toEqual(['retry', 'cron']);
    const limited = await json<{ runs: { chart_date: string }[] }>(await call('GET', '/charts/runs?limit=1', { token: admin.token }));
    expect(limited.runs).toEqual([expect.objectContaining({ chart_date: '2026-11-02' })]);
  });

  it('refuses bad query parameters', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=ten', 'date=2026-02-30']) {
      const res = await call('GET', `/charts/runs?${q}`, { token: admin.token });
      expect(res.status, q).toBe(400);
    }
  });

  it('refuses anonymous callers (401) and non-admins (403)', async () => {
    expect((await call('GET', '/charts/runs')).status).toBe(401);
    const user = await makeUser();
    expect((await call('GET', '/charts/runs', { token: user.token })).status).toBe(403);
  });
});
