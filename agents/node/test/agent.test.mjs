// The agent against a fake control plane at the network boundary (a local HTTP server speaking the
// node-agent API with realistic answers and a real ES256 JWKS): backoff while unreachable, token
// rollover, verified sessions, launch hooks and process-tree stops, refused tokens.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeAgent } from '../lib/agent.mjs';
import { Backoff, jittered } from '../lib/backoff.mjs';
import { loadConfig, readToken, saveConfig, writeToken } from '../lib/config.mjs';
import { log } from '../lib/log.mjs';
import { SessionRunner, tokenVerifier, unverifiableNow } from '../lib/sessions.mjs';
import { librariesOf, makeLibrary } from './fixtures.mjs';

log.setQuiet(true);
const ISSUER = 'edgeplane';
const AUD = 'couchsuite-stream';
const TYP = 'play-session+jwt';
const NODE_ID = 7;
const ORG_ID = 3;
const TOKEN = 'epn_' + 'A'.repeat(43);
const CATALOG = { 'steam:730': 11, 'steam:570': 12, 'epic:Fortress': 21, 'gog:1207664663': 31, 'arcade:arcade-group-2024': 41 };

let key;
let rogue;
beforeAll(async () => {
  key = await generateKeyPair('ES256');
  rogue = await generateKeyPair('ES256');
});

function token(a, over = {}, signer = key.privateKey, kid = 'k1') {
  return new SignJWT({ node_id: NODE_ID, org_id: ORG_ID, user_id: a.user_id, game_id: a.game_id, ...over })
    .setProtectedHeader({ alg: 'ES256', typ: TYP, kid })
    .setIssuer(ISSUER)
    .setAudience(AUD)
    .setSubject(String(a.id))
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(signer);
}

/** A fake control plane: records what the agent sends, answers like the real one. */
async function controlPlane() {
  const cp = { beats: [], reports: [], assignments: [], rolloverToken: null, tokens: new Set([TOKEN]), down: false };
  const jwks = { keys: [{ ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const data = body ? JSON.parse(body) : null;
    const send = (status, obj) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (req.url === '/.well-known/jwks.json') return send(200, jwks);
    const auth = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!cp.tokens.has(auth)) return send(401, { error: 'invalid node token', code: 'invalid_node_token' });
    if (req.url === '/nodes/catalog/resolve') {
      return send(200, { games: data.ids.filter((r) => CATALOG[`${r.platform}:${r.external_id}`]).map((r) => ({ ...r, game_id: CATALOG[`${r.platform}:${r.external_id}`] })) });
    }
    const m = /^\/nodes\/sessions\/(\d+)\/status$/.exec(req.url);
    if (m) {
      cp.reports.push({ id: Number(m[1]), ...data });
      return send(200, { id: Number(m[1]), status: data.status });
    }
    if (req.url === '/nodes/heartbeat') {
      cp.beats.push({ auth, ...data });
      const reply = {
        node_id: NODE_ID,
        org_id: ORG_ID,
        status: 'active',
        server_time: new Date().toISOString(),
        heartbeat_interval_seconds: 1,
        installs: data.installs.length,
        unknown_game_ids: [],
        sessions: cp.assignments,
        results: [],
      };
      if (cp.rolloverToken) {
        reply.node_token = cp.rolloverToken;
        cp.tokens.add(cp.rolloverToken);
        cp.rolloverToken = null;
      }
      return send(200, reply);
    }
    send(404, { error: 'not found', code: 'not_found' });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cp.url = `http://127.0.0.1:${server.address().port}`;
  cp.close = () => new Promise((r) => server.close(r));
  server.closeAllConnections?.();
  return cp;
}

const cleanup = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()();
});

function until(fn, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = async () => {
      try {
        const v = await fn();
        if (v) return resolve(v);
      } catch {}
      if (Date.now() - start > ms) return reject(new Error('condition not met in time'));
      setTimeout(tick, 50);
    };
    tick();
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An enrolled agent's config dir, pointing at the fake control plane and the fixture library. */
function setup(cp, extra = {}) {
  const lib = makeLibrary();
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-node-cfg-'));
  cleanup.push(async () => {
    rmSync(lib.root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  // The hook: records its environment, starts a grandchild (a process tree), stays in the foreground.
  const hook = join(dir, 'hook.mjs');
  writeFileSync(
    hook,
    `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const id = process.env.EDGEPLANE_SESSION_ID;
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('EDGEPLANE_')));
writeFileSync(${JSON.stringify(dir)} + '/session-' + id + '.json', JSON.stringify({ env, pid: process.pid, child: child.pid }));
// Game 12 ends by itself (exit 3), taking its grandchild along: nothing outlives the test.
if (process.env.EDGEPLANE_GAME_ID === '12') setTimeout(() => { child.kill(); process.exit(3); }, 300);
else setInterval(() => {}, 1000);
`,
  );
  saveConfig(dir, {
    api: cp.url,
    node_id: NODE_ID,
    org_id: ORG_ID,
    jwks_url: `${cp.url}/.well-known/jwks.json`,
    session_token: { issuer: ISSUER, audience: AUD, typ: TYP },
    launch_hook: `"${process.execPath}" "${hook}"`,
    stop_grace_seconds: 2,
    libraries: librariesOf(lib),
    ...extra,
  });
  const cfg = loadConfig(dir);
  writeToken(cfg.token_file, TOKEN);
  return { lib, dir, cfg };
}

describe('backoff', () => {
  it('grows exponentially with full jitter up to the cap, and resets after a success', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 8000, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 8000, 8000]);
    b.reset();
    expect(b.next()).toBe(1000);
    const low = new Backoff({ baseMs: 1000, random: () => 0 });
    expect(low.next()).toBe(0);
  });

  it('spreads heartbeats ±10 % around the interval', () => {
    expect(jittered(10_000, 0.1, () => 0)).toBe(9000);
    expect(jittered(10_000, 0.1, () => 1)).toBe(11_000);
    expect(jittered(10_000, 0.1, () => 0.5)).toBe(10_000);
  });

  it('the agent backs off while the control plane is unreachable and returns to the interval when it is back', async () => {
    const cp = await controlPlane();
    const { cfg } = setup(cp);
    await cp.close();
    const agent = new NodeAgent(cfg, { token: TOKEN, random: () => 1 });
    cleanup.push(() => agent.stop());
    const waits = [await agent.cycle(), await agent.cycle(), await agent.cycle()];
    expect(waits).toEqual([1000, 2000, 4000]);
    // Back up on another port: the agent's next cycle succeeds and the wait is the jittered interval.
    const cp2 = await controlPlane();
    cleanup.push(() => cp2.close());
    agent.api.base = cp2.url;
    expect(await agent.cycle({ rescan: true })).toBe(1100);
    expect(agent.backoff.failures).toBe(0);
    expect(cp2.beats).toHaveLength(1);
  });
});

describe('reporting installs', () => {
  it('heartbeats the mapped installs with proofs, as its own node and org', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg, lib } = setup(cp);
    const agent = new NodeAgent(cfg, { token: TOKEN });
    cleanup.push(() => agent.stop());
    await agent.start();
    const beat = await until(() => cp.beats[0]);
    expect(beat).toMatchObject({ node_id: NODE_ID, org_id: ORG_ID, status: `ready edgeplane-node/${readFileSync(new URL('../../../VERSION', import.meta.url), 'utf8').trim()}`, sessions: [] });
    expect(beat.installs.map((i) => i.game_id).sort()).toEqual([11, 12, 21, 31, 41]);
    expect(beat.installs.find((i) => i.game_id === 11)).toMatchObject({ install_path: lib.cs2.installPath, launcher: 'steam', executable: lib.cs2.exe });
    expect(existsSync(join(cfg.state_dir, 'proof-cache.json'))).toBe(true);
  });

  it('reports at once when a game is uninstalled (the library folder is watched)', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg, lib } = setup(cp, { rescan_seconds: 3600 });
    const agent = new NodeAgent(cfg, { token: TOKEN });
    cleanup.push(() => agent.stop());
    await agent.start();
    await until(() => cp.beats.length >= 1);
    // Heartbeats are 1 s apart here; the watch must beat the interval-only path by rescanning.
    rmSync(lib.dota.manifest);
    rmSync(lib.dota.installPath, { recursive: true });
    const beat = await until(() => cp.beats.find((b) => !b.installs.some((i) => i.game_id === 12)), 8000);
    expect(beat.installs.map((i) => i.game_id).sort()).toEqual([11, 21, 31, 41]);
  });
});

describe('token rollover', () => {
  it('stores the token the control plane hands over (owner-only file) and uses it from then on', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg } = setup(cp);
    const next = 'epn_' + 'B'.repeat(43);
    cp.rolloverToken = next;
    const agent = new NodeAgent(cfg, { token: TOKEN });
    cleanup.push(() => agent.stop());
    await agent.cycle({ rescan: true });
    expect(readToken(cfg.token_file)).toBe(next);
    if (process.platform !== 'win32') expect(statSync(cfg.token_file).mode & 0o777).toBe(0o600);
    cp.tokens.delete(TOKEN);
    await agent.cycle();
    expect(cp.beats.at(-1).auth).toBe(next);
  });

  it('after a 401 it picks up a token file rewritten by a re-enrolment, without a restart', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg } = setup(cp);
    const agent = new NodeAgent(cfg, { token: TOKEN });
    cleanup.push(() => agent.stop());
    const other = 'epn_' + 'C'.repeat(43);
    cp.tokens = new Set([other]);
    writeToken(cfg.token_file, other);
    expect(await agent.cycle({ rescan: true })).toBe(0); // retry at once with the new file
    await agent.cycle({ rescan: true });
    expect(cp.beats.at(-1).auth).toBe(other);
  });
});

describe('sessions', () => {
  it('verifies the token, runs the launch hook with the session environment, reports active and keeps the lease', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg, dir, lib } = setup(cp);
    const a = { id: 9001, org_id: ORG_ID, user_id: 5, game_id: 11, status: 'provisioning', stream_token_expires_at: new Date(Date.now() + 300_000).toISOString() };
    cp.assignments = [{ ...a, stream_token: await token(a) }];
    const agent = new NodeAgent(cfg, { token: TOKEN });
    cleanup.push(() => agent.stop());
    await agent.start();
    const ran = await until(() => existsSync(join(dir, 'session-9001.json')) && JSON.parse(readFileSync(join(dir, 'session-9001.json'), 'utf8')));
    expect(ran.env).toEqual({
      EDGEPLANE_SESSION_ID: '9001',
      EDGEPLANE_USER_ID: '5',
      EDGEPLANE_GAME_ID: '11',
      EDGEPLANE_ORG_ID: String(ORG_ID),
      EDGEPLANE_INSTALL_PATH: lib.cs2.installPath,
      EDGEPLANE_EXECUTABLE: lib.cs2.exe,
    });
    await until(() => cp.reports.find((r) => r.id === 9001 && r.status === 'active'));
    await until(() => cp.beats.some((b) => b.sessions.some((s) => s.id === 9001 && s.status === 'active')));

    // Ended elsewhere (DELETE /sessions/{id}): the assignment vanishes and the whole tree stops.
    cp.assignments = [];
    await until(() => !alive(ran.pid) && !alive(ran.child), 10_000);
    expect(cp.reports.filter((r) => r.id === 9001).map((r) => r.status)).toEqual(['active']);
  });

  it('reports ended with the exit status when the hook stops by itself, and does not relaunch it', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg, dir } = setup(cp);
    const a = { id: 9002, org_id: ORG_ID, user_id: 5, game_id: 12, status: 'provisioning', stream_token_expires_at: new Date(Date.now() + 300_000).toISOString() };
    cp.assignments = [{ ...a, stream_token: await token(a) }];
    const agent = new NodeAgent(cfg, { token: TOKEN });
    cleanup.push(() => agent.stop());
    await agent.start();
    const ended = await until(() => cp.reports.find((r) => r.id === 9002 && r.status === 'ended'));
    expect(ended.reason).toBe('exit 3');
    const ran = JSON.parse(readFileSync(join(dir, 'session-9002.json'), 'utf8'));
    // Still assigned for a beat or two (the server has not processed the report): no second launch.
    await new Promise((r) => setTimeout(r, 2500));
    expect(JSON.parse(readFileSync(join(dir, 'session-9002.json'), 'utf8')).pid).toBe(ran.pid);
  });

  it('refuses and reports a session whose token does not verify, and never launches it', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg, dir } = setup(cp);
    const base = { org_id: ORG_ID, user_id: 5, game_id: 11, status: 'provisioning', stream_token_expires_at: new Date(Date.now() + 300_000).toISOString() };
    const forged = { ...base, id: 9101 };
    const otherNode = { ...base, id: 9102 };
    const swapped = { ...base, id: 9103 };
    const expired = { ...base, id: 9104 };
    cp.assignments = [
      { ...forged, stream_token: await token(forged, {}, rogue.privateKey, 'k1') }, // signed by someone else
      { ...otherNode, stream_token: await token(otherNode, { node_id: NODE_ID + 1 }) }, // meant for another node
      { ...swapped, stream_token: await token({ ...swapped, id: 1 }) }, // another session's token
      { ...expired, stream_token: await new SignJWT({ node_id: NODE_ID, org_id: ORG_ID, user_id: 5, game_id: 11 }).setProtectedHeader({ alg: 'ES256', typ: TYP, kid: 'k1' }).setIssuer(ISSUER).setAudience(AUD).setSubject('9104').setIssuedAt(1_700_000_000).setExpirationTime(1_700_000_300).sign(key.privateKey) },
    ];
    const agent = new NodeAgent(cfg, { token: TOKEN });
    cleanup.push(() => agent.stop());
    await agent.start();
    await until(() => cp.reports.filter((r) => r.status === 'failed').length === 4);
    for (const r of cp.reports) expect(r.reason).toMatch(/^token_rejected/);
    await new Promise((r) => setTimeout(r, 500));
    for (const id of [9101, 9102, 9103, 9104]) expect(existsSync(join(dir, `session-${id}.json`))).toBe(false);
  });

  it('stops running hooks and reports them when the agent itself stops', async () => {
    const cp = await controlPlane();
    cleanup.push(() => cp.close());
    const { cfg, dir } = setup(cp);
    const a = { id: 9003, org_id: ORG_ID, user_id: 5, game_id: 11, status: 'provisioning', stream_token_expires_at: new Date(Date.now() + 300_000).toISOString() };
    cp.assignments = [{ ...a, stream_token: await token(a) }];
    const agent = new NodeAgent(cfg, { token: TOKEN });
    await agent.start();
    const ran = await until(() => existsSync(join(dir, 'session-9003.json')) && JSON.parse(readFileSync(join(dir, 'session-9003.json'), 'utf8')));
    await agent.stop();
    await until(() => !alive(ran.pid) && !alive(ran.child), 3000);
    expect(cp.reports.find((r) => r.id === 9003 && r.status === 'failed')?.reason).toBe('agent_stopped');
  });
});

describe('an unreachable JWKS', () => {
  it('neither launches nor refuses the session: it is checked again at the next heartbeat', async () => {
    const a = { id: 9201, org_id: ORG_ID, user_id: 5, game_id: 11, status: 'provisioning' };
    const verify = tokenVerifier({ jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json', issuer: ISSUER, audience: AUD, typ: TYP, nodeId: NODE_ID, orgId: ORG_ID });
    const err = await verify({ ...a, stream_token: await token(a) }).then(() => null, (e) => e);
    expect(unverifiableNow(err)).toBe(true);
    const reports = [];
    let reachable = false;
    const launched = [];
    const runner = new SessionRunner({
      hook: `"${process.execPath}" -e "setTimeout(() => {}, 200)"`,
      verifier: async () => {
        if (!reachable) throw err;
      },
      installFor: () => ({ install_path: '/games/x', executable: null }),
      report: async (id, status, reason) => {
        reports.push({ id, status, reason });
        if (status === 'active') launched.push(id);
      },
    });
    await runner.sync([{ ...a, stream_token: 'x' }]);
    expect(reports).toEqual([]);
    reachable = true;
    await runner.sync([{ ...a, stream_token: 'x' }]);
    expect(launched).toEqual([9201]);
    await until(() => reports.some((r) => r.status === 'ended'));
  });

  it('a token signed by an unknown key is refused, not retried forever', async () => {
    const err = await tokenVerifier({ jwksUrl: 'http://unused.invalid/', issuer: ISSUER, audience: AUD, typ: TYP, nodeId: NODE_ID, orgId: ORG_ID, jwks: async () => { throw Object.assign(new Error('no applicable key found in the JSON Web Key Set'), { code: 'ERR_JWKS_NO_MATCHING_KEY' }); } })({ id: 1, org_id: ORG_ID, user_id: 5, game_id: 11, stream_token: await token({ id: 1, user_id: 5, game_id: 11 }) }).then(() => null, (e) => e);
    expect(err.code).toBe('ERR_JWKS_NO_MATCHING_KEY');
    expect(unverifiableNow(err)).toBe(false);
  });
});
