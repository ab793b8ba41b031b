// Browser tests: Debian's Chromium driven by playwright-core against `wrangler dev` with seeded
// data (one stack for the whole run, started by the global setup). Run by `npm test` after the
// Workers tests; `npm run test:e2e` alone.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.spec.mjs'],
    environment: 'node',
    globalSetup: ['./test/e2e/support/global-setup.mjs'],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
