/**
 * The Node side of the Workers tests' per-file wipe (test/support/fresh-storage.ts): which Durable
 * Objects' files changed since the previous wipe, so that only those are woken before `reset()`.
 * A service binding of the Worker under test (`TEST_STORAGE_FILES`, vitest.config.mts): workerd
 * cannot see the host's files, and the pool's Miniflare keeps every object's SQLite file in its
 * own temporary directory (`<tmpdir>/miniflare-<random>/do/<worker>-<Class>/<id>.sqlite[-wal|-shm]`).
 *
 * Why it is sound: right after a wipe every stored object is empty (checked for D1/R2, proved for
 * objects by test/platform/test-isolation.test.ts); an object that stores anything afterwards (a
 * row, a key, an alarm, even the tables its constructor creates) writes its file, so an object whose
 * files are older than the previous wipe still holds nothing, in memory or evicted.
 *
 *   GET /locate?id=<hex id>      the `do` folder of the Miniflare holding that (freshly written) object
 *   GET /changed?root=&since=    ids of the objects with a file written at or after `since` (ms)
 *   GET /now                     this clock (the files' clock), to pass as the next `since`
 */
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

// File times come from the kernel's coarse clock, which may lag `Date.now()` by a tick or two: a
// write just after the mark must not look older than it. The price: the few objects written in the
// last moments of a wipe are woken once more by the next one.
const CLOCK_SLACK_MS = 30;

const hexId = /^[0-9a-f]{64}$/;
const json = (body, status = 200) => Response.json(body, { status });

/** The Miniflare folders of this machine's temporary directory (not only ours: `locate` tells). */
function miniflareRoots() {
  return readdirSync(tmpdir()).filter((d) => /^miniflare-[0-9a-f]+$/.test(d)).map((d) => join(tmpdir(), d, 'do'));
}

/** Only a `do` folder of a Miniflare temporary directory is ever read. */
const isDoRoot = (root) => dirname(dirname(root)) === tmpdir() && /^miniflare-[0-9a-f]+$/.test(basename(dirname(root))) && basename(root) === 'do';

function entries(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** @param {Request} request */
export function storageFiles(request) {
  const url = new URL(request.url);
  if (url.pathname === '/now') return json({ now: Date.now() });
  if (url.pathname === '/locate') {
    const id = url.searchParams.get('id') ?? '';
    if (!hexId.test(id)) return json({ error: 'id' }, 400);
    for (const root of miniflareRoots()) {
      for (const ns of entries(root)) if (ns.isDirectory() && entries(join(root, ns.name)).some((f) => f.name === `${id}.sqlite`)) return json({ root });
    }
    return json({ error: 'not found' }, 404);
  }
  if (url.pathname === '/changed') {
    const root = url.searchParams.get('root') ?? '';
    const since = Number(url.searchParams.get('since'));
    if (!isDoRoot(root) || !Number.isFinite(since)) return json({ error: 'root or since' }, 400);
    const ids = new Set();
    for (const ns of entries(root)) {
      if (!ns.isDirectory()) continue;
      for (const f of entries(join(root, ns.name))) {
        const id = f.name.split('.')[0];
        if (!hexId.test(id) || ids.has(id)) continue;
        try {
          if (statSync(join(root, ns.name, f.name)).mtimeMs >= since - CLOCK_SLACK_MS) ids.add(id);
        } catch {
          // Deleted while we looked: nothing left to wipe there.
        }
      }
    }
    return json({ ids: [...ids] });
  }
  return json({ error: 'not found' }, 404);
}
