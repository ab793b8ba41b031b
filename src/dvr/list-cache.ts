/**
 * Built lists kept per isolate (issue 17 target 3): a changed list is built once, then served to
 * every poll of the same version from memory. An entry is the body of one list view (its key, e.g.
 * `subs-all`, `subs-u7`, `users`: the key the view's ETag carries) at the change-counter versions
 * it was built at, as UTF-8 bytes (and, once a client asked for it, gzip bytes), so serving it
 * encodes nothing. The counters version the body exactly as they version the ETag (conditional.ts):
 * the body of a view at given versions is the same for every caller allowed to see that view, so
 * an entry is shared between callers of the same view and never between views — a user's list and
 * everyone's list are different keys, and a route answers from the entry of the view it has
 * authorized, after the batch has confirmed the caller.
 *
 *   const entry = builtList(view.key);                 // before the batch: its versions join the guard
 *   if (entry && sameVersions(entry.versions, current)) serve(entry.bytes);
 *   else keepBuiltList(view.key, current, etag, text);  // built from this batch's rows
 *
 * Bounded by total bytes (`LIST_CACHE_MAX_BYTES`), least recently used first out; one version per
 * view (a newer build replaces the older). Nothing here is a source of truth: an isolate that
 * starts empty, or loses an entry, reads the list from D1 again in the same single trip.
 *
 * The counters are trusted here exactly as far as the 304 trusts them: a D1 restore that rewinds
 * `change_counters` would let a body (and a client's tag) of the old timeline match the new one
 * until the counters move past it (docs/dvr.md "Built lists").
 */

/** One view's body at one version. */
export interface BuiltList {
  readonly key: string;
  readonly versions: readonly number[];
  readonly etag: string;
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The same bytes gzip-compressed, made on the first request that accepts gzip. */
  gzip?: Uint8Array<ArrayBuffer>;
}

/** What the entries may hold in all (bytes + gzip bytes): a dozen 1,000-row admin lists (342 KiB
 * each), a small share of the isolate's 128 MB. */
export const LIST_CACHE_MAX_BYTES = 4 * 1024 * 1024;

/** Below this a body is sent plain: gzip's own framing would eat most of the gain. */
export const MIN_GZIP_BYTES = 1024;

const encoder = new TextEncoder();

// A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
const entries = new Map<string, BuiltList>();
let total = 0;
let maxBytes = LIST_CACHE_MAX_BYTES;

const sizeOf = (e: BuiltList) => e.bytes.byteLength + (e.gzip?.byteLength ?? 0);

/** The view's kept body (any version), marked as used; undefined when this isolate holds none. */
export function builtList(key: string): BuiltList | undefined {
  const e = entries.get(key);
  if (!e) return undefined;
  entries.delete(key);
  entries.set(key, e);
  return e;
}

export function sameVersions(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Keeps `text` as the view's body at `versions` (replacing any other version of it) and returns the
 * entry; a body larger than the whole bound is returned without being kept. */
export function keepBuiltList(key: string, versions: readonly number[], etag: string, text: string): BuiltList {
  // encode() always returns a fresh ArrayBuffer-backed array (never a shared one), what a body takes.
  const entry: BuiltList = { key, versions: [...versions], etag, bytes: encoder.encode(text) as Uint8Array<ArrayBuffer> };
  forget(key);
  if (entry.bytes.byteLength > maxBytes) return entry;
  entries.set(key, entry);
  total += entry.bytes.byteLength;
  evict();
  return entry;
}

/** The entry's gzip bytes, compressed once and counted against the bound from then on. */
export async function gzipOf(entry: BuiltList): Promise<Uint8Array<ArrayBuffer>> {
  if (entry.gzip) return entry.gzip;
  const stream = new Blob([entry.bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  const gzip = new Uint8Array(await new Response(stream).arrayBuffer());
  if (entry.gzip) return entry.gzip; // another request of the same isolate compressed it meanwhile
  entry.gzip = gzip;
  if (entries.get(entry.key) === entry) {
    total += gzip.byteLength;
    evict();
  }
  return gzip;
}

/**
 * True when the edge would pick gzip itself for this `Accept-Encoding`: the first of gzip and br in
 * the client's order of preference (q-value, then position; q=0 refuses) is gzip. Browsers send
 * `gzip, deflate, br, zstd`. A client preferring br is sent plain bytes, which the edge (and local
 * `wrangler dev`) compresses as it always did, so no client ever gets an encoding it did not ask for.
 */
export function prefersGzip(acceptEncoding: string | null | undefined): boolean {
  if (!acceptEncoding) return false;
  // Every poll of a browser sends the same header: parse a given string once.
  if (acceptEncoding === lastAccepted.header) return lastAccepted.gzip;
  const gzip = gzipFirst(acceptEncoding);
  lastAccepted = { header: acceptEncoding, gzip };
  return gzip;
}

let lastAccepted: { header: string; gzip: boolean } = { header: '', gzip: false };

function gzipFirst(acceptEncoding: string): boolean {
  const codings = acceptEncoding
    .split(',')
    .slice(0, 16)
    .map((part, i) => {
      const [name = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { name: name.trim(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((e) => e.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  return codings.find((e) => e.name === 'gzip' || e.name === 'br' || e.name === 'identity')?.name === 'gzip';
}

function forget(key: string) {
  const old = entries.get(key);
  if (!old) return;
  entries.delete(key);
  total -= sizeOf(old);
}

function evict() {
  for (const [key] of entries) {
    if (total <= maxBytes) break;
    forget(key);
  }
}

/** What the isolate holds (tests: the bound). */
export function listCacheUsage(): { entries: number; bytes: number; maxBytes: number; keys: string[] } {
  return { entries: entries.size, bytes: total, maxBytes, keys: [...entries.keys()] };
}

/**
 * Empties the cache and sets its bound. A fresh isolate starts empty; the Workers tests reuse one
 * isolate for many files, each on a freshly reset database whose counters start again at 0, so
 * their setup calls this to start each file as a new isolate would (test/support/apply-migrations.ts).
 */
export function resetListCache(bound = LIST_CACHE_MAX_BYTES): void {
  entries.clear();
  total = 0;
  maxBytes = bound;
}
