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
 * Seconds each spec took in a full run on the 2-core machine. The longest go first (so the two
 * lanes end together) and the member-arranging specs, close in this order, tend to share a lane
 * instead of waiting for each other's lock. A new spec counts as a minute.
 */
const WEIGHT: Record<string, number> = {
  'a11y.spec.mjs': 214, 'dashboard/recorder.spec.mjs': 105, 'dashboard/library.spec.mjs': 87,
  'launcher/launcher.spec.mjs': 81, 'dashboard/screens.spec.mjs': 77, 'launcher/pairing.spec.mjs': 63,
  'dashboard/behaviour.spec.mjs': 62, 'recordings.spec.mjs': 53, 'node-agent.spec.mjs': 48,
  'launcher/first-run.spec.mjs': 34, 'dashboard/console.spec.mjs': 31, 'dashboard/accounts.spec.mjs': 28,
  'launcher/queue.spec.mjs': 24, 'dashboard/metrics.spec.mjs': 20, 'dashboard/webhooks.spec.mjs': 14,
  'platform.spec.mjs': 3,
};
const weight = (spec: TestSpecification) => WEIGHT[spec.moduleId.replace(/^.*\/test\/e2e\//, '')] ?? 60;

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    return [...files].sort((a, b) => weight(b) - weight(a));
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
