// CPU profile of the dashboard's polls inside `wrangler dev` (issue 17 target 3), for finding costs
// on a shared machine: percentages of the Worker's CPU samples stay meaningful under load where
// latencies and bench ratios do not. Not part of `npm run bench` (no `.bench.mjs` suffix).
//
//   node bench/profile-dvr.mjs                    # floor, 304 poll, changed 1,000-row list
//   node bench/profile-dvr.mjs --requests 2000    # more samples per scenario
//
// It starts a bench stack (COUNT_ROUND_TRIPS on, as in the bench), seeds 1,000 subscriptions for the
// admin, connects to the V8 inspector `wrangler dev` opens (`--inspector-port`) with the Chrome
// DevTools Protocol (Profiler.start/stop), drives each scenario at concurrency 8 while sampling,
// and prints per scenario: CPU ms per request, and the functions with the most self and total time,
// as a percentage of the profile's busy samples (idle and GC shown apart).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import { startFakeOverseer } from '../test/support/fake-overseer.mjs';
import { inspector, login, startBenchStack } from './lib.mjs';
import { BROWSER_ACCEPT_ENCODING, DVR_BENCH_ADMIN_PASSWORD, seedSubscriptions } from './dvr.bench.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const REQUESTS = arg('requests', 1500);
const CONCURRENCY = 8;
const TOP = arg('top', 18);

function inspectorPort(stack) {
  const wr = stack.children.find((c) => c.spawnargs.includes('--inspector-port'));
  return Number(wr.spawnargs[wr.spawnargs.indexOf('--inspector-port') + 1]);
}


let dropped = 0;
let statuses = {};

async function load(fn, requests) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests) {
        next++;
        try {
          const res = await fn();
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          await res.arrayBuffer();
        } catch (e) {
          // A dropped keep-alive connection under load: count it and go on.
          if (!(e instanceof TypeError)) throw e;
          dropped++;
        }
      }
    }),
  );
}

/** The bundle's source map (wrangler dev keeps it under .wrangler/tmp while it runs): the bundle
 * is minified (wrangler.toml), so frames are named by their original file, line and name. */
function bundleMap() {
  const tmp = join(process.cwd(), '.wrangler', 'tmp');
  const maps = readdirSync(tmp)
    .map((d) => join(tmp, d, 'index.js.map'))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    })
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return maps.length ? new TraceMap(readFileSync(maps[0], 'utf8')) : null;
}
let map = null;

const short = (file) => file.replace(/^.*?node_modules\//, '').replace(/^(\.\.\/)+/, '').replace(/^.*?\/src\//, 'src/');

/** A frame as `name file:line`, through the source map for the bundle's frames. */
function where(f) {
  if (map && /index\.js$/.test(f.url)) {
    const o = originalPositionFor(map, { line: f.lineNumber + 1, column: f.columnNumber });
    if (o.source) return `${o.name ?? f.functionName ?? '(anonymous)'} ${short(o.source)}:${o.line}`;
  }
  return `${f.functionName || '(anonymous)'} ${(f.url || '').split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
}

/** The package or source folder a frame belongs to (`drizzle-orm`, `src/http`, `d1-api`…). */
function area(key) {
  const file = key.slice(key.lastIndexOf(' ') + 1);
  if (file.startsWith('src/')) return file.split('/').slice(0, 2).join('/');
  if (file.startsWith('cloudflare-internal')) return file.split(':').slice(0, 2).join(':');
  if (file.startsWith(':')) return '(native)';
  return file.startsWith('@') ? file.split('/').slice(0, 2).join('/') : file.split('/')[0];
}

/** Self and total (inclusive) sample counts per function, as shares of the busy samples. */
function analyse(profile, requests) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const self = new Map();
  const total = new Map();
  let busy = 0;
  let idle = 0;
  let gc = 0;
  const dt = (profile.endTime - profile.startTime) / profile.samples.length / 1000; // ms per sample
  for (const [nodeId, n] of counts) {
    const node = byId.get(nodeId);
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') {
      idle += n;
      continue;
    }
    if (name === '(garbage collector)') gc += n;
    busy += n;
    const key = where(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + n);
    const seen = new Set();
    for (let id = nodeId; id !== undefined; id = parent.get(id)) {
      const k = where(byId.get(id).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + n);
    }
  }
  const pct = (n) => `${((100 * n) / busy).toFixed(1)}%`;
  const top = (m) =>
    [...m]
      .filter(([k]) => !k.startsWith('(root)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([k, n]) => `    ${pct(n).padStart(6)}  ${k}`)
      .join('\n');
  const areas = new Map();
  for (const [k, n] of self) areas.set(area(k), (areas.get(area(k)) ?? 0) + n);
  return { cpuMsPerRequest: (busy * dt) / requests, busy, idle, gc: pct(gc), self: top(self), total: top(total), areas: top(areas) };
}

/** `wrangler dev` may reload just after start: retry a setup request until the Worker answers. */
async function settled(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= 40 || !(e instanceof TypeError)) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

// The bench's scripted overseer (a development overseer would reconcile the seeded sources while
// the profile runs, moving the list's tag).
const fake = await startFakeOverseer({ port: 0 });
const stack = await startBenchStack({ overseerUrl: `ws://127.0.0.1:${fake.port}/ws`, nodeAgent: false, adminPassword: DVR_BENCH_ADMIN_PASSWORD });
try {
  const { token } = await settled(() => login(stack.url, 'admin', DVR_BENCH_ADMIN_PASSWORD));
  // As a browser asks (the bench does the same): kept lists answer with their gzip bytes.
  const auth = { Authorization: `Bearer ${token}`, 'Accept-Encoding': BROWSER_ACCEPT_ENCODING };
  const me = await settled(async () => (await fetch(`${stack.url}/api/me`, { headers: auth })).json());
  const have = await settled(async () => (await (await fetch(`${stack.url}/api/subscriptions`, { headers: auth })).json()).length);
  await seedSubscriptions(stack, me.id, 1000 - have, 'prof');
  const first = await settled(() => fetch(`${stack.url}/api/subscriptions`, { headers: auth }));
  const rows = (await first.json()).length;
  const tag = first.headers.get('ETag');
  const scenarios = [
    ['GET /version (floor)', () => fetch(`${stack.url}/version`)],
    [`GET /api/subscriptions, unchanged tag → 304 (${rows} rows)`, () => fetch(`${stack.url}/api/subscriptions`, { headers: { ...auth, 'If-None-Match': tag } })],
    [`GET /api/subscriptions, outdated tag → 200 (${rows} rows)`, () => fetch(`${stack.url}/api/subscriptions`, { headers: { ...auth, 'If-None-Match': '"subs-all-0.0.0"' } })],
  ];
  map = bundleMap();
  const session = await inspector(inspectorPort(stack));
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 100 });
  console.log(`# CPU profiles in wrangler dev (${new Date().toISOString()}; target "${session.title}"; ${REQUESTS} requests per scenario, concurrency ${CONCURRENCY})`);
  for (const [name, fn] of scenarios) {
    const n = name.includes('outdated') ? Math.ceil(REQUESTS / 5) : REQUESTS;
    await load(fn, 50);
    statuses = {};
    await session.send('Profiler.start');
    const t0 = performance.now();
    await load(fn, n);
    const wall = performance.now() - t0;
    const { profile } = await session.send('Profiler.stop');
    const a = analyse(profile, n);
    console.log(`\n## ${name}: ${n} requests, ${(n / (wall / 1000)).toFixed(0)} req/s, ${a.cpuMsPerRequest.toFixed(3)} CPU ms/request in the isolate, statuses ${JSON.stringify(statuses)}, GC ${a.gc}${dropped ? `, ${dropped} dropped connections so far` : ''}`);
    console.log(`  self time by area:\n${a.areas}`);
    console.log(`  self time (share of busy samples):\n${a.self}`);
    console.log(`  total time (inclusive):\n${a.total}`);
  }
  session.close();
} finally {
  await stack.stop();
  await fake.close();
}
