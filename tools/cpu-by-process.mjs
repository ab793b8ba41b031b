#!/usr/bin/env node
// CPU seconds per kind of process over a command's whole run: which part of a test phase (Chromium's
// renderers, workerd, wrangler's Node proxy, the development overseer's ffmpeg recorders, the agents,
// vitest…) spends the machine's cores. Samples /proc every 2 s (utime + stime of every process
// below the command, re-parented ones included once seen), so a process that ends loses at most its
// last 2 s; prints one table at the end, and `--json <file>` keeps the numbers (rewritten every
// 30 s while the command runs, so a run stopped early still tells where its CPU went so far).
//
//   node tools/cpu-by-process.mjs [--every 2] [--json out.json] -- npx vitest run --config vitest.e2e.config.mts
//   node tools/cpu-by-process.mjs --pid 1234          # an already running tree, until it ends (or Ctrl+C)
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 && i < (argv.includes('--') ? argv.indexOf('--') : argv.length) ? argv[i + 1] : undefined;
};
const every = Number(opt('--every') ?? 2) * 1000;
const jsonOut = opt('--json');
const command = argv.includes('--') ? argv.slice(argv.indexOf('--') + 1) : [];
const rootPid = opt('--pid');
if (!command.length && !rootPid) {
  console.error('usage: node tools/cpu-by-process.mjs [--every s] [--json file] (-- command… | --pid N)');
  process.exit(2);
}
const TICK = 100; // clock ticks a second (USER_HZ) on Linux

/** One kind per process, from its command line (and its parent's kind, for ffmpeg and helpers). */
function kindOf(cmd, parentKind) {
  const exe = cmd[0] ?? '';
  const line = cmd.join(' ');
  if (/chrom(e|ium)/i.test(exe) || /chrome_crashpad/.test(exe)) {
    const type = /--type=([\w-]+)/.exec(line)?.[1];
    if (!type) return 'chromium: browser';
    if (type === 'utility') return `chromium: utility (${/--utility-sub-type=[\w.]*?(\w+)\.mojom/.exec(line)?.[1] ?? '?'})`;
    return `chromium: ${type}`;
  }
  if (/workerd$/.test(exe) || /\/workerd /.test(line)) return 'workerd';
  if (/ffmpeg|ffprobe/.test(exe)) return `${parentKind ?? '?'} → ffmpeg`;
  if (/wrangler/.test(line) && !/workerd/.test(exe)) return parentKind?.startsWith('wrangler') ? 'wrangler (node, child)' : 'wrangler (node)';
  if (/dev-overseer\.mjs/.test(line)) return 'development overseer (node)';
  if (/agents\/media/.test(line) || /dev-media-agent/.test(line)) return 'media agent (node)';
  if (/agents\/node/.test(line) || /dev-node-agent/.test(line)) return 'demo node agent (node)';
  if (/vitest\/dist\/workers|vitest\/dist\/chunks\/.*fork|forks\.js|threads\.js/.test(line)) return 'vitest worker (node)';
  if (/vitest/.test(line)) return 'vitest main (node: global setup, fake Steam)';
  if (/playwright/.test(line)) return 'playwright (node)';
  if (/^(ba)?sh$|\/(ba)?sh$|^npm|\/npm/.test(exe) || /npm-cli|npx-cli/.test(line)) return 'shell / npm';
  if (/node$/.test(exe)) return `node: ${cmd.slice(1).find((a) => !a.startsWith('-'))?.replace(/^.*\/(node_modules\/)?/, '') ?? '?'}`;
  return exe.replace(/^.*\//, '') || '?';
}

const seen = new Map(); // "pid/starttime" -> { pid, kind, ticks, first, last }
const ours = new Set();
let rootKey = null;
function read(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: f[1], key: `${pid}/${f[19]}`, ticks: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
}
/** Ticks counted so far for a process and every process below it (its own, and what its reaps added). */
function counted(s) {
  let t = s.ticks + (s.extra ?? 0);
  for (const c of seen.values()) if (c.parent === s.key && c.pid) t += counted(c);
  return t;
}
function sample() {
  const now = Date.now();
  const procs = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      procs.set(d, read(d));
    } catch {
      // ended while listed
    }
  }
  const mine = (p) => {
    for (let q = p, hops = 0; q && hops < 64; q = procs.get(q.ppid), hops++) if (ours.has(q.key) || q.key === rootKey) return true;
    return false;
  };
  // Parents before children, so a child's kind can name its parent's.
  const order = [...procs.values()].sort((a, b) => Number(a.pid) - Number(b.pid));
  for (const p of order) {
    if (!mine(p)) continue;
    ours.add(p.key);
    let s = seen.get(p.key);
    if (!s) seen.set(p.key, (s = { key: p.key, pid: p.pid, kind: '?', looks: 0, ticks: 0, first: now, last: now }));
    // The command line is read twice: a child caught between fork and exec still shows its parent's.
    if (s.looks < 2 || s.kind === '?') {
      s.looks += 1;
      try {
        const cmd = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
        const parent = procs.get(p.ppid);
        if (cmd.length) s.kind = kindOf(cmd, parent && seen.get(parent.key)?.kind);
      } catch {}
    }
    s.ticks = p.ticks;
    s.last = now;
    s.parent = procs.get(p.ppid)?.key;
    // What this process's ended children spent after their last sample shows in its cutime +
    // cstime (once it waited for them), with all they had reaped in turn: what is not already
    // counted in their subtrees is kept as "<its kind> → children ended unsampled".
    if (s.reaped !== undefined && p.reaped > s.reaped) {
      const ended = [...seen.values()].filter((c) => c.parent === p.key && c.live && !procs.has(c.pid));
      const known = ended.reduce((t, c) => t + counted(c), 0);
      const extra = p.reaped - s.reaped - known;
      if (extra > 0) {
        s.extra = (s.extra ?? 0) + extra;
        seen.set(`${p.key}/unsampled`, { kind: `${s.kind} → children ended unsampled`, ticks: extra + (seen.get(`${p.key}/unsampled`)?.ticks ?? 0), first: now, last: now });
      }
      for (const c of ended) c.live = false;
    }
    s.reaped = p.reaped;
    s.live = true;
  }
}

const started = Date.now();
let child = null;
if (command.length) {
  child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
  rootKey = read(String(child.pid)).key;
} else {
  rootKey = read(String(rootPid)).key;
}
sample();
const timer = setInterval(() => {
  sample();
  if (!child) {
    try {
      if (read(String(rootPid)).key !== rootKey) throw new Error('gone');
    } catch {
      finish(0);
    }
  }
}, every);

/** Seconds per kind so far, the largest first. */
function table() {
  const byKind = new Map();
  for (const s of seen.values()) {
    const k = byKind.get(s.kind) ?? { kind: s.kind, seconds: 0, processes: 0, longest: 0 };
    k.seconds += s.ticks / TICK;
    k.processes += 1;
    k.longest = Math.max(k.longest, (s.last - s.first) / 1000);
    byKind.set(s.kind, k);
  }
  const rows = [...byKind.values()].sort((a, b) => b.seconds - a.seconds);
  return { wall: (Date.now() - started) / 1000, total: rows.reduce((t, r) => t + r.seconds, 0), rows };
}
const save = () => jsonOut && writeFileSync(jsonOut, JSON.stringify(table(), null, 2));
const saver = setInterval(save, 30_000);

function finish(code) {
  clearInterval(timer);
  clearInterval(saver);
  sample();
  const { wall, total, rows } = table();
  const out = process.stderr;
  out.write(`\n[cpu] ${wall.toFixed(0)} s wall, ${total.toFixed(0)} CPU s (${(total / wall).toFixed(2)} cores on average), ${seen.size} processes\n`);
  out.write(`[cpu] ${'CPU s'.padStart(7)} ${'share'.padStart(6)} ${'procs'.padStart(5)} ${'longest'.padStart(8)}  kind\n`);
  for (const r of rows) {
    out.write(`[cpu] ${r.seconds.toFixed(1).padStart(7)} ${((100 * r.seconds) / (total || 1)).toFixed(1).padStart(5)}% ${String(r.processes).padStart(5)} ${`${r.longest.toFixed(0)} s`.padStart(8)}  ${r.kind}\n`);
  }
  save();
  process.exit(code);
}
if (child) child.on('exit', (code, signal) => finish(code ?? (signal ? 1 : 0)));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => (child ? child.kill(sig) : finish(130)));
