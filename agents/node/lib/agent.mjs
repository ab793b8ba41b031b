/**
 * The agent's main loop: scan the libraries, map them to catalog games, heartbeat, run sessions.
 *
 * - Scans: at start, whenever a watched store folder changes (fs.watch on the folders holding the
 *   stores' records, debounced), and every
 *   `rescan_seconds` as the safety net for changes a watch misses (network drives, a watch limit).
 *   A scan whose install set differs from the last one triggers a heartbeat at once.
 * - Mapping: store ids go to `POST /nodes/catalog/resolve`; ids the catalog does not know are
 *   logged once and not reported (the agent creates nothing).
 * - Heartbeats: at the interval the control plane asks for, with ±10 % jitter; while unreachable,
 *   exponential backoff with full jitter up to `max_backoff_seconds`.
 * - Token rollover: a `node_token` in a heartbeat reply is written to the token file (atomically,
 *   0600) before it is used. A 401 makes the agent re-read the token file (a re-enrolment by the
 *   operator takes effect without a restart) and keep backing off.
 *
 *   const agent = new NodeAgent(cfg, { token });
 *   await agent.start();   ...   await agent.stop();
 */
import { readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { ApiError, NodeApi, Unreachable } from './api.mjs';
import { Backoff, jittered } from './backoff.mjs';
import { readToken, writeToken } from './config.mjs';
import { log } from './log.mjs';
import { ProofCache } from './proofs.mjs';
import { SessionRunner, tokenVerifier } from './sessions.mjs';
import { discover, watchTargets } from './stores.mjs';

/** Versioned with the product: the repository's VERSION in a checkout, else the packaged copy's version. */
export const AGENT_VERSION = (() => {
  try {
    return readFileSync(new URL('../../../VERSION', import.meta.url), 'utf8').trim();
  } catch {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  }
})();

/**
 * Discovered installs → heartbeat installs: catalog ids from the control plane, a proof each.
 * @returns {{ installs: object[], unmapped: object[] }}
 */
export async function buildInstalls(found, { resolve, proofs, warn }) {
  const refs = found.flatMap((f) => f.refs);
  const unique = [...new Map(refs.map((r) => [`${r.platform}\u0000${r.external_id}`, r])).values()];
  const matches = unique.length ? await resolve(unique) : [];
  const byRef = new Map(matches.map((m) => [`${m.platform}\u0000${m.external_id}`, m.game_id]));
  const installs = [];
  const unmapped = [];
  for (const f of found) {
    const gameId = f.game_id ?? f.refs.map((r) => byRef.get(`${r.platform}\u0000${r.external_id}`)).find((id) => id !== undefined);
    if (gameId === undefined) {
      unmapped.push(f);
      continue;
    }
    const proofPath = f.executable ?? f.manifest;
    if (!proofPath) {
      warn?.(`${f.key} (${f.install_path}): no executable found and no store manifest: not reported`);
      continue;
    }
    if (!f.executable) warn?.(`${f.key} (${f.install_path}): no main executable found; proving the store manifest instead (set "executables" in the config)`);
    let proof;
    try {
      proof = await proofs.proof(proofPath);
    } catch (e) {
      warn?.(`${f.key}: cannot read ${proofPath} (${e.message}): not reported`);
      continue;
    }
    installs.push({
      game_id: gameId,
      install_path: f.install_path,
      launcher: f.store,
      executable: f.executable,
      proof,
    });
  }
  // One install per game (two stores may hold the same game): the first found wins, deterministically.
  const seen = new Set();
  return { installs: installs.filter((i) => (seen.has(i.game_id) ? false : (seen.add(i.game_id), true))), unmapped };
}

const MAX_INSTALLS = 500;

export class NodeAgent {
  /**
   * @param {ReturnType<import('./config.mjs').loadConfig>} cfg
   * @param {{ token: string, fetch?: typeof fetch, jwks?: any, random?: () => number }} o
   */
  constructor(cfg, o) {
    this.cfg = cfg;
    this.token = o.token;
    this.api = new NodeApi({ base: cfg.api, token: () => this.token, fetch: o.fetch });
    this.proofs = new ProofCache(join(cfg.state_dir, 'proof-cache.json'));
    this.backoff = new Backoff({ baseMs: 1000, maxMs: cfg.max_backoff_seconds * 1000, random: o.random });
    this.random = o.random ?? Math.random;
    this.intervalMs = 10_000;
    this.installs = [];
    this.installKey = '';
    this.warned = new Set();
    this.runner = new SessionRunner({
      hook: cfg.launch_hook,
      graceMs: cfg.stop_grace_seconds * 1000,
      verifier: tokenVerifier({
        jwksUrl: cfg.jwks_url,
        issuer: cfg.session_token.issuer,
        audience: cfg.session_token.audience,
        typ: cfg.session_token.typ,
        nodeId: cfg.node_id,
        orgId: cfg.org_id,
        jwks: o.jwks,
      }),
      installFor: (gameId) => this.installs.find((i) => i.game_id === gameId) ?? null,
      report: async (id, status, reason) => {
        await this.api.reportSession(id, status, reason);
      },
    });
    this.stopped = false;
    this.timer = null;
    this.watchers = [];
    this.beating = null;
    this.beatAgain = false;
    this.lastSummary = '';
  }

  warnOnce(msg) {
    if (this.warned.has(msg)) return;
    this.warned.add(msg);
    log.warn(msg);
  }

  /** Rescans the libraries; true when the install set changed. */
  async scan() {
    const found = await discover(this.cfg.libraries, { executables: this.cfg.executables, warn: (m) => this.warnOnce(m) });
    const { installs, unmapped } = await buildInstalls(found, {
      resolve: (refs) => this.api.resolve(refs),
      proofs: this.proofs,
      warn: (m) => this.warnOnce(m),
    });
    for (const u of unmapped) this.warnOnce(`${u.key} "${u.name}" (${u.install_path}) is not in the catalog: not reported`);
    await this.proofs.save();
    const key = JSON.stringify(installs.map((i) => [i.game_id, i.install_path, i.executable, i.proof.sha256, i.proof.size, i.proof.mtime]).sort());
    const changed = key !== this.installKey;
    this.installs = installs;
    this.installKey = key;
    if (changed) log.info(`libraries: ${installs.length} installed game(s) mapped to the catalog, ${unmapped.length} not in the catalog`);
    return changed;
  }

  async heartbeat() {
    const sessions = this.runner.reports();
    // The control plane takes at most 500 installs per heartbeat; more would refuse every beat.
    if (this.installs.length > MAX_INSTALLS) this.warnOnce(`${this.installs.length} installs found; only the first ${MAX_INSTALLS} are reported`);
    const installs = this.installs.slice(0, MAX_INSTALLS);
    const reply = await this.api.heartbeat({ node_id: this.cfg.node_id, org_id: this.cfg.org_id, status: `ready edgeplane-node/${AGENT_VERSION}`.slice(0, 32), installs, sessions });
    if (reply.node_token) {
      // Stored before it is used: if the agent dies now, the file already has the token the server expects next.
      writeToken(this.cfg.token_file, reply.node_token);
      this.token = reply.node_token;
      log.info('node token rolled over by the control plane; stored the new one');
    }
    for (const s of sessions) if (s.status !== 'active') this.runner.pending.delete(s.id);
    this.intervalMs = reply.heartbeat_interval_seconds * 1000;
    if (reply.unknown_game_ids.length) this.warnOnce(`the control plane ignored unknown game ids: ${reply.unknown_game_ids.join(', ')}`);
    const summary = `node ${reply.node_id}: ${reply.installs} installs accepted, ${reply.sessions.length} session(s) assigned`;
    if (summary !== this.lastSummary) log.info(summary);
    this.lastSummary = summary;
    await this.runner.sync(reply.sessions);
    return reply;
  }

  /** One cycle: heartbeat (scanning first when asked); returns the wait before the next one. */
  async cycle({ rescan = false } = {}) {
    try {
      if (rescan || !this.installKey) await this.scan();
      await this.heartbeat();
      this.backoff.reset();
      return jittered(this.intervalMs, 0.1, this.random);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        const fresh = this.rereadToken();
        log.error(`the control plane refused the node token (${e.code})${fresh ? '; the token file changed, retrying with it' : ': re-enrol this node (edgeplane-node enroll) or roll its token over from the dashboard'}`);
        if (fresh) return 0;
      } else if (e instanceof Unreachable) log.warn(`control plane unreachable: ${e.message}`);
      else log.error(`heartbeat failed: ${e.message}`);
      const wait = this.backoff.next();
      log.warn(`retrying in ${(wait / 1000).toFixed(1)} s`);
      return wait;
    }
  }

  rereadToken() {
    try {
      const t = readToken(this.cfg.token_file);
      if (t !== this.token) {
        this.token = t;
        return true;
      }
    } catch {}
    return false;
  }

  /** Heartbeats now (coalescing overlapping requests), then re-arms the timer. */
  kick(opts = {}) {
    if (this.stopped) return Promise.resolve();
    if (this.beating) {
      this.beatAgain = true;
      this.beatAgainRescan = this.beatAgainRescan || opts.rescan;
      return this.beating;
    }
    clearTimeout(this.timer);
    this.beating = (async () => {
      let wait = await this.cycle(opts);
      while (this.beatAgain && !this.stopped) {
        const rescan = this.beatAgainRescan;
        this.beatAgain = false;
        this.beatAgainRescan = false;
        wait = await this.cycle({ rescan });
      }
      this.beating = null;
      if (!this.stopped) this.timer = setTimeout(() => this.kick(), wait);
    })();
    return this.beating;
  }

  async start() {
    log.info(`edgeplane-node ${AGENT_VERSION}: node ${this.cfg.node_id} of org ${this.cfg.org_id}, control plane ${this.cfg.api}`);
    if (!this.cfg.launch_hook) log.warn('no launch_hook configured: assigned sessions will be refused');
    await this.watchLibraries();
    this.rescanTimer = setInterval(() => this.rescanIfChanged(), this.cfg.rescan_seconds * 1000);
    await this.kick({ rescan: true });
  }

  /** A rescan goes through the heartbeat cycle, so scans never overlap and a change is reported at once. */
  rescanIfChanged() {
    return this.kick({ rescan: true });
  }

  async watchLibraries() {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    let debounce = null;
    const onChange = () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => this.rescanIfChanged(), 1500);
    };
    for (const dir of await watchTargets(this.cfg.libraries)) {
      try {
        // Not recursive on purpose: the store's own records live at the top of these folders
        // (appmanifest_*.acf, *.item, a GOG game folder appearing), and a recursive watch of a
        // multi-terabyte library would cost an inotify watch per folder on Linux. Changes deeper
        // down (a patched executable) are caught by the periodic rescan.
        const w = watch(dir, { persistent: false }, onChange);
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch (e) {
        this.warnOnce(`cannot watch ${dir} (${e.message}); the periodic rescan covers it`);
      }
    }
    this.watchDebounce = () => clearTimeout(debounce);
  }

  async stop(reason = 'agent_stopped') {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.rescanTimer);
    this.watchDebounce?.();
    for (const w of this.watchers) w.close();
    await this.beating;
    await this.runner.stopAll(reason);
  }
}
