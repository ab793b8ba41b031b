import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { testSecrets } from './test/support/secrets.mjs';

const migrations = await readD1Migrations(fileURLToPath(new URL('./migrations', import.meta.url)));

export default defineConfig({
  plugins: [
    {
      // Workers bundle VERSION as a Text module (wrangler.toml [[rules]]); Vite needs to be told.
      name: 'version-as-text',
      enforce: 'pre',
      load(id) {
        if (id.endsWith('/VERSION')) return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
      },
    },
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          ...testSecrets,
          // Cheaper scrypt in tests (2^10): the production cost (2^14) is measured by `npm run bench`;
          // the rehash-on-login path is tested by raising it back.
          PASSWORD_SCRYPT_LOG_N: '10',
          TEST_MIGRATIONS: migrations,
        },
      },
    }),
  ],
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**'],
    setupFiles: ['./test/support/apply-migrations.ts'],
    globalSetup: ['./test/support/global-setup.mjs'],
    testTimeout: 30_000,
    // Request log lines are for production; keep test output to failures and warnings.
    onConsoleLog: (log) => !log.startsWith('{"level":"info"'),
    hookTimeout: 30_000,
  },
});
