/**
 * The public chart (no org, so no tenant data in it) cached at the edge with the Cache API.
 *
 *   const hit = await readPublicChart(date);                // { body, etag } | null
 *   c.executionCtx.waitUntil(storePublicChart(date, body, etag));
 *   await invalidatePublicCharts();                          // after a new snapshot
 *
 * Invalidation is by generation: every key embeds the current generation, itself a cache entry, and
 * writing a snapshot bumps it, so every date's entry (`latest`, any `date=`) is orphaned at once
 * without listing keys. The Cache API is per data center: the bump reaches the data center that ran
 * the scrape; elsewhere entries expire after `EDGE_TTL_SECONDS`, which bounds staleness globally.
 * (On `*.workers.dev` the Cache API is a no-op: every request then reads D1.)
 */
import { sha256Hex, world } from '../../world';

const HOST = 'https://charts-cache.edgeplane.internal';
const GENERATION_KEY = `${HOST}/top10/generation`;
/** How long a data center keeps a public chart it was not told about. */
export const EDGE_TTL_SECONDS = 300;
/**
 * What clients get: store, but revalidate every time (a 304 from the edge cache costs no D1 query).
 * A client max-age would show the old chart for that long after an admin's refresh.
 */
export const CLIENT_CACHE_CONTROL = 'public, no-cache';

function cache(): Cache | null {
  // Absent in some test or local setups: caching is an optimisation, never a requirement.
  return typeof caches === 'undefined' ? null : caches.default;
}

async function generation(c: Cache): Promise<string> {
  const res = await c.match(GENERATION_KEY);
  return res ? (await res.text()).trim() || '0' : '0';
}

const keyOf = (gen: string, date: string | null) => `${HOST}/top10/${encodeURIComponent(gen)}/${date ?? 'latest'}`;

export async function chartEtag(body: string): Promise<string> {
  return `"${(await sha256Hex(body)).slice(0, 32)}"`;
}

export async function readPublicChart(date: string | null): Promise<{ body: string; etag: string } | null> {
  const c = cache();
  if (!c) return null;
  try {
    const res = await c.match(keyOf(await generation(c), date));
    if (!res) return null;
    const body = await res.text();
    return { body, etag: res.headers.get('ETag') ?? (await chartEtag(body)) };
  } catch {
    return null;
  }
}

export async function storePublicChart(date: string | null, body: string, etag: string): Promise<void> {
  const c = cache();
  if (!c) return;
  try {
    await c.put(
      keyOf(await generation(c), date),
      new Response(body, { headers: { 'Content-Type': 'application/json', ETag: etag, 'Cache-Control': `max-age=${EDGE_TTL_SECONDS}` } }),
    );
  } catch {
    // A failed cache write only costs a D1 query next time.
  }
}

/** Bumps the generation; false when the cache refused (entries then expire by TTL). */
export async function invalidatePublicCharts(): Promise<boolean> {
  const c = cache();
  if (!c) return false;
  const gen = `${world.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await c.put(GENERATION_KEY, new Response(gen, { headers: { 'Cache-Control': 'max-age=2592000' } }));
    return true;
  } catch {
    return false;
  }
}
