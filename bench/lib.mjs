// Benchmark helpers. Figures are only meaningful as ratios against a baseline measured in the
// same run on the same machine (`ratio` column), never as absolute promises.
//
//   const stack = await startBenchStack();              // fresh local stack, seeded
//   const floor = await measure('GET /version (floor)', () => fetch(stack.url + '/version'), { requests: 2000, concurrency: 16 });
//   const health = await measure('GET /health', () => fetch(stack.url + '/health'), { requests: 2000, concurrency: 16 });
//   report('platform', [floor, health], floor);
//
// The bench stack counts storage round trips (COUNT_ROUND_TRIPS=true, src/http/round-trips.ts):
// `measure` reads each answer's `X-Storage-Round-Trips` and the table shows the range seen, so a
// route's sequential D1/Durable Object trips sit beside its latency. A stack started some other way
// (`startStack`) passes `vars: { ...BENCH_VARS }` to get the same column.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, startStack } from '../tools/stack.mjs';

export const BENCH_ADMIN_PASSWORD = 'bench-operator-passphrase-7312';

/**
 * Vars every bench stack runs with. Metrics go to Analytics Engine, as in production
 * (wrangler.toml): the local stack's default (METRICS_STORE=d1, for `npm start`'s metrics page)
 * adds a D1 insert per request, floor included, that production does not have (12–22 % of every
 * scenario's CPU in the profiles).
 */
export const BENCH_VARS = { COUNT_ROUND_TRIPS: 'true', METRICS_STORE: 'analytics-engine' };

export async function startBenchStack(opts = {}) {
  const persistTo = mkdtempSync(join(tmpdir(), 'edgeplane-bench-'));
  const vars = { ...BENCH_VARS, ...(opts.vars ?? {}) };
  const stack = await startStack({ port: await freePort(), persistTo, quiet: true, adminPassword: BENCH_ADMIN_PASSWORD, nodeAgent: false, ...opts, vars });
  const stop = stack.stop;
  stack.stop = async () => {
    await stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
  return stack;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs `fn` `requests` times with `concurrency` in flight; `fn` returns a Response (its body is
 * drained) or anything else. Non-2xx responses are counted as errors.
 */
export async function measure(name, fn, { requests = 1000, concurrency = 16, warmup = 50 } = {}) {
  for (let i = 0; i < warmup; i++) await drain(await fn(i));
  const latencies = [];
  const trips = { min: Infinity, max: -Infinity };
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const t0 = performance.now();
        try {
          const res = await fn(i);
          if (res instanceof Response && !res.ok) errors++;
          const n = res instanceof Response ? Number(res.headers.get('X-Storage-Round-Trips') ?? NaN) : NaN;
          if (Number.isFinite(n)) {
            trips.min = Math.min(trips.min, n);
            trips.max = Math.max(trips.max, n);
          }
          await drain(res);
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const roundTrips = Number.isFinite(trips.min) ? trips : null;
  return { name, requests, concurrency, errors, rps: requests / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), roundTrips };
}

async function drain(res) {
  if (res instanceof Response) await res.arrayBuffer();
}

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');

/** "1", or "1–2" when answers differed (e.g. refusals take fewer trips); "—" when not counted. */
const fmtTrips = (t) => (!t ? '—' : t.min === t.max ? String(t.min) : `${t.min}–${t.max}`);

/** Prints one table; `ratio` = this row's p50 latency / the baseline's (lower is better); `round
 * trips` = sequential storage trips per answer (X-Storage-Round-Trips). */
export function report(title, rows, baseline) {
  console.log(`\n## ${title}\n`);
  console.log('| measurement | requests | conc. | errors | req/s | p50 ms | p99 ms | p50 ratio vs baseline | round trips |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const ratio = baseline && r !== baseline ? `${fmt(r.p50 / baseline.p50, 2)}×` : 'baseline';
    console.log(`| ${r.name} | ${r.requests} | ${r.concurrency} | ${r.errors} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${ratio} | ${fmtTrips(r.roundTrips)} |`);
  }
  return rows;
}

export async function login(url, username, password) {
  const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!res.ok) throw new Error(`login failed: ${res.status}`);
  return res.json();
}

/** A minimal CDP client on the first inspector target: `send(method, params)` → result. */
export async function inspector(port) {
  let targets = [];
  for (let i = 0; i < 50 && targets.length === 0; i++) {
    try {
      targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    } catch {}
    if (targets.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  const target = targets.find((t) => t.webSocketDebuggerUrl) ?? null;
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((res, rej) => (ws.once('open', res), ws.once('error', rej)));
  let id = 0;
  const waiting = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id !== undefined && waiting.has(msg.id)) {
      const { res, rej } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) rej(new Error(JSON.stringify(msg.error)));
      else res(msg.result);
    }
  });
  const send = (method, params = {}) =>
    new Promise((res, rej) => {
      const n = ++id;
      waiting.set(n, { res, rej });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  return { send, close: () => ws.close(), title: target.title };
}
