// Platform: GET /health (a D1 round trip) and the console's authenticated hot reads (a user's
// library, the org's Top 10; issue 17: at most 1 storage round trip each) against the runtime floor
// (GET /version, a constant),
// and the cost of one password hash for each candidate algorithm at OWASP parameters, measured in
// workerd through Miniflare against a no-op request in the same run.
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_ADMIN_PASSWORD, login, measure, report, startBenchStack } from './lib.mjs';

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
    // An admin (the first account) who owns one org: the reads below are a member's.
    const post = (path, body, token) =>
      fetch(stack.url + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const created = await post('/users', { username: 'bench-root', password: BENCH_ADMIN_PASSWORD });
    if (!created.ok) throw new Error(`bootstrap admin failed: ${created.status} ${await created.text()}`);
    const admin = await login(stack.url, 'bench-root', BENCH_ADMIN_PASSWORD);
    const org = await (await post('/orgs', { slug: 'bench-org', name: 'Bench org', owner_user_id: admin.user_id }, admin.token)).json();
    if (!org.id) throw new Error(`creating the org failed: ${JSON.stringify(org)}`);
    const get = (path) => () => fetch(stack.url + path, { headers: { Authorization: `Bearer ${admin.token}` } });
    const reads = { requests: 1000, concurrency: 16 };
    const library = await measure('GET /users/{id}/library?org_id= (member)', get(`/users/${admin.user_id}/library?org_id=${org.id}`), reads);
    const top10 = await measure('GET /charts/top10?org_id= (member)', get(`/charts/top10?org_id=${org.id}`), reads);
    report('platform: /health and authenticated hot reads against the runtime floor (wrangler dev, local)', [floor, health, library, top10], floor);
  } finally {
    await stack.stop();
  }
}
