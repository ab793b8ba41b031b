// Starts the whole product locally: secrets in .dev.vars, local D1 migrated and seeded, the
// development overseer (when no OVERSEER_URL is given), `wrangler dev`, the demo data through the
// API, and the node agent (agents/node) on a demo library; on request (`mediaAgent: true`, as `npm
// start` asks) the media agent (agents/media) uploading the simulated recordings to the local R2,
// and (`steamDouble: true`, as `npm start` asks) a local Steam double the Worker's Steam vars name.
// Used by `npm start`, the browser tests and the benchmarks.
//
//   const stack = await startStack({ port: 8787 });
//   ... stack.url, stack.credentials.admin ...
//   await stack.stop();
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webcrypto } from 'node:crypto';
import { seedDemo } from './seed.mjs';
import { startDemoAgent } from './dev-node-agent.mjs';
import { startDemoMediaAgent } from './dev-media-agent.mjs';
import { startSteamDouble } from './steam-double.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'node_modules', '.bin');
const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, CI: 'true', WRANGLER_SEND_METRICS: 'false' };

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/** Writes any missing secret into .dev.vars (never overwrites an existing value). */
export async function ensureDevVars(file = join(ROOT, '.dev.vars')) {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const have = new Set(existing.split('\n').map((l) => l.split('=')[0]?.trim()).filter(Boolean));
  const add = [];
  if (!have.has('JWT_SECRET')) add.push(`JWT_SECRET="${b64url(webcrypto.getRandomValues(new Uint8Array(48)))}"`);
  if (!have.has('COUCHSUITE_USERNAME_SECRET')) add.push(`COUCHSUITE_USERNAME_SECRET="${b64url(webcrypto.getRandomValues(new Uint8Array(48)))}"`);
  if (!have.has('SESSION_SIGNING_KEY')) {
    const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const jwk = await webcrypto.subtle.exportKey('jwk', pair.privateKey);
    const clean = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d, kid: `dev-${Date.now().toString(36)}` };
    add.push(`SESSION_SIGNING_KEY='${JSON.stringify(clean)}'`);
  }
  if (!have.has('STEAM_API_KEY')) add.push('STEAM_API_KEY=""');
  if (!have.has('OVERSEER_TOKEN')) add.push(`OVERSEER_TOKEN="${b64url(webcrypto.getRandomValues(new Uint8Array(32)))}"`);
  if (add.length) {
    writeFileSync(file, (existing && !existing.endsWith('\n') ? existing + '\n' : existing) + add.join('\n') + '\n', { mode: 0o600 });
    console.log(`[edgeplane] generated ${add.length} secret(s) into ${file}`);
  }
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, stdio: opts.quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) {
    if (opts.quiet) process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
  }
  return r.stdout;
}

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

async function waitFor(url, ms, child) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${url} answered`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${url}`);
}

/** wrangler's own line per request, and the offline `Request.cf` warning with its stack trace: the
 * noise that scrolled `npm start` away. Our Worker logs failures and slow requests itself. */
const WRANGLER_NOISE = [/^\[wrangler:info\] (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \//, /Unable to fetch the `Request\.cf` object/, /getaddrinfo ENOTFOUND/, /^\s+at .*\(node:/];

/**
 * Calm console (`npm start`): a child's whole output goes to `<logs>/<name>.log`; the terminal gets
 * its stderr (warnings and errors) and, for wrangler, every line but the per-request noise.
 */
function calmOutput(child, name, logsDir, { stdoutToo = false } = {}) {
  const file = createWriteStream(join(logsDir, `${name}.log`), { flags: 'a' });
  const pipe = (stream, show) =>
    createInterface({ input: stream }).on('line', (line) => {
      file.write(line + '\n');
      if (show && !WRANGLER_NOISE.some((re) => re.test(line))) process.stderr.write(`${line}\n`);
    });
  pipe(child.stdout, stdoutToo);
  pipe(child.stderr, true);
}

/**
 * The local origins of a stack on `port`: the name the banner prints first (`localhost`), then the
 * address wrangler listens on. `npm start` allows them for CORS and as the dashboard's origins, so a
 * stack on another PORT does not keep allowing http://localhost:8787 (wrangler.toml's default).
 */
export function localOriginVars(port) {
  const origins = `http://localhost:${port},http://127.0.0.1:${port}`;
  return { CORS_ORIGINS: origins, DASHBOARD_ORIGINS: origins };
}

/**
 * The `--var`s of the stack's `wrangler dev`: local defaults, then (`localOrigins`, `npm start`) the
 * port's origins, then the caller's `vars`, then the overseer's URL.
 */
export function workerVars(o, { port, calm = false, overseerUrl = '' }) {
  // Analytics Engine drops writes in local development: the local stack keeps metrics in D1.
  const vars = {
    METRICS_STORE: 'd1',
    ...(calm ? { LOG_FORMAT: 'pretty' } : {}),
    ...(o.localOrigins ? localOriginVars(port) : {}),
    ...(o.vars ?? {}),
    ...(overseerUrl ? { OVERSEER_URL: overseerUrl } : {}),
  };
  // Plain ws:// is for an overseer on this machine only (the bundled one, or one given for development).
  if (/^ws:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(overseerUrl) && vars.ALLOW_INSECURE_OVERSEER === undefined) vars.ALLOW_INSECURE_OVERSEER = 'true';
  return vars;
}

/**
 * `quiet` (tests, benchmarks): nothing on the terminal. `calm` (`npm start`): children log to files
 * under `<persistTo>/logs/`, the terminal shows only warnings, errors and the Worker's own compact
 * lines (`LOG_FORMAT=pretty`: failed and slow requests). Neither: everything, as it comes.
 * @param {{ port?: number, persistTo?: string, overseerUrl?: string, quiet?: boolean, calm?: boolean,
 *           adminPassword?: string, seed?: boolean, inspectorPort?: number, wranglerArgs?: string[], nodeAgent?: boolean, mediaAgent?: boolean,
 *           localOrigins?: boolean, vars?: Record<string,string>, steamDouble?: boolean }} o
 * `localOrigins` (`npm start`): CORS_ORIGINS and DASHBOARD_ORIGINS name this port (`localOriginVars`).
 * `mediaAgent` (off by default: the recordings browser test runs its own agent, and would race a
 * second one for the same files) enrols a demo recorder host once and runs agents/media on the
 * overseer's recordings; the result then carries `mediaAgent: {hostId, reused, ffmpeg, stateDir, pid}`.
 * `steamDouble` (`npm start`: no machine here reaches Steam) runs tools/steam-double.mjs with its
 * labelled sign-in page and points the Worker's Steam vars at it (the caller's `vars` still win);
 * the result then carries `steam: {url, persona, owned}`.
 */
export async function startStack(o = {}) {
  const port = o.port ?? 8787;
  const persistTo = o.persistTo ?? join(ROOT, '.wrangler', 'state');
  const quiet = o.quiet ?? false;
  const calm = !quiet && (o.calm ?? false);
  const log = (m) => quiet || console.log(`[edgeplane] ${m}`);
  mkdirSync(persistTo, { recursive: true });
  const logsDir = join(persistTo, 'logs');
  if (calm) mkdirSync(logsDir, { recursive: true });
  /** stdio for a child process, wired after spawn by `wire`. */
  const stdioFor = () => (quiet ? 'ignore' : calm ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit']);
  const wire = (child, name, opts) => calm && calmOutput(child, name, logsDir, opts);
  await ensureDevVars();

  log('applying D1 migrations (local)');
  run('wrangler', ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo], { quiet: true });
  if (o.seed !== false) {
    log('seeding the demo catalog');
    run('wrangler', ['d1', 'execute', 'DB', '--local', '--persist-to', persistTo, '--file', 'tools/seed/catalog.sql'], { quiet: true });
  }

  const children = [];
  /** Children killed outright when they outlive SIGTERM by this long (ms). */
  const killAfter = new Map();
  let stopping = false;
  let overseerUrl = o.overseerUrl ?? process.env.OVERSEER_URL ?? '';
  if (!overseerUrl && existsSync(join(ROOT, 'tools', 'dev-overseer.mjs'))) {
    const oport = await freePort();
    // The development overseer checks the same shared secret the Worker sends (from .dev.vars).
    const token = /^OVERSEER_TOKEN="?([^"\n]*)"?$/m.exec(readFileSync(join(ROOT, '.dev.vars'), 'utf8'))?.[1] ?? '';
    // Its simulated recorders write real media under <persistTo>/recordings (events in .recorder-events.jsonl there).
    const ov = spawn(process.execPath, ['tools/dev-overseer.mjs', '--port', String(oport), '--recordings-dir', join(persistTo, 'recordings'), ...(o.overseerArgs ?? [])], { cwd: ROOT, env: { ...env, OVERSEER_TOKEN: token }, stdio: stdioFor() });
    wire(ov, 'overseer');
    children.push(ov);
    overseerUrl = `ws://127.0.0.1:${oport}/ws`;
    log(`development overseer at ${overseerUrl}`);
  }

  let steam = null;
  if (o.steamDouble) {
    steam = await startSteamDouble({ signInPage: true });
    log(`Steam double (the local demo's stand-in for Steam) at ${steam.url}`);
  }
  const vars = workerVars(steam ? { ...o, vars: { ...steam.vars, ...o.vars } } : o, { port, calm, overseerUrl });
  const inspectorPort = o.inspectorPort ?? (await freePort());
  const args = ['dev', '--port', String(port), '--ip', '127.0.0.1', '--persist-to', persistTo, '--show-interactive-dev-session=false', '--test-scheduled', '--inspector-port', String(inspectorPort)];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  if (o.wranglerArgs) args.push(...o.wranglerArgs);
  const wr = spawn(join(BIN, 'wrangler'), args, { cwd: ROOT, env, stdio: quiet || calm ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'] });
  wire(wr, 'wrangler', { stdoutToo: true });
  if (quiet) {
    let tail = '';
    const keep = (d) => (tail = (tail + d).slice(-4000));
    wr.stdout.on('data', keep);
    wr.stderr.on('data', keep);
    wr.on('exit', (code) => !stopping && code !== 0 && process.stderr.write(`wrangler dev exited ${code}\n${tail}\n`));
  }
  children.push(wr);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    stopping = true;
    for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGTERM');
    for (const [c, ms] of killAfter) setTimeout(() => c.exitCode === null && c.kill('SIGKILL'), ms).unref();
    await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))));
    await steam?.stop();
  };
  try {
    await waitFor(`${url}/health`, 120_000, wr);
    log(`worker up at ${url}`);
    let credentials = null;
    if (o.seed !== false) {
      credentials = await seedDemo({ url, persistTo, adminPassword: o.adminPassword, log });
    }
    if (o.nodeAgent !== false && credentials?.node) {
      // The real node agent (agents/node) against a demo library of real-format store files.
      const agent = await startDemoAgent({ url, persistTo, credentials, vars, env, stdio: stdioFor() });
      if (agent) {
        wire(agent, 'node-agent');
        children.push(agent);
        log('node agent (agents/node) running for the demo node, demo library under ' + join(persistTo, 'demo-library'));
      }
    }
    let mediaAgent = null;
    if (o.mediaAgent && credentials) {
      const media = await startDemoMediaAgent({ url, persistTo, credentials, env, stdio: stdioFor() });
      if (media) {
        wire(media.child, 'media-agent');
        children.push(media.child);
        // On SIGTERM the agent finishes its pass first (remuxing every pending file, then failing
        // each upload once wrangler is gone), which held Ctrl+C for minutes; it is built to survive
        // SIGKILL mid-upload (the server keeps the parts), so it gets a few seconds, then that.
        killAfter.set(media.child, 5000);
        const { child, ...about } = media;
        mediaAgent = { ...about, pid: child.pid };
        log(`media agent (agents/media) uploading ${join(persistTo, 'recordings')} to the local R2 as host ${media.hostId}${media.reused ? ' (reused)' : ' (enrolled now)'}${media.ffmpeg ? ', remuxed to MP4 with thumbnails' : ', no ffmpeg: files as recorded, no thumbnails'}`);
      }
    }
    return { url, port, inspectorPort, persistTo, overseerUrl, credentials, children, stop, logsDir: calm ? logsDir : null, mediaAgent, steam: steam && { url: steam.url, persona: steam.persona, owned: steam.owned } };
  } catch (e) {
    await stop();
    throw e;
  }
}
