// Runs before every Workers test file. The projects run with `isolate: false` (vitest.config.mts):
// one workerd per pool worker serves many files in turn instead of one workerd per file, so this
// setup gives each file the fresh world a new workerd would: every binding's data deleted
// (`reset()`: D1, R2, Durable Objects and their alarms, queues), the D1 schema applied again, and
// the Worker's test hooks (`setWorld`) back to the real clock and fetch.
import { applyD1Migrations, env, reset } from 'cloudflare:test';
import { setWorld, world } from '../../src/world';

const pristine = ((globalThis as { __edgeplanePristineWorld?: typeof world }).__edgeplanePristineWorld ??= { ...world });
setWorld(pristine);
await reset();
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
