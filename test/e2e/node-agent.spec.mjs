// The shipped node agent end to end, on the fresh local stack of the browser tests: an org admin
// gets an enrolment code, `edgeplane-node enroll` exchanges it (no token pasted), the agent discovers
// a Steam library written here in Steam's own file formats and reports it, a player's POST /sessions
// lands on the node, the agent verifies the session token against the JWKS and runs a test launch
// hook (a small node script) with the session's environment, the session goes `active`, and
// DELETE /sessions/{id} stops the hook's process tree. Uses the `acme` org, so the seeded demo node
// of the default org (and the specs that use it) are not involved.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, shot } from './support/browser.mjs';
import { authedPage, eventually, expectNoSeriousErrors, go } from './dashboard/helpers.mjs';

const stack = inject('stack');
const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'agents', 'node', 'cli.mjs');

async function call(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(stack.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, data };
}

async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let work;
let agent;
let agentLog = '';
let admin;
let player;
let acme;
let cs2;
let nodeId;
let browser;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'edgeplane-e2e-agent-'));
  const login = async (c) => (await call('POST', '/auth/login', { body: { username: c.username, password: c.password } })).data;
  admin = await login(stack.credentials.admin);
  player = await login(stack.credentials.player);
  const orgs = await call('GET', '/orgs', { token: admin.token });
  acme = orgs.data.find((o) => o.slug === 'acme').id;
  const games = await call('GET', '/games?limit=100', { token: admin.token });
  cs2 = (Array.isArray(games.data) ? games.data : games.data.items).find((g) => g.slug === 'counter-strike-2').id;
  for (const [userId, role] of [[admin.user_id, 'owner'], [player.user_id, 'member']]) {
    const r = await call('POST', `/orgs/${acme}/members`, { token: admin.token, body: { user_id: userId, role } });
    if (r.status !== 201 && r.status !== 409) throw new Error(`membership: ${r.status} ${JSON.stringify(r.data)}`);
  }
  // The player owns Counter-Strike 2 in acme (a manual receipt the org admin verifies).
  const p = await call('POST', `/users/${player.user_id}/library/proofs`, {
    token: player.token,
    body: { org_id: acme, game_id: cs2, kind: 'manual', receipt: { store: 'Demo Store', order_id: 'E2E-AGENT-730', purchased_at: '2026-10-01' } },
  });
  if (p.status !== 201) throw new Error(`proof: ${p.status} ${JSON.stringify(p.data)}`);
  if (!p.data.owned) {
    const v = await call('POST', `/orgs/${acme}/library/${p.data.id}/verify`, { token: admin.token, body: { kind: 'manual' } });
    if (v.status !== 200) throw new Error(`verify: ${v.status} ${JSON.stringify(v.data)}`);
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  // The stack is shared by every spec: the demo player goes back to one org, so the launcher's
  // sign-in in later specs lands in the hub rather than the org picker.
  if (player && acme) await call('DELETE', `/orgs/${acme}/members/${player.user_id}`, { token: admin.token });
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A Steam installation as Steam writes it: libraryfolders.vdf, an appmanifest, the game's files. */
function steamLibrary(root) {
  const steam = join(root, 'Steam');
  const apps = join(steam, 'steamapps');
  mkdirSync(join(apps, 'common', 'Counter-Strike Global Offensive', 'game', 'bin', 'linuxsteamrt64'), { recursive: true });
  writeFileSync(join(apps, 'libraryfolders.vdf'), `"libraryfolders"\n{\n\t"0"\n\t{\n\t\t"path"\t\t"${steam}"\n\t\t"label"\t\t""\n\t\t"apps"\n\t\t{\n\t\t\t"730"\t\t"4096"\n\t\t}\n\t}\n}\n`);
  writeFileSync(
    join(apps, 'appmanifest_730.acf'),
    `"AppState"\n{\n\t"appid"\t\t"730"\n\t"universe"\t\t"1"\n\t"name"\t\t"Counter-Strike 2"\n\t"StateFlags"\t\t"4"\n\t"installdir"\t\t"Counter-Strike Global Offensive"\n\t"SizeOnDisk"\t\t"4096"\n}\n`,
  );
  const exe = join(apps, 'common', 'Counter-Strike Global Offensive', 'game', 'bin', 'linuxsteamrt64', 'cs2');
  writeFileSync(exe, '#!/bin/sh\n# stand-in\n' + 'x'.repeat(4000));
  chmodSync(exe, 0o755);
  return { steam, exe };
}

describe('the node agent against a fresh local stack', () => {
  it('enrols with a code, reports real installs, runs a verified session’s launch hook and stops it on DELETE', async () => {
    // 1. The admin registers a node and gets a one-time code with the exact command.
    const reg = await call('POST', `/orgs/${acme}/nodes`, { token: admin.token, body: { name: 'e2e-agent-rig', region: 'eu-west', capacity: 2, stream_base_url: 'https://rig.stream.localhost/' } });
    expect(reg.status).toBe(201);
    nodeId = reg.data.node.id;
    const code = await call('POST', `/orgs/${acme}/nodes/${nodeId}/enrolment-code`, { token: admin.token });
    expect(code.status).toBe(201);
    expect(code.data.command).toContain(`--code ${code.data.code}`);

    // 2. `enroll`, exactly as shown (from the repository root), into this test's config dir.
    const dir = join(work, 'agent');
    const enrol = spawnSync(process.execPath, [CLI, 'enroll', '--api', stack.url, '--code', code.data.code, '--config-dir', dir], { encoding: 'utf8', cwd: ROOT });
    expect(enrol.status, enrol.stderr).toBe(0);
    expect(statSync(join(dir, 'node-token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'node-token'), 'utf8')).toMatch(/^epn_/);
    expect(enrol.stdout + enrol.stderr).not.toMatch(/epn_/); // the token is never printed
    // The dashboard's command stops at enrolment: the agent says what to run next, and where the hook goes.
    expect(enrol.stdout + enrol.stderr).toContain(`next: start the agent with  node agents/node/cli.mjs run --config-dir ${dir}`);
    expect(enrol.stdout + enrol.stderr).toContain(`set "launch_hook" in ${join(dir, 'config.json')}`);
    const again = spawnSync(process.execPath, [CLI, 'enroll', '--api', stack.url, '--code', code.data.code, '--config-dir', join(work, 'again')], { encoding: 'utf8' });
    expect(again.status).toBe(77); // single use

    // 3. The library and the launch hook (records its environment and a grandchild, then stays up).
    const lib = steamLibrary(join(work, 'library'));
    const hook = join(work, 'hook.mjs');
    writeFileSync(
      hook,
      `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('EDGEPLANE_')));
writeFileSync(${JSON.stringify(join(work, 'hook-ran.json'))}, JSON.stringify({ env, pid: process.pid, child: child.pid }));
setInterval(() => {}, 1000);
`,
    );
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ api: stack.url, node_id: nodeId, org_id: acme, jwks_url: `${stack.url}/.well-known/jwks.json` });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...cfg, launch_hook: `"${process.execPath}" "${hook}"`, stop_grace_seconds: 3, libraries: { steam: [lib.steam], epic_manifests: [], gog: [] } }),
    );

    // 4. `run`: the agent reports the install with a proof of the real executable.
    agent = spawn(process.execPath, [CLI, 'run', '--config-dir', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stdout.on('data', (d) => (agentLog += d));
    agent.stderr.on('data', (d) => (agentLog += d));
    const installs = await until(
      async () => {
        const r = await call('GET', `/orgs/${acme}/nodes/${nodeId}/installs`, { token: admin.token });
        return r.data?.length ? r.data : null;
      },
      30_000,
      'the agent’s installs',
    ).catch((e) => {
      throw new Error(`${e.message}\n${agentLog}`);
    });
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatchObject({ game_id: cs2, launcher: 'steam', executable: lib.exe, proof: { path: lib.exe, size: statSync(lib.exe).size } });
    expect(installs[0].proof.sha256).toMatch(/^[0-9a-f]{64}$/);

    // 5. The player starts a session: it lands on this node; the agent verifies it and runs the hook.
    const s = await call('POST', '/sessions', { token: player.token, body: { org_id: acme, user_id: player.user_id, game_id: cs2 } });
    expect(s.status, JSON.stringify(s.data)).toBe(201);
    expect(s.data.node_id).toBe(nodeId);
    const ran = await until(async () => existsSync(join(work, 'hook-ran.json')) && JSON.parse(readFileSync(join(work, 'hook-ran.json'), 'utf8')), 30_000, 'the launch hook').catch((e) => {
      throw new Error(`${e.message}\n${agentLog}`);
    });
    expect(ran.env).toMatchObject({
      EDGEPLANE_SESSION_ID: String(s.data.id),
      EDGEPLANE_USER_ID: String(player.user_id),
      EDGEPLANE_GAME_ID: String(cs2),
      EDGEPLANE_INSTALL_PATH: join(lib.steam, 'steamapps', 'common', 'Counter-Strike Global Offensive'),
      EDGEPLANE_EXECUTABLE: lib.exe,
    });
    await until(async () => (await call('GET', `/sessions/${s.data.id}`, { token: player.token })).data?.status === 'active', 15_000, 'session active');

    // 6. Ended elsewhere: DELETE stops the hook and its child at the agent's next heartbeat.
    const del = await call('DELETE', `/sessions/${s.data.id}`, { token: player.token });
    expect(del.status).toBe(200);
    await until(async () => !alive(ran.pid) && !alive(ran.child), 30_000, 'the hook’s process tree to stop').catch((e) => {
      throw new Error(`${e.message}\n${agentLog}`);
    });

    // 7. A service manager's stop: SIGTERM → exit 0.
    agent.kill('SIGTERM');
    const code2 = await new Promise((r) => agent.once('exit', (c) => r(c)));
    expect(code2).toBe(0);
  }, 150_000);
});

describe('adding a node in the dashboard', () => {
  beforeAll(async () => {
    browser = await launch();
  });

  for (const [width, theme] of [[1280, 'light'], [360, 'dark']]) {
    it(`shows a one-time enrolment code with the exact command (${width} px, ${theme})`, async () => {
      const page = await authedPage(browser, stack.url, stack.credentials.admin, { width, height: 800, theme });
      await go(page, stack.url, 'console/nodes');
      await page.getByLabel('Organization').selectOption({ label: 'Acme Corp (acme)' });
      const reg = page.locator('form', { hasText: 'Register a node' });
      const name = `e2e-enrol-${width}`;
      await reg.getByLabel('Name').fill(name);
      await reg.getByLabel('Region').fill('eu-west');
      await reg.getByLabel('Seats').fill('2');
      await reg.getByLabel('Stream base URL').fill('https://enrol.example.com/stream');
      await reg.getByRole('button', { name: 'Register node' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      const command = (await dialog.locator('[data-command]').textContent()).trim();
      const code = (await dialog.locator('[data-code]').textContent()).trim();
      expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
      expect(command).toBe(`node agents/node/cli.mjs enroll --api ${stack.url} --code ${code}`);
      // The raw token is folded away under "manual setup".
      expect(await dialog.locator('details').getAttribute('open')).toBeNull();
      await shot(page, `console-nodes-enrol-${width}-${theme}`);
      await page.keyboard.press('Escape');
      await eventually(() => dialog.count()).toBe(0);
      // The code shown is the one that works.
      const dir = join(work, `dash-${width}`);
      const r = spawnSync(process.execPath, [CLI, 'enroll', '--api', stack.url, '--code', code, '--config-dir', dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const row = page.locator('tbody tr', { hasText: name });
      await row.getByRole('button', { name: 'Rotate', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Rotate token' }).click();
      await shot(page, `console-nodes-rotated-${width}-${theme}`);
      await eventually(() => row.textContent()).toContain('token rollover pending');
      expectNoSeriousErrors(page);
    });
  }
});
