/**
 * Chart test helpers: a fake outside world (the Steam Charts page and the Steam Web API, answered
 * from fixtures at the fetch boundary), cron runs through the real Worker entry, and a clean slate.
 *
 *   const src = fakeSources();            // page: top.html, api: most-played-games.json
 *   src.page = () => new Response('busy', { status: 503 });
 *   await runCron('15 6 * * *', at('2026-11-22T06:15:00Z'));
 *   src.restore();
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import worker from '../../../src/index';
import { invalidatePublicCharts } from '../../../src/console/charts/cache';
import { db } from '../../../src/db/client';
import { setWorld } from '../../../src/world';
import top from '../../fixtures/steamcharts/top.html?raw';
import mostPlayed from '../../fixtures/steamcharts/most-played-games.json';

export const DAILY = '15 6 * * *';
export const FREQUENT = '*/5 * * * *';

export type Answer = (url: URL, init: RequestInit | undefined) => Response | Promise<Response>;

export const html = (body: string, status = 200) => new Response(body, { status, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
export const jsonAnswer = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** A fetch that only settles when its AbortSignal fires, as a stalled server behaves. */
export const hang: Answer = (_url, init) =>
  new Promise<Response>((_resolve, reject) => {
    const signal = init?.signal;
    if (!signal) return; // never settles: the code under test forgot its timeout
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

export interface FakeSources {
  page: Answer;
  api: Answer;
  /** Calls to the two chart sources (other hosts are refused and not recorded). */
  calls: { url: URL; hadSignal: boolean }[];
  pageCalls(): number;
  apiCalls(): number;
  restore(): void;
}

export function fakeSources(): FakeSources {
  const src: FakeSources = {
    page: () => html(top),
    api: () => jsonAnswer(mostPlayed),
    calls: [],
    pageCalls: () => src.calls.filter((c) => c.url.hostname === 'steamcharts.com').length,
    apiCalls: () => src.calls.filter((c) => c.url.hostname === 'api.steampowered.com').length,
    restore: () => undefined,
  };
  src.restore = setWorld({
    fetch: async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.hostname === 'steamcharts.com') {
        src.calls.push({ url, hadSignal: !!init?.signal });
        return src.page(url, init);
      }
      if (url.hostname === 'api.steampowered.com') {
        src.calls.push({ url, hadSignal: !!init?.signal });
        return src.api(url, init);
      }
      // Other areas' cron jobs (the overseer link...) run on the same triggers: no network for them.
      throw new TypeError(`unexpected outbound fetch to ${url.hostname}`);
    },
  });
  return src;
}

export const at = (iso: string) => Date.parse(iso);

/** Pins the clock (and the cron's scheduled time) to `ms`; returns the restore function. */
export function pinClock(ms: number): () => void {
  return setWorld({ now: () => ms });
}

/** Runs a cron trigger through the Worker's real default export, at world time `ms`. */
export async function runCron(cron: string, ms: number, overrides: Partial<Env> = {}): Promise<void> {
  const restore = pinClock(ms);
  try {
    const controller = createScheduledController({ scheduledTime: new Date(ms), cron });
    const ctx = createExecutionContext();
    worker.scheduled(controller, { ...env, ...overrides }, ctx);
    await waitOnExecutionContext(ctx);
  } finally {
    restore();
  }
}

/** Every chart table and catalog row back to empty, and the public cache orphaned. */
export async function cleanSlate(): Promise<void> {
  await env.DB.batch(
    ['charts_top10', 'chart_runs', 'downloaded_games', 'cluster_nodes', 'user_game_library', 'game_external_ids', 'apps', 'games'].map((t) =>
      env.DB.prepare(`DELETE FROM ${t}`),
    ),
  );
  await invalidatePublicCharts();
}

export interface ChartDbRow {
  chart_date: string;
  rank: number;
  name: string;
  steam_appid: number | null;
  game_id: number | null;
  source: string;
  current_players: number | null;
  peak_players: number | null;
  hours_played: number | null;
}

export function chartRows(date: string): Promise<ChartDbRow[]> {
  return db(env).all<ChartDbRow>(sql`SELECT chart_date, rank, name, steam_appid, game_id, source, current_players, peak_players, hours_played
    FROM charts_top10 WHERE chart_date = ${date} ORDER BY rank`);
}

export function runs(): Promise<{ id: number; chart_date: string; trigger: string; source: string | null; status: string; error: string | null }[]> {
  return db(env).all(sql`SELECT id, chart_date, trigger, source, status, error FROM chart_runs ORDER BY id`);
}

/** A catalog game with a Steam appid, as an admin would have created it. */
export async function catalogGame(slug: string, name: string, appid: number | null, extra: { description?: string; rating?: number; cover_url?: string } = {}): Promise<number> {
  const d = db(env);
  const row = await d.get<{ id: number }>(sql`INSERT INTO games (slug, name, description, rating, cover_url) VALUES (${slug}, ${name},
    ${extra.description ?? null}, ${extra.rating ?? null}, ${extra.cover_url ?? null}) RETURNING id`);
  if (appid !== null) await d.run(sql`INSERT INTO game_external_ids (game_id, platform, external_id) VALUES (${row!.id}, 'steam', ${String(appid)})`);
  return row!.id;
}
