// Browser tests: Debian's Chromium driven by playwright-core against `wrangler dev` with seeded
// data (one stack for the whole run, started by the global setup). Run by `npm test` after the
// Workers tests; `npm run test:e2e` alone.
//
// Two spec files at a time on that one stack: much of a spec's time is waiting (the dashboard's 5 s
// polls, the development overseer's cycles, agents and ffmpeg), which the other file fills. The
// specs keep to their own users, orgs and sources; the few that arrange the seeded member in the
// default org take a lock (test/e2e/support/exclusive.mjs). `E2E_WORKERS=1` runs one at a time.
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Seconds each spec took in a full run on the 2-core machine: the order of the files comes from
 * them (LongestFirst below), so that the two lanes end together. A new spec counts as a minute.
 * The accessibility spec was one file of ~290 s, the long pole of its lane: now five (a11y/),
 * weighed from that file's per-test times (a loaded run, scaled to the quiet run's total).
 */
const WEIGHT: Record<string, number> = {
  'a11y/by-hand.spec.mjs': 130, 'dashboard/recorder.spec.mjs': 105, 'dashboard/library.spec.mjs': 87,
  'launcher/launcher.spec.mjs': 81, 'dashboard/screens.spec.mjs': 77, 'launcher/pairing.spec.mjs': 63,
  'dashboard/behaviour.spec.mjs': 62, 'recordings.spec.mjs': 53, 'a11y/member.spec.mjs': 52, 'node-agent.spec.mjs': 48,
  'a11y/engine.spec.mjs': 42, 'a11y/admin-phone.spec.mjs': 36, 'launcher/first-run.spec.mjs': 34, 'a11y/admin-wide.spec.mjs': 32,
  'dashboard/console.spec.mjs': 31, 'dashboard/accounts.spec.mjs': 28, 'launcher/queue.spec.mjs': 24,
  'dashboard/metrics.spec.mjs': 20, 'dashboard/webhooks.spec.mjs': 14, 'platform.spec.mjs': 3,
};
const name = (spec: TestSpecification) => spec.moduleId.replace(/^.*\/test\/e2e\//, '');
const weight = (spec: TestSpecification) => WEIGHT[name(spec)] ?? 60;

/** The specs holding the `default-org-member` lock (support/exclusive.mjs) for their whole file. */
const EXCLUSIVE = new Set(['dashboard/library.spec.mjs', 'launcher/launcher.spec.mjs', 'launcher/pairing.spec.mjs', 'launcher/queue.spec.mjs']);

/**
 * Longest first, but the lock holders (together about half a lane) go first and every other file,
 * each followed by the longest free spec: the lane that finishes one lock holder takes the next,
 * while the other lane is busy with a long file, so no lane sits waiting for the lock (plain
 * longest-first put two lock holders in the two lanes at once: ~35 s of waiting by the WEIGHTs;
 * in a simulation with every weight off by up to 40 %, 7 % over an even split against 1 %).
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    const byWeight = [...files].sort((a, b) => weight(b) - weight(a));
    const locked = byWeight.filter((f) => EXCLUSIVE.has(name(f)));
    const free = byWeight.filter((f) => !EXCLUSIVE.has(name(f)));
    const order: TestSpecification[] = [];
    while (locked.length) order.push(...[locked.shift()!, free.shift()].filter((f) => f !== undefined));
    return [...order, ...free];
  }
}

// Two files at a time by default (`E2E_WORKERS=1` for one): the launcher's gamepad presses are
// released inside the page after one poll of its loop (launcher/support.mjs `pad()`), so a starved
// CPU can no longer hold a press across two polls and auto-repeat it (its 380 ms repeat delay).
const workers = Math.max(1, Number(process.env.E2E_WORKERS) || 2);

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.spec.mjs'],
    environment: 'node',
    globalSetup: ['./test/e2e/support/global-setup.mjs'],
    fileParallelism: workers > 1,
    maxWorkers: workers,
    sequence: { sequencer: LongestFirst },
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
