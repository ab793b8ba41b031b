// Platform: GET /health (a D1 round trip) against the runtime floor (GET /version, a constant),
// and the cost of one password hash for each candidate algorithm at OWASP parameters, measured in
// workerd through Miniflare against a no-op request in the same run.
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, report, startBenchStack } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));

async function hashCosts() {
  const out = await build({ entryPoints: [join(here, 'hash-worker.ts')], bundle: true, format: 'esm', write: false, platform: 'neutral', external: ['node:*'], logLevel: 'silent' });
  // Miniflare 4 (the stable line) bundles a workerd from 2026-08; 2026-08-04 is the first date with
  // Node compatibility on by default, as in wrangler.toml.
  const mf = new Miniflare({
    modules: [{ type: 'ESModule', path: join(here, 'hash-worker.mjs'), contents: out.outputFiles[0].text }],
    compatibilityDate: '2026-08-04',
    compatibilityFlags: ['nodejs_compat'], // this older workerd needs the flag; production does not
  });
  try {
    const url = await mf.ready;
    const one = (algo) => () => fetch(new URL(`/${algo}`, url));
    const rows = [await measure('no-op request (baseline)', one('noop'), { requests: 200, concurrency: 1, warmup: 20 })];
    for (const algo of ['node-scrypt', 'noble-scrypt', 'noble-argon2id']) {
      rows.push(await measure(`${algo} (one hash)`, one(algo), { requests: 12, concurrency: 1, warmup: 2 }));
    }
    report('password hash cost (workerd, sequential; p50 = ms per hash)', rows, rows[1]);
    console.log('\nnode-scrypt is the baseline of the ratio column here: N=2^14, r=8, p=5 (OWASP). argon2id: m=19 MiB, t=2, p=1.');
  } finally {
    await mf.dispose();
  }
}

export default async function run() {
  await hashCosts();
  const stack = await startBenchStack({ seed: false });
  try {
    const floor = await measure('GET /version (runtime floor)', () => fetch(`${stack.url}/version`), { requests: 2000, concurrency: 16 });
    const health = await measure('GET /health (checks D1)', () => fetch(`${stack.url}/health`), { requests: 2000, concurrency: 16 });
    report('platform: /health against the runtime floor (wrangler dev, local)', [floor, health], floor);
  } finally {
    await stack.stop();
  }
}
