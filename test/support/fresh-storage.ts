/**
 * Empties every binding's storage between Workers test files (test/support/apply-migrations.ts)
 * and checks that it is empty, so no file starts with another file's rows, seats or objects.
 *
 * `reset()` from `cloudflare:test` (workerd's `deleteAllDurableObjects()`) deletes the storage of
 * the Durable Objects that are IN MEMORY when it runs, and nothing else. D1 and R2 are Durable
 * Objects inside Miniflare, and workerd evicts an object after ~10 s without a request (measured
 * here: a D1 database idle 8 s before `reset()` came back empty, one idle 12 s kept its rows), as
 * do tests on purpose (`evictDurableObject`). So on a loaded machine, when a file's last D1 query
 * or a play org's last allocator call was more than ~10 s before the next file's reset, that
 * storage outlived the reset: the next file found the previous one's users (the accounts bootstrap
 * test), and an OrgAllocator of the previous file's org 1 (ids restart at 1) still held its seats
 * and its alarm, so the next file's first `POST /sessions` for that org was answered 200 (a replay
 * of the old seat) or 429 (no free seat) instead of 201.
 *
 * The cure is to bring every object that may hold data into memory right before `reset()`, then
 * to check. Waking every object ever stored (each one's constructor creating its tables) cost ~7 ms
 * an object, and the list grows through the run (`reset()` leaves an emptied object's file in
 * place): ~50 s of a whole run. So only the objects whose files were written since the previous
 * wipe are woken (test/support/storage-files.mjs tells them, from the host's files): an object
 * untouched since then is still as empty as that wipe left it, evicted or not. The first wipe in a
 * workerd, and any wipe that cannot tell, wakes every stored object as before. (Keeping our
 * objects in memory with miniflare's `unsafePreventEviction` does not serve: `reset()` skips such
 * namespaces altogether, and `evictDurableObject()` refuses them.)
 */
import { env, listDurableObjectIds, reset, runInDurableObject } from 'cloudflare:test';

const bindings = Object.entries(env as unknown as Record<string, unknown>);

// The Worker's own namespaces (the pool's runner object is not ours to wipe); the same test of the
// type as `listDurableObjectIds` makes.
function isNamespace(name: string, v: unknown): v is DurableObjectNamespace {
  return !name.startsWith('__VITEST') && typeof v === 'object' && v !== null && /^(?:Loopback)?DurableObjectNamespace$/.test(v.constructor.name);
}
function isBucket(v: unknown): v is R2Bucket {
  return typeof v === 'object' && v !== null && v.constructor.name === 'R2Bucket';
}

const namespaces = bindings.filter((e): e is [string, DurableObjectNamespace] => isNamespace(e[0], e[1]));
const buckets = bindings.filter((e): e is [string, R2Bucket] => isBucket(e[1]));

/** Carried from wipe to wipe in this workerd (`isolate: false`: one global scope for every file). */
const carried = globalThis as { __edgeplaneWipe?: { root: string; since: number } };
const files = (env as unknown as { TEST_STORAGE_FILES: Fetcher }).TEST_STORAGE_FILES;

async function ask<T>(path: string): Promise<T | undefined> {
  const res = await files.fetch(`http://storage-files${path}`);
  return res.ok ? ((await res.json()) as T) : undefined;
}

/** Ids of the objects written since the previous wipe; undefined when that cannot be told. */
async function changedSinceLastWipe(): Promise<Set<string> | undefined> {
  const last = carried.__edgeplaneWipe;
  if (!last) return undefined;
  const changed = await ask<{ ids: string[] }>(`/changed?root=${encodeURIComponent(last.root)}&since=${last.since}`);
  return changed && new Set(changed.ids);
}

/**
 * Where this workerd keeps its objects' files, found once through an object of a name no other run
 * uses (other Miniflares on the machine hold the same ids for the same names); written before the
 * reset, so the reset empties it like any other.
 */
async function locateFiles(): Promise<string | undefined> {
  if (carried.__edgeplaneWipe) return carried.__edgeplaneWipe.root;
  const [, ns] = namespaces[0]!;
  const marker = ns.idFromName(`wipe-marker-${crypto.randomUUID()}`);
  await runInDurableObject(ns.get(marker), () => undefined);
  return (await ask<{ root: string }>(`/locate?id=${marker.toString()}`))?.root;
}

/** Objects that may hold data (all stored ones when `changed` is unknown) loaded; then D1 and R2 touched, just before the reset. */
async function loadEverything(changed: Set<string> | undefined): Promise<void> {
  await Promise.all(
    namespaces.map(async ([, ns]) => {
      const ids = (await listDurableObjectIds(ns)).filter((id) => !changed || changed.has(id.toString()));
      await Promise.all(ids.map((id) => runInDurableObject(ns.get(id), () => undefined)));
    }),
  );
  await Promise.all(buckets.map(([, b]) => b.list({ limit: 1 })));
  await env.DB.prepare('SELECT 1').run();
}

/**
 * What survived, named for the error message; empty when the world is fresh. Durable Objects are
 * not listed here: `reset()` leaves an emptied object's `.sqlite` file in place, so
 * `listDurableObjectIds` keeps naming it; that they are emptied is test/platform/test-isolation.test.ts.
 */
async function leftovers(): Promise<string[]> {
  const out: string[] = [];
  for (const [name, b] of buckets) if ((await b.list({ limit: 1 })).objects.length > 0) out.push(`${name} objects`);
  const tables = await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name <> 'sqlite_sequence'`).all<{ name: string }>();
  if (tables.results.length > 0) out.push(`D1 tables ${tables.results.map((t) => t.name).join(', ')}`);
  return out;
}

/** Deletes all stored data of every binding; throws if some still survives after three tries. */
export async function wipeStorage(): Promise<void> {
  for (let round = 1; ; round++) {
    // A retry wakes everything: something was missed.
    const changed = round === 1 ? await changedSinceLastWipe() : undefined;
    const root = await locateFiles();
    await loadEverything(changed);
    await reset();
    const left = await leftovers();
    if (left.length === 0) {
      // The files' clock after the reset: the next wipe's `since`.
      const now = await ask<{ now: number }>('/now');
      carried.__edgeplaneWipe = root && now ? { root, since: now.now } : undefined;
      return;
    }
    if (round === 3) throw new Error(`reset() left data behind three times: ${left.join('; ')}`);
  }
}
