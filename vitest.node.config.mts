// Tests that run in Node rather than workerd: the operator's tools (set-up, deploy smoke check,
// config drift) and the agents that ship to customers' machines (agents/*/test). Run by `npm test`
// after the Workers tests; alone with `npx vitest run --config vitest.node.config.mts`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/node/**/*.test.mjs', 'agents/**/test/**/*.test.mjs'],
    environment: 'node',
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
