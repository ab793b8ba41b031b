/**
 * The chart scrape as a job: claim a run in `chart_runs`, fetch the Steam Charts page (falling back
 * to the Steam Web API when a key is configured), write the snapshot atomically, record the outcome.
 * Failures never touch `charts_top10`: the previous day stays served, the error is logged and kept
 * on the run row (admins read it through `GET /charts/runs`).
 *
 *   jobs.daily.push(dailyChartJob);      // `15 6 * * *`: today's chart
 *   jobs.frequent.push(chartRetryJob);   // every 5 min: retries a failed day with backoff
 *   const run = await runChartScrape(env, 'manual');   // POST /charts/top10/refresh
 *
 * The chart date is the UTC date of the run. Retries: after the n-th failed attempt of a day the
 * next one waits `RETRY_BASE_MS · 2^(n-1)` (capped at `RETRY_MAX_MS`), at most `MAX_ATTEMPTS_PER_DAY`
 * attempts; a new day starts over with the daily cron.
 */
import { db } from '../../db/client';
import { createLogger } from '../../http/log';
import { nowIso, world } from '../../world';
import { enqueueSteamApps } from '../enrichment/jobs';
import { invalidatePublicCharts } from './cache';
import { ChartSourceError, parseTopGames, topTen, type ChartRow } from './scrape';
import { writeSnapshot, type ChartSource } from './snapshot';
import { type ChartRunRow, chartRunById, chartRunsOn, claimChartRun, deleteChartRunsBefore, failChartRun, hasChartOn } from './queries';
import { mostPlayedGames, steamApiConfigured } from './steam-api';

export type RunTrigger = 'cron' | 'manual' | 'retry';

export interface ChartRun {
  id: number;
  chart_date: string;
  trigger: RunTrigger;
  source: string | null;
  status: 'running' | 'ok' | 'failed';
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

/** Tunables, in one object so tests can shorten the fetch timeout without waiting for it. */
export const chartSettings = {
  fetchTimeoutMs: 10_000,
  /** A run still `running` after this is presumed dead (the isolate was killed) and no longer blocks. */
  staleRunMs: 10 * 60_000,
  retryBaseMs: 5 * 60_000,
  retryMaxMs: 2 * 3600_000,
  maxAttemptsPerDay: 8,
  runHistoryDays: 180,
};

const log = createLogger({ job: 'charts' });

export const utcDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function describe(e: unknown): string {
  if (e instanceof DOMException && (e.name === 'TimeoutError' || e.name === 'AbortError')) return 'timed out';
  if (e instanceof ChartSourceError) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

async function fromPage(env: Env): Promise<ChartRow[]> {
  const res = await world.fetch(env.CHART_SOURCE_URL, {
    signal: AbortSignal.timeout(chartSettings.fetchTimeoutMs),
    headers: { Accept: 'text/html', 'User-Agent': 'Edgeplane-Charts/1 (daily top 10)' },
    redirect: 'follow',
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new ChartSourceError(`page answered HTTP ${res.status}`);
  }
  return topTen(await parseTopGames(res.body));
}

/** Fetches today's top 10 from the page, else from the Steam API; throws with both reasons. */
async function fetchTopTen(env: Env): Promise<{ rows: ChartRow[]; source: ChartSource }> {
  let pageError: string;
  try {
    return { rows: await fromPage(env), source: 'steamcharts' };
  } catch (e) {
    pageError = `steamcharts: ${describe(e)}`;
  }
  if (!steamApiConfigured(env)) throw new ChartSourceError(`${pageError}; no Steam API key configured for the fallback`);
  log.warn('chart page failed, trying the Steam API', { error: pageError });
  try {
    return { rows: await mostPlayedGames(env, AbortSignal.timeout(chartSettings.fetchTimeoutMs)), source: 'steam_api' };
  } catch (e) {
    throw new ChartSourceError(`${pageError}; steam_api: ${describe(e)}`);
  }
}

/**
 * Claims a run row, unless another run is in progress (then null: the caller skips or answers 409).
 * The conditional insert makes two overlapping triggers settle on one run.
 */
async function claimRun(env: Env, chartDate: string, trigger: RunTrigger): Promise<number | null> {
  const staleBefore = new Date(world.now() - chartSettings.staleRunMs).toISOString();
  return claimChartRun(db(env), { chartDate, trigger, now: nowIso(), staleBefore });
}

export async function readRun(env: Env, id: number): Promise<ChartRun | null> {
  const row = await chartRunById(db(env), id);
  return row ? toChartRun(row) : null;
}

/** A run as the API shows it. */
export function toChartRun(r: ChartRunRow): ChartRun {
  return { id: r.id, chart_date: r.chartDate, trigger: r.trigger, source: r.source, status: r.status, error: r.error, started_at: r.startedAt, finished_at: r.finishedAt };
}

/** One scrape attempt for today. Returns the finished run, or null when another run was in progress. */
export async function runChartScrape(env: Env, trigger: RunTrigger): Promise<ChartRun | null> {
  const chartDate = utcDate(world.now());
  const runId = await claimRun(env, chartDate, trigger);
  if (runId === null) {
    log.info('chart run skipped: another run is in progress', { trigger });
    return null;
  }
  try {
    const { rows, source } = await fetchTopTen(env);
    await writeSnapshot(env, { chartDate, source, rows, runId });
    await enqueueSteamApps(env, rows.map((r) => r.appid), { create: false }).catch((e) => log.warn('chart stubs not queued for enrichment', { error: describe(e) }));
    log.info('chart snapshot written', { chartDate, source, trigger, runId });
    if (!(await invalidatePublicCharts())) log.warn('public chart cache not invalidated: entries expire by TTL', { runId });
  } catch (e) {
    const error = describe(e).slice(0, 1000);
    log.error('chart scrape failed', { chartDate, trigger, runId, error });
    await failChartRun(db(env), runId, error, nowIso());
  }
  return readRun(env, runId);
}

/** When the next retry of `chartDate` may start, or null when none is due (done, running, or given up). */
export async function nextRetryAt(env: Env, chartDate: string): Promise<number | null> {
  const d = db(env);
  if (await hasChartOn(d, chartDate)) return null;
  const runs = await chartRunsOn(d, chartDate);
  const last = runs[0];
  // No attempt yet today: the daily cron starts the day, retries only follow a failure.
  if (!last || last.status === 'ok') return null;
  const staleBefore = world.now() - chartSettings.staleRunMs;
  if (last.status === 'running' && Date.parse(last.startedAt) >= staleBefore) return null;
  const attempts = runs.length;
  if (attempts >= chartSettings.maxAttemptsPerDay) return null;
  const delay = Math.min(chartSettings.retryBaseMs * 2 ** (attempts - 1), chartSettings.retryMaxMs);
  // From the start of the last attempt: its end drifts by the fetch time, which would push every
  // retry one 5-minute tick later than intended.
  return Date.parse(last.startedAt) + delay;
}

/** Cron ticks fire a little after their nominal minute; a retry due within this margin runs now. */
const TICK_MARGIN_MS = 60_000;

export async function dailyChartJob(env: Env): Promise<void> {
  await runChartScrape(env, 'cron');
  // Run history is for diagnosis, not an archive: a few rows a day, kept for `runHistoryDays`.
  const cutoff = utcDate(world.now() - chartSettings.runHistoryDays * 86_400_000);
  await deleteChartRunsBefore(db(env), cutoff);
}

export async function chartRetryJob(env: Env): Promise<void> {
  const today = utcDate(world.now());
  const at = await nextRetryAt(env, today);
  if (at === null || at - TICK_MARGIN_MS > world.now()) return;
  await runChartScrape(env, 'retry');
}
