// The shipped agents' tests: plain Node (they run on customers' machines, not in workerd). Run by
// `npm test` through tools/test.mjs; alone with `npx vitest run --config vitest.agents.config.mts`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/agents/**/*.test.mjs'],
    environment: 'node',
    testTimeout: 30_000,
  },
});
