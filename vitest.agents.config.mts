// The shipped agents' own tests (agents/node, agents/media): plain Node, no Workers runtime. They
// write real-format fixture files into temp folders and talk to local fake control planes. Run by
// `npm test` (tools/test.mjs) after the Workers tests; `npx vitest run --config vitest.agents.config.mts` alone.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['agents/**/test/**/*.test.mjs'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
