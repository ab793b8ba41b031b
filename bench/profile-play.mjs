// CPU profile of the play-session allocation path under load (issue 17 target 2), rerunnable:
//
//   node bench/profile-play.mjs [--requests 600] [--concurrency 32] [--out bench/results/profile]
//
// Starts the play bench's stack (bench/play.bench.mjs `preparePlayStack`: `wrangler dev`, fresh
// state, seeded orgs/nodes/users), connects to the Worker's V8 inspector (Chrome DevTools
// Protocol over `ws`), and for each run — GET /version (the floor), POST /sessions on one contended
// org, on 100 orgs, and on a full org (the 429 path) — profiles the isolate while the load runs.
// The Worker and its Durable Objects share the isolate under `wrangler dev`, so one profile covers
// the middleware, the handler and the allocator; D1 and the DO's SQLite run outside JS (they show
// as idle/program time here, and as round trips in the bench).
//
// Prints per run: req/s, busy CPU ms per request (JS + GC, the figure that survives a shared
// machine better than req/s), the share of busy time by package/source area, and the top functions
// by self and by total time. Writes each `.cpuprofile` (open in Chrome DevTools → Performance) to
// the out directory. Not part of `npm test`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { inspector, measure } from './lib.mjs';
import { FULL_ORG, ORG_BASE, ORGS, preparePlayStack } from './play.bench.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const REQUESTS = Number(arg('requests', 600));
const CONCURRENCY = Number(arg('concurrency', 32));
const OUT = arg('out', join('bench', 'results', 'profile'));


/**
 * Which module a bundle line belongs to: esbuild (unminified) precedes each module with a
 * `// path/to/module.ts` comment line. `sources` maps a script id to its text (from the inspector).
 */
const marksByScript = new Map();
let sources = new Map();
function areaOf(frame) {
  if (!frame.url) return frame.functionName || '(native)';
  if (!marksByScript.has(frame.scriptId)) {
    const marks = [];
    (sources.get(String(frame.scriptId)) ?? '').split('\n').forEach((l, i) => {
      const m = /^\/\/ ((?:node_modules\/)?[^\s]+\.(?:m?js|ts|cjs))$/.exec(l);
      if (m) marks.push([i, m[1]]);
    });
    marksByScript.set(frame.scriptId, marks);
  }
  const marks = marksByScript.get(frame.scriptId);
  let lo = 0;
  let hi = marks.length - 1;
  let found = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid][0] <= frame.lineNumber) (found = marks[mid][1]), (lo = mid + 1);
    else hi = mid - 1;
  }
  if (!found) return frame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(found);
  if (pkg) return pkg[1];
  return found.replace(/^(\.\.\/)+/, '');
}

const IDLE = new Set(['(idle)', '(program)']);

/** Self/total time by function and self time by area, as shares of busy (non-idle) time. */
export function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time per node from the sample deltas (more exact than hitCount × interval).
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(dt, 0));
  }
  const key = (n) => {
    const f = n.callFrame;
    if (!f.url) return f.functionName || '(anonymous)';
    return `${f.functionName || '(anonymous)'} [${areaOf(f)}]`;
  };
  let busy = 0;
  let idle = 0;
  const self = new Map();
  const areas = new Map();
  const total = new Map();
  for (const n of profile.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0) continue;
    if (IDLE.has(n.callFrame.functionName)) {
      idle += us;
      continue;
    }
    busy += us;
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + us);
    const a = areaOf(n.callFrame);
    areas.set(a, (areas.get(a) ?? 0) + us);
    // Total: this sample counts once for every distinct function on its stack.
    const seen = new Set();
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const kk = key(byId.get(id));
      if (kk === '(root)' || seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + us);
    }
  }
  const top = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => ({ name: k, pct: (100 * us) / busy, ms: us / 1000 }));
  return { busyMs: busy / 1000, idleMs: idle / 1000, areas: top(areas, 18), self: top(self, 25), total: top(total, 40) };
}

function print(label, m, s) {
  const pct = (x) => `${x.pct.toFixed(1).padStart(5)}%`;
  console.log(`\n## ${label}: ${m.rps.toFixed(0)} req/s, p50 ${m.p50.toFixed(1)} ms, ${m.errors} non-2xx; busy JS ${s.busyMs.toFixed(0)} ms = ${(s.busyMs / m.requests).toFixed(2)} ms/request (idle ${s.idleMs.toFixed(0)} ms)`);
  console.log('\nBy area (self time, share of busy):');
  for (const a of s.areas) console.log(`  ${pct(a)}  ${a.name}`);
  console.log('\nTop functions by self time:');
  for (const f of s.self) console.log(`  ${pct(f)}  ${f.name}`);
  console.log('\nTop functions by total time (inclusive):');
  for (const f of s.total) console.log(`  ${pct(f)}  ${f.name}`);
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const { freePort } = await import('../tools/stack.mjs');
  const inspectorPort = await freePort();
  // Unminified (wrangler.toml minifies), so the profile names the functions; V8 runs the same code.
  const play = await preparePlayStack({ inspectorPort, wranglerArgs: ['--minify=false'] });
  const { stack, allocate } = play;
  let cdp;
  try {
    cdp = await inspector(inspectorPort);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    const opts = { requests: REQUESTS, concurrency: CONCURRENCY, warmup: 0 };
    const runs = [
      ['version', 'GET /version (floor)', () => fetch(`${stack.url}/version`)],
      ['one-org', 'POST /sessions, 1 org', allocate('one', ORG_BASE)],
      ['many-orgs', `POST /sessions, ${ORGS} orgs`, allocate('many', (i) => ORG_BASE + 1 + (i % ORGS))],
      ['full-org', 'POST /sessions, full org (429)', allocate('full', FULL_ORG)],
    ];
    // Warm every path first (first-call compilation and each allocator's start-up are not the steady state).
    await measure('warm-up', () => fetch(`${stack.url}/version`), { requests: 50, concurrency: 4, warmup: 0 });
    await measure('warm-up', allocate('warm', (i) => ORG_BASE + (i % (ORGS + 1))), { requests: ORGS + 1, concurrency: 4, warmup: 0 });
    await measure('warm-up', allocate('warm', FULL_ORG), { requests: 20, concurrency: 4, warmup: 0 });
    const measured = [];
    for (const [file, label, fn] of runs) {
      await cdp.send('Profiler.start');
      const m = await measure(label, fn, opts);
      const { profile } = await cdp.send('Profiler.stop');
      writeFileSync(join(OUT, `${file}.cpuprofile`), JSON.stringify(profile));
      measured.push({ file, label, m, profile });
    }
    // The bundle's text (after the runs: the debugger stays off while measuring), for module names.
    await cdp.send('Debugger.enable');
    const ids = new Set(measured.flatMap(({ profile }) => profile.nodes.filter((n) => n.callFrame.url).map((n) => String(n.callFrame.scriptId))));
    for (const id of ids) {
      try {
        sources.set(id, (await cdp.send('Debugger.getScriptSource', { scriptId: id })).scriptSource);
      } catch {}
    }
    await cdp.send('Debugger.disable');
    writeFileSync(join(OUT, 'sources.json'), JSON.stringify(Object.fromEntries(sources)));
    const results = {};
    for (const { file, label, m, profile } of measured) {
      const s = summarize(profile);
      results[file] = { label, requests: m.requests, rps: m.rps, p50: m.p50, errors: m.errors, msPerRequest: s.busyMs / m.requests, areas: s.areas, self: s.self, total: s.total };
      print(label, m, s);
    }
    writeFileSync(join(OUT, 'summary.json'), JSON.stringify(results, null, 2));
    console.log(`\nStatuses: ${JSON.stringify(play.statuses)}; profiles and summary.json in ${OUT}`);
  } finally {
    cdp?.close();
    await play.stop();
  }
}

/** `--summarize <dir>`: prints a saved run again (e.g. after changing what the summary shows). */
function resummarize(dir) {
  sources = new Map(Object.entries(JSON.parse(readFileSync(join(dir, 'sources.json'), 'utf8'))));
  const saved = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  for (const [file, r] of Object.entries(saved)) {
    const profile = JSON.parse(readFileSync(join(dir, `${file}.cpuprofile`), 'utf8'));
    print(r.label, r, summarize(profile));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const again = arg('summarize', null);
  (again ? Promise.resolve(resummarize(again)) : main()).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
