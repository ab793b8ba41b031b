#!/usr/bin/env node
// A tiny development node agent: heartbeats to the control plane like a real cluster node, so
// the local demo's node is online and its installs count as install_ready. Not deployed.
//
//   node tools/dev-node-agent.mjs --api http://127.0.0.1:8787 --token epn_... [--interval 5]
//        [--installs installs.json] [--install GAME_ID:INSTALL_PATH[:LAUNCHER[:EXECUTABLE]] ...]
//        [--no-auto-activate] [--once]
//
// installs.json is an array (or {"installs": [...]}) of
//   {"game_id": 3, "install_path": "/srv/games/retro", "launcher": "retro", "executable": "retro-launcher",
//    "proof": {"path": "...", "sha256": "<hex>", "size": 123, "mtime": "2026-11-01T10:00:00Z"}}
// and is re-read at every beat, so editing it adds or removes installs live. Entries without a
// proof get one computed from the executable on this machine when it exists (a placeholder
// otherwise, with a warning).
//
// Sessions: the reply lists the sessions assigned to this node. There is no streamer here, so by
// default the agent pretends to start each one at once and reports it `active` at every beat
// (which also keeps its lease); sessions that disappear from the list were ended elsewhere.
// --no-auto-activate leaves them `provisioning` (their lease then runs out: useful to watch reclaim).
// The token may also come from EDGEPLANE_NODE_TOKEN, so it stays out of `ps` output.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function parseArgs(argv) {
  const o = { api: 'http://127.0.0.1:8787', token: process.env.EDGEPLANE_NODE_TOKEN ?? '', interval: 5, installsFile: null, install: [], autoActivate: true, once: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--api') o.api = next();
    else if (a === '--token') o.token = next();
    else if (a === '--interval') o.interval = Number(next());
    else if (a === '--installs') o.installsFile = next();
    else if (a === '--install') o.install.push(next());
    else if (a === '--no-auto-activate') o.autoActivate = false;
    else if (a === '--once') o.once = true;
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!o.token) throw new Error('--token (or EDGEPLANE_NODE_TOKEN) is required');
  if (!Number.isFinite(o.interval) || o.interval < 1) throw new Error('--interval must be >= 1 (seconds)');
  return o;
}

const warned = new Set();
function warnOnce(key, msg) {
  if (warned.has(key)) return;
  warned.add(key);
  console.warn(`[node-agent] ${msg}`);
}

/** A proof from the real file when it is on this machine. */
function proofFor(install) {
  const exe = install.executable ?? '';
  const path = exe.startsWith('/') || /^[A-Za-z]:[\\/]/.test(exe) ? exe : join(install.install_path, exe);
  if (exe && existsSync(path) && statSync(path).isFile()) {
    const st = statSync(path);
    return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex'), size: st.size, mtime: st.mtime.toISOString() };
  }
  warnOnce(`proof:${install.game_id}`, `game ${install.game_id}: ${path || install.install_path} is not on this machine; sending a placeholder proof`);
  return { path: path || install.install_path, sha256: createHash('sha256').update(`placeholder:${path}`).digest('hex'), size: 0, mtime: new Date(0).toISOString() };
}

function loadInstalls(o) {
  const out = [];
  if (o.installsFile) {
    try {
      const raw = JSON.parse(readFileSync(o.installsFile, 'utf8'));
      out.push(...(Array.isArray(raw) ? raw : (raw.installs ?? [])));
    } catch (e) {
      warnOnce(`file:${e.message}`, `cannot read ${o.installsFile}: ${e.message}`);
    }
  }
  for (const spec of o.install) {
    const [id, install_path, launcher, executable] = spec.split(':');
    if (!/^[0-9]+$/.test(id ?? '') || !install_path) throw new Error(`--install ${spec}: expected GAME_ID:INSTALL_PATH[:LAUNCHER[:EXECUTABLE]]`);
    out.push({ game_id: Number(id), install_path, launcher: launcher || null, executable: executable || null });
  }
  return out.map((i) => ({ ...i, proof: i.proof ?? proofFor(i) }));
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const api = o.api.replace(/\/+$/, '');
  /** Sessions this agent has "started": reported active at every beat. */
  const running = new Set();
  let stopping = false;
  let lastSummary = '';
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopping = true; process.exit(0); });

  while (!stopping) {
    const started = Date.now();
    try {
      const sessions = [...running].map((id) => ({ id, status: 'active' }));
      const res = await fetch(`${api}/nodes/heartbeat`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${o.token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ status: 'ready', installs: loadInstalls(o), sessions }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        console.error(`[node-agent] heartbeat refused: ${res.status} ${body.error ?? ''}${res.status === 401 ? ' (token revoked or rotated?)' : ''}`);
      } else {
        const assigned = new Set(body.sessions.map((s) => s.id));
        for (const id of running) if (!assigned.has(id)) {
          running.delete(id);
          console.log(`[node-agent] session ${id} ended by the control plane`);
        }
        for (const s of body.sessions) {
          if (running.has(s.id) || !o.autoActivate) continue;
          running.add(s.id);
          console.log(`[node-agent] starting session ${s.id} (user ${s.user_id}, game ${s.game_id})`);
        }
        const summary = `node ${body.node_id}: ${body.installs} installs, ${body.sessions.length} sessions`;
        if (summary !== lastSummary) console.log(`[node-agent] ${summary}`);
        lastSummary = summary;
        if (body.unknown_game_ids?.length) warnOnce(`unknown:${body.unknown_game_ids}`, `unknown game ids ignored: ${body.unknown_game_ids.join(', ')}`);
      }
    } catch (e) {
      console.error(`[node-agent] heartbeat failed: ${e.message}`);
    }
    if (o.once) break;
    await new Promise((r) => setTimeout(r, Math.max(0, o.interval * 1000 - (Date.now() - started))));
  }
}

main().catch((e) => {
  console.error(`[node-agent] ${e.message}`);
  process.exit(2);
});
