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
 * The cure is to bring every stored object into memory right before `reset()`, then to check.
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

/** Every object that has storage on disk, loaded; then D1 and R2 touched, just before the reset. */
async function loadEverything(): Promise<void> {
  await Promise.all(
    namespaces.map(async ([, ns]) => {
      const ids = await listDurableObjectIds(ns);
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
    await loadEverything();
    await reset();
    const left = await leftovers();
    if (left.length === 0) return;
    if (round === 3) throw new Error(`reset() left data behind three times: ${left.join('; ')}`);
  }
}
