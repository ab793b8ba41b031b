import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { testSecrets } from './test/support/secrets.mjs';

// wrangler.toml declares these secrets as required; giving the test values through the environment
// as well keeps the plugin from warning about them on every test file.
Object.assign(process.env, testSecrets);

const migrations = await readD1Migrations(fileURLToPath(new URL('./migrations', import.meta.url)));

// The DVR tests' fake overseer (test/support/fake-overseer.mjs, started by the global setup) listens
// on a free port picked here, so the Worker can be given its URL as a binding.
const fakeOverseerPort = Number(process.env.FAKE_OVERSEER_PORT) || (await freePort());
process.env.FAKE_OVERSEER_PORT = String(fakeOverseerPort);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

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
          // Analytics Engine drops writes locally: tests read metrics from the D1 store.
          METRICS_STORE: 'd1',
          TEST_MIGRATIONS: migrations,
          OVERSEER_URL: `ws://127.0.0.1:${fakeOverseerPort}/ws`,
          // The fake overseer is plain ws:// on loopback; production requires wss://.
          ALLOW_INSECURE_OVERSEER: 'true',
          FAKE_OVERSEER_CONTROL: `http://127.0.0.1:${fakeOverseerPort}/control`,
          // A client-run Steam OpenID dance may return here (test/console/library/steam-link.test.ts).
          STEAM_RETURN_TO_URLS: 'http://127.0.0.1:51234/steam-return',
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
