/**
 * Catalog enrichment from the Steam store: the queue consumer driven through the Worker's real
 * `queue` export with hand-built batches (so nothing runs in the background behind the test), the
 * store and the art hosts faked at the fetch boundary with recorded answers.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { and, eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import worker from '../../../src/index';
import { enrichSettings, ENRICH_QUEUE_NAME, retryDelay, type EnrichMessage } from '../../../src/console/enrichment/jobs';
import { createStubsAndQueue } from '../../../src/console/enrichment/queries';
import { db } from '../../../src/db/client';
import { gameEnrichment, gameExternalIds, gameRatings, games } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { makeUser } from '../../support/users';
import portal from '../../fixtures/steam/appdetails-620.json';
import notFound from '../../fixtures/steam/appdetails-not-found.json';
import rateLimited from '../../fixtures/steam/store-rate-limited.json';
import unavailable from '../../fixtures/steam/unavailable.json';
import { fakeSteam, PNG_BYTES, type Recorded } from '../library/fakes';
import { at, cleanSlate, DAILY, fakeSources, runCron } from '../charts/support';

const HEADER = 'https://shared.akamai.steamstatic.com/store_item_assets/steam/apps/620/header.jpg?t=1745363004';

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

let seq = 0;
/** A fresh stub for appid 620 (the catalog is emptied first: one game per store id). */
async function portalStub(): Promise<number> {
  await env.DB.batch(['game_enrichment', 'game_external_ids', 'game_ratings', 'games'].map((t) => env.DB.prepare(`DELETE FROM ${t}`)));
  const { queued } = await createStubsAndQueue(env, ['620'], { create: true });
  expect(queued).toHaveLength(1);
  return queued[0]!;
}

/** Delivers one message to the Worker's queue handler; returns what it acked or retried. */
async function deliver(body: EnrichMessage, attempts = 1) {
  seq += 1;
  const batch = createMessageBatch<EnrichMessage>(ENRICH_QUEUE_NAME, [{ id: `msg-${seq}`, timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks.includes(`msg-${seq}`), retried: result.retryMessages.find((m) => m.msgId === `msg-${seq}`) ?? null };
}

function store(script: Parameters<typeof fakeSteam>[0]) {
  const fake = fakeSteam(script);
  restore = fake.restore;
  return fake;
}

type Detail = {
  name: string;
  description: string | null;
  cover_url: string | null;
  ratings: Array<{ source: string; score: number; details: string | null }>;
  metadata: { status: string; genres: string[]; os_platforms: string[]; release_date: string | null; last_error: string | null; attempts: number } | null;
  manual_fields: string[];
};
const detail = async (id: number) => json<Detail>(await call('GET', `/games/${id}`));
const coverObjects = async (id: number) => (await env.BUCKET.list({ prefix: `covers/${id}-` })).objects.map((o) => o.key);
const enrichmentRow = (id: number) => db(env).select().from(gameEnrichment).where(eq(gameEnrichment.gameId, id)).get();

describe('enrichment from the Steam store', () => {
  it('fills a stub from appdetails: name, description, genres, platforms, release date, Metacritic, and the header art as its cover in R2', async () => {
    const id = await portalStub();
    const fake = store({ appdetails: { '620': [portal as Recorded] } });
    expect(await deliver({ game_id: id })).toEqual({ acked: true, retried: null });
    const g = await detail(id);
    expect(g.name).toBe('Portal 2');
    expect(g.description).toBe('The "Perpetual Testing Initiative" has been expanded to allow you to design co-op puzzles for you and your friends!');
    expect(g.ratings).toEqual([{ source: 'metacritic', score: 95, details: 'https://www.metacritic.com/game/pc/portal-2?ftid=5022' }]);
    expect(g.metadata).toMatchObject({ status: 'done', genres: ['Action', 'Adventure'], os_platforms: ['windows', 'linux'], release_date: '18 Apr, 2011', last_error: null });
    expect(g.cover_url).toMatch(new RegExp(`^/covers/${id}-[0-9a-f]{32}\\.png$`));
    const cover = await call('GET', g.cover_url!);
    expect(cover.status).toBe(200);
    expect(cover.headers.get('Content-Type')).toBe('image/png');
    expect(new Uint8Array(await cover.arrayBuffer())).toEqual(PNG_BYTES);
    expect(fake.callsTo('https://store.steampowered.com/api/appdetails?')[0]!.url).toContain('appids=620');
    const row = await db(env).select({ isStub: games.isStub }).from(games).where(eq(games.id, id)).get();
    expect(row!.isStub).toBe(false);
  });

  it('is idempotent: a second run changes nothing and copies the cover only once', async () => {
    const id = await portalStub();
    const fake = store({ appdetails: { '620': [portal as Recorded] } });
    await deliver({ game_id: id });
    const first = await detail(id);
    await deliver({ game_id: id });
    await deliver({ game_id: id });
    const again = await detail(id);
    const sansFetchTime = (d: Detail) => ({ ...d, metadata: { ...d.metadata, fetched_at: null } });
    expect(sansFetchTime(again)).toEqual(sansFetchTime(first));
    expect(fake.callsTo(HEADER)).toHaveLength(1);
    expect(await coverObjects(id)).toHaveLength(1);
    expect(await db(env).select().from(gameRatings).where(eq(gameRatings.gameId, id))).toHaveLength(1);
    // A forced re-fetch downloads the art again, but the same bytes land on the same key.
    await deliver({ game_id: id, force: true });
    expect(fake.callsTo(HEADER)).toHaveLength(2);
    expect(await coverObjects(id)).toHaveLength(1);
    expect((await detail(id)).cover_url).toBe(first.cover_url);
  });

  it('never overwrites what an admin set by hand (name, description, ratings, an uploaded cover)', async () => {
    const id = await portalStub();
    const admin = await makeUser({ role: 'admin' });
    store({ appdetails: { '620': [portal as Recorded] } });
    const edit = await call('PUT', `/games/${id}`, {
      token: admin.token,
      body: { name: 'Portal 2 (Collector’s)', description: 'Our house copy.', ratings: [{ source: 'house', score: 88 }] },
    });
    expect(edit.status).toBe(200);
    const upload = await call('PUT', `/games/${id}/cover`, { token: admin.token, raw: PNG_BYTES.slice(), headers: { 'Content-Type': 'image/png' } });
    expect(upload.status).toBe(200);
    const uploaded = (await json<{ cover_url: string }>(upload)).cover_url;
    await deliver({ game_id: id, force: true });
    const g = await detail(id);
    expect(g).toMatchObject({ name: 'Portal 2 (Collector’s)', description: 'Our house copy.', cover_url: uploaded });
    expect(g.ratings).toEqual([{ source: 'house', score: 88, details: null }]);
    expect(g.manual_fields.sort()).toEqual(['cover', 'description', 'name', 'ratings']);
    // The store's facts without a manual counterpart are still recorded.
    expect(g.metadata).toMatchObject({ status: 'done', genres: ['Action', 'Adventure'] });
  });

  it('retries a store rate limit with its Retry-After, then a 5xx with backoff, and records the failure after the last attempt', async () => {
    const id = await portalStub();
    store({ appdetails: { '620': [rateLimited as Recorded, unavailable as Recorded] } });
    // (The test harness reports which messages were retried, not their delay: `retryDelay` below.)
    expect(await deliver({ game_id: id }, 1)).toEqual({ acked: false, retried: { msgId: `msg-${seq}` } });
    expect(await enrichmentRow(id)).toMatchObject({ status: 'queued', attempts: 1, lastError: 'store answered HTTP 429' });
    const second = await deliver({ game_id: id }, 2);
    expect(second.retried).not.toBeNull();
    expect(await enrichmentRow(id)).toMatchObject({ status: 'queued', attempts: 2, lastError: 'store answered HTTP 503' });
    expect(await deliver({ game_id: id }, enrichSettings.maxAttempts)).toEqual({ acked: true, retried: null });
    expect(await enrichmentRow(id)).toMatchObject({ status: 'failed', attempts: enrichSettings.maxAttempts, lastError: 'store answered HTTP 503' });
    // Nothing of the game was touched.
    expect((await detail(id)).name).toBe('Steam app 620');
  });

  it('waits what the store’s Retry-After asks, else backs off exponentially, never more than the cap', () => {
    expect(retryDelay(1, 60)).toBe(60);
    expect(retryDelay(1, undefined)).toBe(enrichSettings.retryBaseSeconds);
    expect(retryDelay(3, undefined)).toBe(enrichSettings.retryBaseSeconds * 4);
    expect(retryDelay(4, 86_400)).toBe(enrichSettings.retryMaxSeconds);
  });

  it('records an app the store has no page for as not found, without retrying', async () => {
    const id = await portalStub();
    store({ appdetails: { '620': [notFound as Recorded] } });
    expect(await deliver({ game_id: id })).toEqual({ acked: true, retried: null });
    expect(await enrichmentRow(id)).toMatchObject({ status: 'not_found' });
  });
});

describe('art copying is limited to the configured hosts, a size cap and real images', () => {
  function withHeader(url: string): Recorded {
    const body = structuredClone((portal as Recorded).body) as Record<string, { data: Record<string, unknown> }>;
    body['620']!.data.header_image = url;
    body['620']!.data.capsule_imagev5 = url;
    return { ...(portal as Recorded), body };
  }

  it('never fetches art from a host the store payload names but the config does not list (no SSRF)', async () => {
    const id = await portalStub();
    const fake = store({ appdetails: { '620': [withHeader('http://169.254.169.254/latest/meta-data/iam/')] } });
    expect(await deliver({ game_id: id })).toEqual({ acked: true, retried: null });
    expect(fake.calls.some((c) => c.url.includes('169.254.169.254'))).toBe(false);
    const g = await detail(id);
    expect(g.name).toBe('Portal 2');
    expect(g.cover_url).toBeNull();
    expect(g.metadata?.last_error).toMatch(/art host not allowed/);
  });

  it('does not follow an art redirect to another host', async () => {
    const id = await portalStub();
    const fake = store({
      appdetails: { '620': [portal as Recorded] },
      art: { [HEADER]: { status: 302, headers: { location: 'http://127.0.0.1:8080/admin' }, body: '' } },
    });
    await deliver({ game_id: id });
    expect(fake.calls.some((c) => c.url.startsWith('http://127.0.0.1'))).toBe(false);
    expect((await detail(id)).cover_url).toBeNull();
  });

  it('refuses art that is too large or is not an image (an SVG served as image/jpeg)', async () => {
    const id = await portalStub();
    const huge = new Uint8Array(5 * 1024 * 1024 + 1);
    huge.set(PNG_BYTES);
    store({ appdetails: { '620': [portal as Recorded] }, art: { [HEADER]: huge } });
    await deliver({ game_id: id });
    expect((await detail(id)).metadata?.last_error).toMatch(/larger than/);
    restore!();
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    store({ appdetails: { '620': [portal as Recorded] }, art: { [HEADER]: svg } });
    await deliver({ game_id: id, force: true });
    const g = await detail(id);
    expect(g.metadata?.last_error).toMatch(/not a PNG, JPEG/);
    expect(g.cover_url).toBeNull();
    expect(await coverObjects(id)).toHaveLength(0);
  });
});

describe('what gets queued', () => {
  it('queues the chart’s unknown appids after the daily scrape, once', async () => {
    await cleanSlate();
    const src = fakeSources();
    const sent: unknown[] = [];
    const queue = { send: async (b: unknown) => void sent.push(b), sendBatch: async (msgs: Array<{ body: unknown }>) => void sent.push(...msgs.map((m) => m.body)) };
    try {
      await runCron(DAILY, at('2026-11-22T06:15:00Z'), { ENRICH_QUEUE: queue as unknown as Queue });
      const stubs = await db(env).all<{ id: number }>(sql`SELECT id FROM games WHERE is_stub = 1 ORDER BY id`);
      expect(stubs).toHaveLength(10);
      expect((sent as EnrichMessage[]).map((m) => m.game_id).sort((a, b) => a - b)).toEqual(stubs.map((s) => s.id));
      await runCron(DAILY, at('2026-11-23T06:15:00Z'), { ENRICH_QUEUE: queue as unknown as Queue });
      expect(sent).toHaveLength(10);
    } finally {
      src.restore();
    }
  });

  it('lets a platform admin re-fetch one game, and nobody else', async () => {
    const id = await portalStub();
    await db(env).update(gameEnrichment).set({ status: 'failed', attempts: 5, lastError: 'store answered HTTP 503' }).where(eq(gameEnrichment.gameId, id)).run();
    const admin = await makeUser({ role: 'admin' });
    const user = await makeUser();
    expect((await call('POST', `/games/${id}/enrich`, { token: user.token })).status).toBe(403);
    expect((await call('POST', `/games/${id}/enrich`)).status).toBe(401);
    expect((await call('POST', '/games/999999/enrich', { token: admin.token })).status).toBe(404);
    const handmade = await db(env).insert(games).values({ slug: `house-${seq}`, name: 'House game' }).returning().get();
    const none = await call('POST', `/games/${handmade.id}/enrich`, { token: admin.token });
    expect(none.status).toBe(409);
    expect(await json(none)).toMatchObject({ code: 'no_steam_id' });
    // Point the background consumer at a store that is down: the route must only queue.
    store({ appdetails: { '620': [unavailable as Recorded] } });
    const res = await call('POST', `/games/${id}/enrich`, { token: admin.token });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ game_id: id, queued: true });
    expect(await enrichmentRow(id)).toMatchObject({ status: 'queued', attempts: 0, lastError: null });
    expect(await db(env).select().from(gameExternalIds).where(and(eq(gameExternalIds.gameId, id), eq(gameExternalIds.platform, 'steam')))).toHaveLength(1);
  });
});
