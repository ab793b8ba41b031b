/**
 * Catalog enrichment as background work: one Queue message per game (`{ game_id, force? }`), never
 * run inside a user's request. The consumer handles a batch with bounded concurrency; a store error
 * or rate limit is retried with backoff (Retry-After honoured) up to `MAX_ATTEMPTS` deliveries, then
 * recorded as `failed` on the game's `game_enrichment` row for admins to see and re-fetch.
 *
 *   await enqueueSteamApps(env, ['620'], { create: true });   // Steam verify: unknown appids → stubs
 *   await enqueueSteamApps(env, appids, { create: false });   // chart: stubs it already created
 *   await refetchGame(env, gameId);                           // admin: POST /games/{id}/enrich
 *   queue(batch, env) → handleEnrichmentBatch(batch, env)
 *
 * Per game: `appdetails` → name, short description, genres, OS platforms, release date, Metacritic
 * score (a `game_ratings` row), and the header art copied into R2 as the cover — once: the same art
 * URL is not fetched again and the same bytes land on the same content-addressed key. Fields an
 * admin set by hand are never written (see ./manual.ts).
 */
import { changes, db } from '../../db/client';
import { createLogger } from '../../http/log';
import { z } from '../../http/openapi';
import { storeCoverObject, type ImageType } from '../catalog/cover-store';
import { runBatch } from '../../db/helpers';
import { fetchArt } from './art';
import { applyDetails, createStubsAndQueue, enrichTarget, recordAttempt, recordNotFound, requeueGame, type CoverWrite } from './queries';
import { fetchAppDetails } from './steam-store';

export const ENRICH_QUEUE_NAME = 'edgeplane-enrichment';

export const enrichSettings = {
  /** Deliveries of one message before the failure is recorded for good. */
  maxAttempts: 5,
  /** Games fetched at once inside one batch (the store rate-limits by IP). */
  concurrency: 4,
  retryBaseSeconds: 30,
  retryMaxSeconds: 15 * 60,
};

const EnrichMessage = z.object({ game_id: z.number().int().positive(), force: z.boolean().optional() });
export type EnrichMessage = z.infer<typeof EnrichMessage>;

const log = createLogger({ job: 'enrichment' });

async function send(env: Env, messages: EnrichMessage[]) {
  for (let i = 0; i < messages.length; i += 100) {
    await env.ENRICH_QUEUE.sendBatch(messages.slice(i, i + 100).map((body) => ({ body, contentType: 'json' as const })));
  }
}

/** Queues the stubs among `appids` (creating missing ones when `create`); returns how many games were added. */
export async function enqueueSteamApps(env: Env, appids: Array<string | number>, opts: { create: boolean }): Promise<{ added: number; queued: number }> {
  const unique = [...new Set(appids.map(String))].filter((a) => /^[0-9]{1,10}$/.test(a));
  const { added, queued } = await createStubsAndQueue(env, unique, opts);
  try {
    await send(env, queued.map((game_id) => ({ game_id })));
  } catch (e) {
    // The games exist and stay `queued`; an admin's re-fetch sends them again. The caller's own work
    // (a verification, a chart) must not fail for the background part.
    log.error('enrichment messages not sent', { games: queued.length, error: String(e) });
  }
  return { added, queued: queued.length };
}

/** An admin's re-fetch of one game; false when the game has no Steam id to fetch by. */
export async function refetchGame(env: Env, gameId: number): Promise<boolean> {
  if (!(await requeueGame(env, gameId))) return false;
  await send(env, [{ game_id: gameId, force: true }]);
  return true;
}

type Outcome = { kind: 'done' } | { kind: 'skip' } | { kind: 'retry'; error: string; retryAfter?: number };

/** One fetch-and-apply for one game. Throws only for the unexpected (treated as retryable). */
export async function enrichGame(env: Env, gameId: number, attempts: number, force = false): Promise<Outcome> {
  const target = await enrichTarget(env, gameId);
  if (!target) return { kind: 'skip' };
  const store = await fetchAppDetails(env, target.appid);
  if (store.kind === 'retry') return store;
  if (store.kind === 'not_found') {
    await recordNotFound(env, gameId, attempts);
    return { kind: 'done' };
  }
  if (store.kind === 'bad') {
    await recordAttempt(env, gameId, attempts, store.error, true);
    return { kind: 'done' };
  }
  const d = store.details;
  let cover: CoverWrite | null = null;
  let artError: string | null = null;
  const artUrl = d.headerUrl ?? d.capsuleUrl;
  const wantsArt = artUrl !== null && !target.manual.includes('cover') && (force || !target.coverKey || target.artSourceUrl !== artUrl);
  if (wantsArt) {
    const art = await fetchArt(env, artUrl);
    if (!art.ok && art.retryable) return { kind: 'retry', error: art.error, ...(art.retryAfter ? { retryAfter: art.retryAfter } : {}) };
    if (art.ok) {
      const stored = await storeCoverObject(env, gameId, art.bytes, { ext: art.ext, mime: art.mime } as ImageType);
      cover = { objectKey: stored.objectKey, coverUrl: stored.coverUrl, sourceUrl: artUrl };
    } else artError = art.error;
  }
  const results = await runBatch(db(env), applyDetails(gameId, target.appid, attempts, d, cover, artError));
  if (cover && changes(results[0]!) === 1 && target.coverKey && target.coverKey !== cover.objectKey) {
    // The game points at the new cover now: the old object is no one's.
    await env.BUCKET.delete(target.coverKey);
  }
  return { kind: 'done' };
}

/** Seconds before the next delivery: the store's Retry-After, else exponential backoff; capped. */
export function retryDelay(attempt: number, retryAfter: number | undefined): number {
  const base = retryAfter ?? enrichSettings.retryBaseSeconds * 2 ** (attempt - 1);
  return Math.min(enrichSettings.retryMaxSeconds, Math.max(1, Math.round(base)));
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

export async function handleEnrichmentBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await pool(batch.messages, enrichSettings.concurrency, async (msg) => {
    const parsed = EnrichMessage.safeParse(msg.body);
    if (!parsed.success) {
      log.warn('enrichment message dropped: not a game id', { id: msg.id });
      msg.ack();
      return;
    }
    const { game_id: gameId, force } = parsed.data;
    let outcome: Outcome;
    try {
      outcome = await enrichGame(env, gameId, msg.attempts, force ?? false);
    } catch (e) {
      outcome = { kind: 'retry', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
    if (outcome.kind !== 'retry') {
      msg.ack();
      return;
    }
    const final = msg.attempts >= enrichSettings.maxAttempts;
    await recordAttempt(env, gameId, msg.attempts, outcome.error, final);
    if (final) {
      log.error('enrichment gave up', { gameId, attempts: msg.attempts, error: outcome.error });
      msg.ack();
    } else {
      msg.retry({ delaySeconds: retryDelay(msg.attempts, outcome.retryAfter) });
    }
  });
}
