// Runs before every Workers test file. The projects run with `isolate: false` (vitest.config.mts):
// one workerd per pool worker serves many files in turn instead of one workerd per file, so this
// setup gives each file the fresh world a new workerd would: the previous file's waitUntil work
// finished, every binding's stored data deleted and checked gone (`wipeStorage()`: D1, R2, Durable
// Objects with their alarms, even those evicted since their last use), the D1 schema applied
// again, and the Worker's test hooks (`setWorld`) back to the real clock and fetch.
import { applyD1Migrations, env } from 'cloudflare:test';
import { resetListCache } from '../../src/dvr/list-cache';
import { setWorld, world } from '../../src/world';
import { wipeStorage } from './fresh-storage';

const pristine = ((globalThis as { __edgeplanePristineWorld?: typeof world }).__edgeplanePristineWorld ??= { ...world });
setWorld(pristine);
// The pool's own module (what the runner uses to collect waitUntil promises): a request of the
// previous file may still be writing after its response, which must not land in this file's
// fresh database. Absent (a future pool), the wipe below still applies.
const internal = (await import('cloudflare:test-internal' as string).catch(() => undefined)) as { waitForGlobalWaitUntil?: () => Promise<void> } | undefined;
await internal?.waitForGlobalWaitUntil?.().catch(() => undefined);
await wipeStorage();
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
// A new workerd would hold no built lists either; this file's change counters start again at 0, so
// a list kept by the previous file could otherwise carry the same versions as a different list here.
resetListCache();
