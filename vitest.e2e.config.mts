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
 * Seconds each spec took in a full run on the 2-core machine (the fresh-clone CI run of 0.20.0, two
 * lanes): the order of the files comes from them (LongestFirst below), so that the lanes end
 * together. A new spec counts as a minute.
 */
const WEIGHT: Record<string, number> = {
  'launcher/launcher.spec.mjs': 115, 'dashboard/recorder.spec.mjs': 111, 'dashboard/screens.spec.mjs': 90,
  'dashboard/library.spec.mjs': 69, 'a11y/by-hand.spec.mjs': 68, 'launcher/pairing.spec.mjs': 64,
  'dashboard/webhooks.spec.mjs': 63, 'node-agent.spec.mjs': 50, 'dashboard/accounts.spec.mjs': 49,
  'a11y/admin-wide.spec.mjs': 40, 'dashboard/console-layout.spec.mjs': 38, 'launcher/queue.spec.mjs': 37,
  'recordings.spec.mjs': 36, 'a11y/engine.spec.mjs': 35, 'dashboard/console.spec.mjs': 33,
  'dashboard/metrics.spec.mjs': 33, 'dashboard/behaviour.spec.mjs': 32, 'a11y/admin-phone.spec.mjs': 30,
  'a11y/member.spec.mjs': 27, 'launcher/first-run.spec.mjs': 17, 'platform.spec.mjs': 6,
};
const name = (spec: TestSpecification) => spec.moduleId.replace(/^.*\/test\/e2e\//, '');
const weight = (spec: TestSpecification) => WEIGHT[name(spec)] ?? 60;

/** The specs holding the `default-org-member` lock (support/exclusive.mjs) for their whole file. */
const EXCLUSIVE = new Set(['dashboard/library.spec.mjs', 'launcher/launcher.spec.mjs', 'launcher/pairing.spec.mjs', 'launcher/queue.spec.mjs']);

/**
 * Longest first, but the lock holders (together about half a lane) go first, each followed by the
 * longest free specs, one per other lane: the lane that finishes one lock holder takes the next
 * while the other lanes are busy with long files, so no lane sits waiting for the lock (plain
 * longest-first put two lock holders in two lanes at once: ~35 s of waiting by the WEIGHTs).
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    const byWeight = [...files].sort((a, b) => weight(b) - weight(a));
    const locked = byWeight.filter((f) => EXCLUSIVE.has(name(f)));
    const free = byWeight.filter((f) => !EXCLUSIVE.has(name(f)));
    const order: TestSpecification[] = [];
    while (locked.length) order.push(locked.shift()!, ...free.splice(0, workers - 1));
    return [...order, ...free];
  }
}

// Two files at a time by default (`E2E_WORKERS=1` for one, 3 for three). Three were tried on the
// quiet 2-core machine: 682 s against 669 s for two, with two specs timing out: the phase already
// kept 1.6 of the 2 cores busy with two. The launcher's gamepad presses are released inside the
// page after one poll of its loop (launcher/support.mjs `pad()`), so a starved CPU cannot hold a
// press across two polls.
const workers = Math.max(1, Number(process.env.E2E_WORKERS) || 2);

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.spec.mjs'],
    environment: 'node',
    globalSetup: ['./test/e2e/support/global-setup.mjs'],
    // Closes the browser contexts each test opened when it ends (support/per-test.mjs).
    setupFiles: ['./test/e2e/support/per-test.mjs'],
    fileParallelism: workers > 1,
    maxWorkers: workers,
    sequence: { sequencer: LongestFirst },
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
