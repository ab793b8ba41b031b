import { env } from 'cloudflare:test';
import { eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { app } from '../../../src/app';
import { runChartScrape } from '../../../src/console/charts/jobs';
import { loadChart } from '../../../src/console/charts/query';
import { orgRoleVerdict } from '../../../src/auth/middleware';
import { membershipRole, orgMemberOrAdminSql } from '../../../src/auth/queries/users';
import type { AuthUser } from '../../../src/env';
import { chartRowsQuery } from '../../../src/console/charts/queries';
import { buildTiles } from '../../../src/console/apps/tiles';
import { db } from '../../../src/db/client';
import { refreshSessions } from '../../../src/db/schema';
import { nowIso } from '../../../src/world';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser } from '../../support/users';
import { catalogGame, cleanSlate, fakeSources, type FakeSources } from './support';

const OLD = '2026-11-01';
const NEW = '2026-11-05';

let gameIds: number[] = [];

async function seedChart(date: string, order: number[]): Promise<void> {
  const d = db(env);
  for (const [i, idx] of order.entries()) {
    const gameId = gameIds[idx]!;
    await d.run(sql`INSERT INTO charts_top10 (chart_date, rank, name, steam_appid, game_id, source)
      VALUES (${date}, ${i + 1}, ${`Chart name ${idx}`}, ${1000 + idx}, ${gameId}, 'steamcharts')`);
  }
}

async function installed(orgId: number, gameId: number, opts: { online?: boolean } = {}): Promise<void> {
  const d = db(env);
  const lastSeen = opts.online === false ? '2020-01-01T00:00:00.000Z' : nowIso();
  const node = await d.get<{ id: number }>(sql`INSERT INTO cluster_nodes (org_id, name, status, last_seen)
    VALUES (${orgId}, ${`node-${crypto.randomUUID().slice(0, 6)}`}, 'active', ${lastSeen}) RETURNING id`);
  await d.run(sql`INSERT INTO downloaded_games (org_id, node_id, game_id, install_path) VALUES (${orgId}, ${node!.id}, ${gameId}, '/games/x')`);
}

async function library(orgId: number, userId: number, gameId: number, verified: boolean): Promise<void> {
  await db(env).run(sql`INSERT INTO user_game_library (org_id, user_id, game_id, ownership_source, verified_at)
    VALUES (${orgId}, ${userId}, ${gameId}, 'steam', ${verified ? nowIso() : null})`);
}

type Entry = Record<string, unknown> & { rank: number; chart_date: string; game: Record<string, unknown> };

beforeEach(async () => {
  await cleanSlate();
  gameIds = [];
  for (let i = 0; i < 10; i++) {
    gameIds.push(await catalogGame(`game-${i}`, `Game ${i}`, 1000 + i, { description: `About game ${i}`, rating: 4.5, cover_url: `/covers/game-${i}.png` }));
  }
  await seedChart(OLD, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await seedChart(NEW, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
});

describe('GET /charts/top10 (public)', () => {
  it('answers the latest day with the ChartEntry keys plus the AppTile keys', async () => {
    const res = await call('GET', '/charts/top10');
    expect(res.status).toBe(200);
    const body = await json<Entry[]>(res);
    expect(body).toHaveLength(10);
    expect(Object.keys(body[0]!).sort()).toEqual(
      ['id', 'name', 'moonlight_name', 'enabled', 'sort_order', 'description', 'cover_url', 'chart_rank', 'chart_date', 'game_id', 'installed', 'owned', 'steam_appid', 'rank', 'install_ready', 'game'].sort(),
    );
    expect(body[0]).toEqual({
      rank: 1,
      chart_date: NEW,
      steam_appid: 1009,
      game: { id: gameIds[9], slug: 'game-9', name: 'Game 9', description: 'About game 9', rating: 4.5, cover_url: '/covers/game-9.png', external_ids: { steam: '1009' } },
      install_ready: false,
      id: 'game-9',
      name: 'Game 9',
      moonlight_name: 'Game 9',
      enabled: true,
      sort_order: 1,
      description: 'About game 9',
      cover_url: '/covers/game-9.png',
      chart_rank: 1,
      game_id: gameIds[9],
      installed: false,
      owned: false,
    });
    expect(body.map((e) => e.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('never shows any tenant’s installs or ownership to a public caller', async () => {
    const org = await makeOrg();
    await installed(org.id, gameIds[9]!);
    const body = await json<Entry[]>(await call('GET', '/charts/top10'));
    expect(body.every((e) => e.install_ready === false && e.installed === false && e.owned === false)).toBe(true);
  });

  it('applies the apps table overrides as the tiles do', async () => {
    await db(env).run(sql`INSERT INTO apps (id, name, moonlight_name, enabled, sort_order) VALUES ('game-9', 'G9 app', 'Game Nine (Moonlight)', 0, 42)`);
    const [first] = await json<Entry[]>(await call('GET', '/charts/top10'));
    expect(first).toMatchObject({ id: 'game-9', name: 'Game 9', moonlight_name: 'Game Nine (Moonlight)', enabled: false, sort_order: 42 });
  });

  it('shows a placeholder game for a chart row whose game was deleted', async () => {
    await db(env).run(sql`DELETE FROM games WHERE id = ${gameIds[9]!}`);
    const [first] = await json<Entry[]>(await call('GET', '/charts/top10'));
    expect(first).toMatchObject({
      id: `chart-${NEW}-1`,
      name: 'Chart name 9',
      game_id: null,
      steam_appid: 1009,
      game: { id: 0, slug: `chart-${NEW}-1`, name: 'Chart name 9', external_ids: {} },
      install_ready: false,
    });
  });

  it('is cacheable with an ETag and answers 304 to a matching If-None-Match', async () => {
    const res = await call('GET', '/charts/top10');
    const etag = res.headers.get('ETag');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers.get('Cache-Control')).toBe('public, no-cache');
    const again = await call('GET', '/charts/top10', { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(again.headers.get('ETag')).toBe(etag);
    const weak = await call('GET', '/charts/top10', { headers: { 'If-None-Match': `"other", W/${etag}` } });
    expect(weak.status).toBe(304);
    const stale = await call('GET', '/charts/top10', { headers: { 'If-None-Match': '"something-else"' } });
    expect(stale.status).toBe(200);
  });

  it('serves the public chart from the edge cache until a new snapshot is written', async () => {
    const src: FakeSources = fakeSources();
    try {
      const first = await json<Entry[]>(await call('GET', '/charts/top10'));
      expect(first[0]!.name).toBe('Game 9');
      // A change behind the cache's back is not seen: the answer comes from the cache.
      await db(env).run(sql`UPDATE games SET name = 'Renamed' WHERE id = ${gameIds[9]!}`);
      expect((await json<Entry[]>(await call('GET', '/charts/top10')))[0]!.name).toBe('Game 9');
      // A new snapshot (today, from the page fixture) invalidates it.
      const run = await runChartScrape(env, 'manual');
      expect(run?.status).toBe('ok');
      const fresh = await json<Entry[]>(await call('GET', '/charts/top10'));
      expect(fresh[0]).toMatchObject({ chart_date: run!.chart_date, name: 'Counter-Strike 2', steam_appid: 730 });
    } finally {
      src.restore();
    }
  });
});

describe('GET /charts/top10?date=', () => {
  it('answers the snapshot of that day', async () => {
    const body = await json<Entry[]>(await call('GET', `/charts/top10?date=${OLD}`));
    expect(body[0]).toMatchObject({ chart_date: OLD, rank: 1, steam_appid: 1000 });
  });

  it('falls back to the latest snapshot before a day without one', async () => {
    const body = await json<Entry[]>(await call('GET', '/charts/top10?date=2026-11-03'));
    expect(new Set(body.map((e) => e.chart_date))).toEqual(new Set([OLD]));
    expect(body).toHaveLength(10);
  });

  it('answers the latest snapshot for a day after it', async () => {
    const body = await json<Entry[]>(await call('GET', '/charts/top10?date=2027-01-01'));
    expect(body[0]!.chart_date).toBe(NEW);
  });

  it('answers an empty list for a day before the first snapshot', async () => {
    const res = await call('GET', '/charts/top10?date=2026-10-31');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it('never fails on repeated or odd query parameters', async () => {
    for (const q of ['date=2026-11-01&date=2026-11-05', 'org_id=1&org_id=2', 'date[]=x', 'date=%00', 'unknown=1']) {
      const res = await call('GET', `/charts/top10?${q}`);
      expect(res.status, q).toBeLessThan(500);
    }
  });

  it('answers HEAD like GET without a body', async () => {
    const res = await call('HEAD', '/charts/top10');
    expect(res.status).toBe(200);
    expect(res.headers.get('ETag')).toMatch(/^"/);
  });

  it('treats an empty date as the latest, as the prototype did', async () => {
    const body = await json<Entry[]>(await call('GET', '/charts/top10?date='));
    expect(body[0]!.chart_date).toBe(NEW);
  });

  it('refuses dates that are not real YYYY-MM-DD days', async () => {
    for (const bad of ['2026-13-01', '2026-02-30', 'yesterday', '2026-1-1', "2026-11-01' OR 1=1 --"]) {
      const res = await call('GET', `/charts/top10?date=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(await json(res)).toMatchObject({ code: 'validation_failed' });
    }
  });
});

describe('GET /charts/top10?org_id=', () => {
  it('computes install_ready/installed and owned for a member of the org', async () => {
    const org = await makeOrg();
    const alice = await makeUser();
    await addMember(org.id, alice.id, 'member');
    await installed(org.id, gameIds[9]!);
    await installed(org.id, gameIds[8]!, { online: false });
    await library(org.id, alice.id, gameIds[9]!, true);
    await library(org.id, alice.id, gameIds[7]!, false);
    const res = await call('GET', `/charts/top10?org_id=${org.id}`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('Cache-Control')).toBe('private, no-store');
    expect(res.headers.get('ETag')).toBeNull();
    const body = await json<Entry[]>(res);
    expect(body[0]).toMatchObject({ game_id: gameIds[9], install_ready: true, installed: true, owned: true });
    expect(body[1]).toMatchObject({ game_id: gameIds[8], install_ready: false, installed: false, owned: false }); // node offline
    expect(body[2]).toMatchObject({ game_id: gameIds[7], owned: false }); // proof not verified
  });

  it('matches the launcher tiles built for the same org, user and day', async () => {
    const org = await makeOrg();
    const bob = await makeUser();
    await addMember(org.id, bob.id, 'admin');
    await installed(org.id, gameIds[5]!);
    await library(org.id, bob.id, gameIds[5]!, true);
    const entries = await json<Entry[]>(await call('GET', `/charts/top10?org_id=${org.id}&date=${NEW}`, { token: bob.token }));
    const tiles = await buildTiles(db(env), env, { userId: bob.id, orgId: org.id, chartDate: NEW });
    const asTiles = entries.map(({ rank: _r, install_ready: _i, game: _g, ...tile }) => tile);
    expect(asTiles).toEqual(tiles);
  });

  it('refuses an anonymous caller (401)', async () => {
    const org = await makeOrg();
    const res = await call('GET', `/charts/top10?org_id=${org.id}`);
    expect(res.status).toBe(401);
  });

  it('refuses a member of another org (403), whether or not the org exists', async () => {
    const mine = await makeOrg();
    const theirs = await makeOrg();
    const eve = await makeUser();
    await addMember(mine.id, eve.id, 'owner');
    await installed(theirs.id, gameIds[9]!);
    const res = await call('GET', `/charts/top10?org_id=${theirs.id}`, { token: eve.token });
    expect(res.status).toBe(403);
    const missing = await call('GET', '/charts/top10?org_id=999999', { token: eve.token });
    expect(missing.status).toBe(403);
    expect(await missing.json()).toEqual(await res.json());
  });

  it('lets a platform admin read any org’s chart', async () => {
    const org = await makeOrg();
    const admin = await makeUser({ role: 'admin' });
    await installed(org.id, gameIds[9]!);
    const body = await json<Entry[]>(await call('GET', `/charts/top10?org_id=${org.id}`, { token: admin.token }));
    expect(body[0]).toMatchObject({ install_ready: true, owned: false });
  });

  it('refuses a malformed org_id', async () => {
    const alice = await makeUser();
    for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999']) {
      const res = await call('GET', `/charts/top10?org_id=${bad}`, { token: alice.token });
      expect(res.status, bad).toBe(400);
    }
  });

  it('gives the public chart to a signed-in caller who names no org', async () => {
    const org = await makeOrg();
    const alice = await makeUser();
    await addMember(org.id, alice.id);
    await installed(org.id, gameIds[9]!);
    const res = await call('GET', '/charts/top10', { token: alice.token });
    expect(res.headers.get('Cache-Control')).toBe('public, no-cache');
    expect((await json<Entry[]>(res))[0]).toMatchObject({ install_ready: false });
  });
});

describe('GET /charts/top10?org_id= round trips (issue 17)', () => {
  const counted = { ...env, COUNT_ROUND_TRIPS: 'true' };
  const get = (path: string, token?: string) =>
    app.request(`https://edgeplane.test${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} }, counted);

  it('answers a member in one storage round trip, flags included', async () => {
    const org = await makeOrg();
    const alice = await makeUser();
    await addMember(org.id, alice.id, 'member');
    await installed(org.id, gameIds[9]!);
    await library(org.id, alice.id, gameIds[9]!, true);
    const res = await get(`/charts/top10?org_id=${org.id}`, alice.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Storage-Round-Trips')).toBe('1');
    expect((await json<Entry[]>(res))[0]).toMatchObject({ game_id: gameIds[9], install_ready: true, owned: true });
  });

  it('still refuses another org’s member (403) and a revoked caller (401, before the membership) after that one trip', async () => {
    const mine = await makeOrg();
    const theirs = await makeOrg();
    const eve = await makeUser();
    await addMember(mine.id, eve.id, 'owner');
    const other = await get(`/charts/top10?org_id=${theirs.id}`, eve.token);
    expect(other.status).toBe(403);
    expect(await json(other)).toMatchObject({ code: 'not_org_member' });
    expect(other.headers.get('X-Storage-Round-Trips')).toBe('1');
    await db(env).update(refreshSessions).set({ revokedAt: nowIso() }).where(eq(refreshSessions.userId, eve.id));
    const revoked = await get(`/charts/top10?org_id=${mine.id}`, eve.token);
    expect(revoked.status).toBe(401);
    expect(await json(revoked)).toMatchObject({ code: 'invalid_token' });
  });

  it('refuses an anonymous or badly signed caller without touching storage', async () => {
    const org = await makeOrg();
    const anonymous = await get(`/charts/top10?org_id=${org.id}`);
    expect(anonymous.status).toBe(401);
    expect(await json(anonymous)).toMatchObject({ code: 'unauthorized' });
    expect(anonymous.headers.get('X-Storage-Round-Trips')).toBe('0');
    const forged = await get(`/charts/top10?org_id=${org.id}`, 'not-a-token');
    expect(forged.status).toBe(401);
    expect(await json(forged)).toMatchObject({ code: 'invalid_token' });
  });
});

describe('OpenAPI document', () => {
  it('describes the chart routes', async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } }>(await call('GET', '/openapi.json'));
    expect(Object.keys(doc.paths['/charts/top10']!)).toContain('get');
    expect(Object.keys(doc.paths['/charts/top10/refresh']!)).toContain('post');
    expect(Object.keys(doc.paths['/charts/runs']!)).toContain('get');
    expect(doc.components.schemas).toHaveProperty('ChartEntry');
  });
});

describe('chart query', () => {
  it('reads a chart in one D1 statement', async () => {
    const org = await makeOrg();
    const user = await makeUser();
    let statements = 0;
    const counted = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === 'prepare') {
          return (q: string) => {
            statements += 1;
            return target.prepare(q);
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const entries = await loadChart({ ...env, DB: counted }, { date: null, orgId: org.id, userId: user.id });
    expect(entries).toHaveLength(10);
    expect(statements).toBe(1);
  });

  it('reads none of an org’s chart rows for a caller who is neither its member nor a platform admin (the 403 path)', async () => {
    const org = await makeOrg();
    const member = await makeUser();
    const stranger = await makeUser();
    const platformAdmin = await makeUser({ role: 'admin' });
    await addMember(org.id, member.id, 'member');
    await installed(org.id, gameIds[0]!);
    const d = db(env);
    const rowsFor = (userId: number) => chartRowsQuery(d, env, { date: null, orgId: org.id, userId }, orgMemberOrAdminSql(d, userId, org.id));
    const [forStranger, forMember, forAdmin] = await d.batch([rowsFor(stranger.id), rowsFor(member.id), rowsFor(platformAdmin.id)]);
    expect(forStranger).toEqual([]);
    expect(forMember).toHaveLength(10);
    expect(forMember.find((r) => r.gameId === gameIds[0])?.installed).toBe(1);
    expect(forAdmin).toHaveLength(10);
  });

  it('guards the chart with the same rule the handler applies: any membership of the org, or a platform admin', async () => {
    const org = await makeOrg();
    const other = await makeOrg();
    const people = {
      owner: await makeUser(),
      admin: await makeUser(),
      member: await makeUser(),
      otherOrgsOwner: await makeUser(),
      stranger: await makeUser(),
      platformAdmin: await makeUser({ role: 'admin' }),
    };
    await addMember(org.id, people.owner.id, 'owner');
    await addMember(org.id, people.admin.id, 'admin');
    await addMember(org.id, people.member.id, 'member');
    await addMember(other.id, people.otherOrgsOwner.id, 'owner');
    const d = db(env);
    for (const [who, u] of Object.entries(people)) {
      const [[row]] = await d.batch([d.select({ ok: sql<number>`${orgMemberOrAdminSql(d, u.id, org.id)}` }).from(sql`(SELECT 1)`)]);
      const role = await membershipRole(d, u.id, org.id);
      let verdict = true;
      try {
        orgRoleVerdict({ id: u.id, role: who === 'platformAdmin' ? 'admin' : 'user' } as AuthUser, role, 'member');
      } catch {
        verdict = false;
      }
      expect(Boolean(row!.ok), who).toBe(verdict);
      expect(verdict, who).toBe(!['otherOrgsOwner', 'stranger'].includes(who));
    }
  });
});
