import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chartSettings } from '../../../src/console/charts/jobs';
import { db } from '../../../src/db/client';
import top from '../../fixtures/steamcharts/top.html?raw';
import plain from '../../fixtures/steamcharts/top-plain-numbers.html?raw';
import truncated from '../../fixtures/steamcharts/top-truncated.html?raw';
import changed from '../../fixtures/steamcharts/top-changed-layout.html?raw';
import { at, catalogGame, chartRows, cleanSlate, DAILY, fakeSources, FREQUENT, hang, html, jsonAnswer, runCron, runs, type FakeSources } from './support';

const DAY1 = '2026-11-21';
const DAY2 = '2026-11-22';
const noKey = { STEAM_API_KEY: '' };

let src: FakeSources;
beforeEach(async () => {
  await cleanSlate();
  src = fakeSources();
});
afterEach(() => {
  src.restore();
  chartSettings.fetchTimeoutMs = 10_000;
});

const gamesCount = async () => (await db(env).get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM games`))!.n;

describe('daily chart cron', () => {
  it('writes ranks 1–10 of the page for the UTC day, linking known appids to their games', async () => {
    const cs2 = await catalogGame('counter-strike-2', 'Counter-Strike 2', 730);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    const rows = await chartRows(DAY2);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toMatchObject({ rank: 1, name: 'Counter-Strike 2', steam_appid: 730, game_id: cs2, source: 'steamcharts', current_players: 1412366, peak_players: 1818368, hours_played: 584726224 });
    expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await runs()).toEqual([expect.objectContaining({ chart_date: DAY2, trigger: 'cron', status: 'ok', source: 'steamcharts', error: null })]);
    expect(src.calls.every((c) => c.hadSignal)).toBe(true);
  });

  it('creates a stub game with the Steam external id for every unknown appid', async () => {
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    const rows = await chartRows(DAY2);
    expect(rows.every((r) => r.game_id !== null)).toBe(true);
    const stub = await db(env).get<{ slug: string; name: string; is_stub: number; external_id: string }>(sql`
      SELECT g.slug, g.name, g.is_stub, e.external_id FROM games g JOIN game_external_ids e ON e.game_id = g.id AND e.platform = 'steam'
      WHERE g.id = ${rows[8]!.game_id}`);
    expect(stub).toEqual({ slug: 'baldurs-gate-3', name: "Baldur's Gate 3", is_stub: 1, external_id: '1086940' });
    expect(await gamesCount()).toBe(10);
  });

  it('gives a stub another slug when a different game already holds the name’s slug', async () => {
    await catalogGame('dota-2', 'Dota 2 (the board game)', null);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    const slug = await db(env).get<{ slug: string }>(sql`SELECT g.slug FROM games g JOIN game_external_ids e ON e.game_id = g.id WHERE e.external_id = '570'`);
    expect(slug?.slug).toBe('dota-2-570');
  });

  it('replaces the day idempotently when it runs again, without duplicating stubs', async () => {
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    src.page = () => html(plain);
    await runCron(DAILY, at(`${DAY2}T09:00:00Z`));
    await runCron(DAILY, at(`${DAY2}T09:05:00Z`));
    const rows = await chartRows(DAY2);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toMatchObject({ rank: 1, name: 'Dota 2', steam_appid: 570 });
    expect(rows[4]).toMatchObject({ name: 'Call of Duty®: Black Ops 6 + Warzone', steam_appid: 1938090 });
    // 10 stubs from the first run, 2 new appids (Call of Duty, The Sims 4) in the second; none doubled.
    expect(await gamesCount()).toBe(12);
    const dup = await db(env).get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM game_external_ids GROUP BY platform, external_id HAVING COUNT(*) > 1`);
    expect(dup).toBeUndefined();
  });

  it('keeps the previous day and records the error when the page answers 503 and no API key is set', async () => {
    await runCron(DAILY, at(`${DAY1}T06:15:00Z`));
    src.page = () => html('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>', 503);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect(await chartRows(DAY2)).toEqual([]);
    expect(await chartRows(DAY1)).toHaveLength(10);
    const last = (await runs()).at(-1)!;
    expect(last).toMatchObject({ chart_date: DAY2, status: 'failed' });
    expect(last.error).toBe('steamcharts: page answered HTTP 503; no Steam API key configured for the fallback');
    expect(src.apiCalls()).toBe(0);
  });

  it('records a changed layout without writing anything', async () => {
    src.page = () => html(changed);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect(await chartRows(DAY2)).toEqual([]);
    expect(await gamesCount()).toBe(0);
    expect((await runs())[0]!.error).toMatch(/layout changed: no table#top-games/);
  });

  it('records a truncated page without writing anything', async () => {
    src.page = () => html(truncated);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect(await chartRows(DAY2)).toEqual([]);
    expect((await runs())[0]!.error).toMatch(/truncated/);
  });

  it('gives up on a page that does not answer within the timeout', async () => {
    chartSettings.fetchTimeoutMs = 50;
    src.page = hang;
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect(await chartRows(DAY2)).toEqual([]);
    expect((await runs())[0]).toMatchObject({ status: 'failed', error: 'steamcharts: timed out; no Steam API key configured for the fallback' });
  });

  it('records a connection that drops in the middle of the page', async () => {
    src.page = () => {
      const bytes = new TextEncoder().encode(top);
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return controller.error(new TypeError('Network connection lost.'));
          sent = true;
          controller.enqueue(bytes.slice(0, 6000));
        },
      });
      return new Response(body, { status: 200, headers: { 'Content-Type': 'text/html' } });
    };
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect(await chartRows(DAY2)).toEqual([]);
    expect((await runs())[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^steamcharts: .*Network connection lost/) });
  });

  it('gives up on a page whose body stalls after the headers', async () => {
    chartSettings.fetchTimeoutMs = 50;
    src.page = (_url, init) => {
      const signal = init!.signal!;
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (!sent) {
            sent = true;
            return controller.enqueue(new TextEncoder().encode(top.slice(0, 3000)));
          }
          return new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        },
      });
      return new Response(body, { status: 200 });
    };
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect((await runs())[0]).toMatchObject({ status: 'failed', error: 'steamcharts: timed out; no Steam API key configured for the fallback' });
  });

  it('records a network error', async () => {
    src.page = () => {
      throw new TypeError('Network connection lost.');
    };
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect((await runs())[0]!.error).toMatch(/^steamcharts: TypeError: Network connection lost\./);
  });

  it('leaves an existing day untouched when its rewrite fails inside the batch (atomic write)', async () => {
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    const before = await chartRows(DAY2);
    const gamesBefore = await gamesCount();
    // Simulate D1 failing on the 7th insert of the batch.
    await env.DB.exec(`CREATE TRIGGER chart_rank7_fails BEFORE INSERT ON charts_top10 WHEN NEW.rank = 7 BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END;`);
    try {
      src.page = () => html(plain);
      await runCron(DAILY, at(`${DAY2}T10:00:00Z`));
    } finally {
      await env.DB.exec('DROP TRIGGER chart_rank7_fails;');
    }
    expect(await chartRows(DAY2)).toEqual(before);
    expect(await gamesCount()).toBe(gamesBefore);
    expect((await runs()).at(-1)).toMatchObject({ status: 'failed', error: expect.stringMatching(/simulated storage failure/) });
  });

  it('prunes run history older than the retention period', async () => {
    await db(env).run(sql`INSERT INTO chart_runs (chart_date, trigger, status, started_at) VALUES
      ('2026-05-01', 'cron', 'ok', '2026-05-01T06:15:00.000Z'), ('2026-10-01', 'cron', 'failed', '2026-10-01T06:15:00.000Z')`);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    expect((await runs()).map((r) => r.chart_date)).toEqual(['2026-10-01', DAY2]);
  });
});

describe('Steam Web API fallback', () => {
  it('writes the day from GetMostPlayedGames when the page fails, naming games from the catalog or stubs', async () => {
    const cs2 = await catalogGame('counter-strike-2', 'Counter-Strike 2', 730);
    src.page = () => html('bad gateway', 502);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    const rows = await chartRows(DAY2);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toMatchObject({ rank: 1, steam_appid: 730, game_id: cs2, name: 'Counter-Strike 2', source: 'steam_api', peak_players: 1818368, current_players: null });
    expect(rows[5]).toMatchObject({ rank: 6, steam_appid: 3527290, name: 'Steam app 3527290' });
    const apiCall = src.calls.find((c) => c.url.hostname === 'api.steampowered.com')!;
    expect(apiCall.url.pathname).toBe('/ISteamChartsService/GetMostPlayedGames/v1/');
    expect(apiCall.url.searchParams.get('key')).toBe(env.STEAM_API_KEY);
    expect((await runs())[0]).toMatchObject({ status: 'ok', source: 'steam_api' });
  });

  it('renames a placeholder stub once the page gives its name', async () => {
    src.page = () => html('down', 503);
    src.api = () =>
      jsonAnswer({
        response: { rollup_date: 1795305600, ranks: [1086940, 730, 570, 578080, 2767030, 1172470, 1623730, 271590, 252490, 2246340].map((appid, i) => ({ rank: i + 1, appid })) },
      });
    await runCron(DAILY, at(`${DAY1}T06:15:00Z`));
    expect((await chartRows(DAY1))[0]!.name).toBe('Steam app 1086940');
    src.page = () => html(top);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    const game = await db(env).get<{ name: string; is_stub: number }>(sql`SELECT g.name, g.is_stub FROM games g JOIN game_external_ids e ON e.game_id = g.id WHERE e.external_id = '1086940'`);
    expect(game).toEqual({ name: "Baldur's Gate 3", is_stub: 1 });
  });

  it('records both reasons when the API fails too', async () => {
    src.page = () => html('down', 503);
    src.api = () => jsonAnswer({ response: {} }, 200);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    expect(await chartRows(DAY2)).toEqual([]);
    expect((await runs())[0]!.error).toBe('steamcharts: page answered HTTP 503; steam_api: Steam API answer has an unexpected shape');
  });

  it('never writes the API key into the run history', async () => {
    src.page = () => html('down', 503);
    src.api = () => {
      throw new TypeError(`fetch failed`);
    };
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    const error = (await runs())[0]!.error!;
    expect(error).toMatch(/steam_api: TypeError: fetch failed/);
    expect(error).not.toContain(env.STEAM_API_KEY);
  });
});

describe('retries within the day', () => {
  it('retries a failed day with growing delays, then stops once the day is written', async () => {
    src.page = () => html('down', 503);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    expect(src.pageCalls()).toBe(1);
    await runCron(FREQUENT, at(`${DAY2}T06:17:00Z`), noKey); // 5 min after the 1st failure: not yet
    expect(src.pageCalls()).toBe(1);
    await runCron(FREQUENT, at(`${DAY2}T06:20:00Z`), noKey); // retry 1
    expect(src.pageCalls()).toBe(2);
    await runCron(FREQUENT, at(`${DAY2}T06:25:00Z`), noKey); // 10 min after the 2nd: not yet
    expect(src.pageCalls()).toBe(2);
    src.page = () => html(plain);
    await runCron(FREQUENT, at(`${DAY2}T06:30:00Z`), noKey); // retry 2 succeeds
    expect(src.pageCalls()).toBe(3);
    await runCron(FREQUENT, at(`${DAY2}T07:30:00Z`), noKey);
    expect(src.pageCalls()).toBe(3);
    expect(await chartRows(DAY2)).toHaveLength(10);
    expect((await runs()).map((r) => `${r.trigger}:${r.status}`)).toEqual(['cron:failed', 'retry:failed', 'retry:ok']);
  });

  it('is not pushed back a tick by a slow failed attempt', async () => {
    // The 06:15 run started a little late and took 38 s to fail (a timeout).
    await db(env).run(sql`INSERT INTO chart_runs (chart_date, trigger, status, started_at, finished_at, error)
      VALUES (${DAY2}, 'cron', 'failed', '2026-11-22T06:15:02.000Z', '2026-11-22T06:15:40.000Z', 'steamcharts: timed out')`);
    await runCron(FREQUENT, at(`${DAY2}T06:20:00Z`));
    expect(src.pageCalls()).toBe(1);
    expect((await runs()).at(-1)).toMatchObject({ trigger: 'retry', status: 'ok' });
  });

  it('does not scrape before the daily run of the day has happened', async () => {
    await runCron(FREQUENT, at(`${DAY2}T05:00:00Z`));
    expect(src.calls).toEqual([]);
    expect(await runs()).toEqual([]);
  });

  it('gives up for the day after the maximum number of attempts', async () => {
    src.page = () => html('down', 503);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`), noKey);
    // Every 10 minutes for the rest of the day (the backoff steps all fall on them); backoff and the cap decide how many attempts happen.
    for (let t = at(`${DAY2}T06:20:00Z`); t < at(`${DAY2}T23:59:00Z`); t += 10 * 60_000) await runCron(FREQUENT, t, noKey);
    expect(src.pageCalls()).toBe(chartSettings.maxAttemptsPerDay);
    expect(await chartRows(DAY2)).toEqual([]);
  }, 120_000);

  it('does not start a run while another one is in progress', async () => {
    await db(env).run(sql`INSERT INTO chart_runs (chart_date, trigger, status, started_at) VALUES (${DAY2}, 'manual', 'running', '2026-11-22T06:14:00.000Z')`);
    await runCron(DAILY, at(`${DAY2}T06:15:00Z`));
    expect(src.calls).toEqual([]);
  });

  it('treats a run stuck in running for 10 minutes as dead', async () => {
    await db(env).run(sql`INSERT INTO chart_runs (chart_date, trigger, status, started_at) VALUES (${DAY2}, 'cron', 'running', '2026-11-22T06:15:00.000Z')`);
    await runCron(FREQUENT, at(`${DAY2}T06:30:00Z`));
    expect(src.pageCalls()).toBe(1);
    expect(await chartRows(DAY2)).toHaveLength(10);
  });
});

describe('Steam Web API base', () => {
  it('asks the configured STEAM_API_BASE, so staging and tests can point the fallback at a double', async () => {
    const { mostPlayedGames } = await import('../../../src/console/charts/steam-api');
    const { setWorld } = await import('../../../src/world');
    const mostPlayed = (await import('../../fixtures/steamcharts/most-played-games.json')).default;
    const seen: string[] = [];
    const restore = setWorld({
      fetch: async (input) => {
        seen.push(String(input));
        return Response.json(mostPlayed);
      },
    });
    try {
      const rows = await mostPlayedGames({ STEAM_API_KEY: 'k-123', STEAM_API_BASE: 'https://steam-double.test/web/' }, AbortSignal.timeout(5000));
      expect(rows).toHaveLength(10);
    } finally {
      restore();
    }
    expect(seen).toHaveLength(1);
    expect(new URL(seen[0]!).origin + new URL(seen[0]!).pathname).toBe('https://steam-double.test/web/ISteamChartsService/GetMostPlayedGames/v1/');
  });
});
