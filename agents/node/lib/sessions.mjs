/**
 * Play sessions on this node: verify each assignment's signed token offline, run the operator's
 * launch hook for it, and stop the hook's whole process tree when the session ends elsewhere.
 *
 * - Verification: ES256 against the control plane's JWKS (jose's remote set: cached, refetched
 *   when a token names an unknown `kid`, e.g. after a signing-key rotation), with issuer,
 *   audience, `typ` and expiry checked, and the claims bound to this assignment: `sub` is the
 *   session id, `node_id` this node, `org_id`/`user_id`/`game_id` those of the assignment. A session
 *   whose token does not verify is refused (reported `failed`) and never launched.
 * - The hook is a shell command with EDGEPLANE_SESSION_ID, EDGEPLANE_USER_ID, EDGEPLANE_GAME_ID,
 *   EDGEPLANE_INSTALL_PATH and EDGEPLANE_EXECUTABLE in its environment. It should stay in the
 *   foreground while the game runs: its exit is the session's end (`ended`, with the exit status).
 * - Process trees: on Linux/macOS the hook leads its own process group (detached) and the group is
 *   signalled (SIGTERM, then SIGKILL after the grace period); on Windows `taskkill /T /F` ends the
 *   tree.
 *
 *   const verifier = tokenVerifier({ jwksUrl, issuer, audience, typ, nodeId, orgId });
 *   const runner = new SessionRunner({ hook: 'node hook.mjs', verifier, installFor, report, graceMs });
 *   await runner.sync(assignments);     // launch new ones, stop vanished ones
 *   runner.reports();                    // [{id, status:'active'}...] for the next heartbeat
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { log } from './log.mjs';

const isWindows = process.platform === 'win32';

/**
 * @param {{ jwksUrl: string, issuer: string, audience: string, typ: string, nodeId: number, orgId: number, jwks?: any }} o
 * @returns {(a: {id:number, user_id:number, game_id:number, org_id:number, stream_token:string}) => Promise<void>} throws when refused
 */
export function tokenVerifier(o) {
  const jwks = o.jwks ?? createRemoteJWKSet(new URL(o.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  return async (a) => {
    const { payload } = await jwtVerify(a.stream_token, jwks, { issuer: o.issuer, audience: o.audience, typ: o.typ, algorithms: ['ES256'], requiredClaims: ['exp', 'sub'] });
    const mismatch = [];
    if (payload.sub !== String(a.id)) mismatch.push('sub');
    if (payload.node_id !== o.nodeId) mismatch.push('node_id');
    if (payload.org_id !== o.orgId || a.org_id !== o.orgId) mismatch.push('org_id');
    if (payload.user_id !== a.user_id) mismatch.push('user_id');
    if (payload.game_id !== a.game_id) mismatch.push('game_id');
    if (mismatch.length) throw new Error(`claims do not match the assignment (${mismatch.join(', ')})`);
  };
}

/**
 * Ends a process and everything it started: SIGTERM to the group (taskkill /T on Windows), then,
 * after `graceMs`, SIGKILL to whatever of the group is left. The leader (the shell running the hook)
 * often exits first, so the group, not the leader, is waited for. Resolves when the tree is gone.
 */
export async function killTree(child, graceMs) {
  if (isWindows) {
    spawnSync('taskkill', ['/PID', String(child.pid), '/T', '/F'], { windowsHide: true });
    return;
  }
  signalGroup(child.pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && groupAlive(child.pid)) await new Promise((r) => setTimeout(r, 50));
  if (groupAlive(child.pid)) signalGroup(child.pid, 'SIGKILL');
  // SIGKILL cannot be ignored; the bound only guards against an exit event that never comes.
  const reaped = Date.now() + 5000;
  while (child.exitCode === null && child.signalCode === null && Date.now() < reaped) await new Promise((r) => setTimeout(r, 20));
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Failures to reach the JWKS (network, timeout) say nothing about the token. */
export function unverifiableNow(e) {
  if (e?.code === 'ERR_JWKS_TIMEOUT') return true;
  return !String(e?.code ?? '').startsWith('ERR_J') && (e instanceof TypeError || e?.name === 'AbortError' || e?.name === 'TimeoutError');
}

export class SessionRunner {
  /**
   * @param {{ hook: string | null, verifier: Function, installFor: (gameId: number) => ({install_path: string, executable: string | null} | null),
   *           report: (id: number, status: string, reason?: string) => Promise<void>, graceMs?: number, env?: Record<string,string> }} o
   */
  constructor(o) {
    this.hook = o.hook;
    this.verifier = o.verifier;
    this.installFor = o.installFor;
    this.report = o.report;
    this.graceMs = o.graceMs ?? 10_000;
    this.baseEnv = o.env ?? process.env;
    /** id → { child, stopping } */
    this.running = new Map();
    /** Sessions already decided (refused, ended here): never launched again while still assigned. */
    this.done = new Set();
    /** Final reports that could not be delivered yet: id → {status, reason}. */
    this.pending = new Map();
    this.starting = new Set();
  }

  /** Brings the running hooks in line with the complete list of live assignments. */
  async sync(assignments) {
    const assigned = new Set(assignments.map((a) => a.id));
    const stops = [];
    for (const [id, run] of this.running) {
      if (assigned.has(id) || run.stopping) continue;
      log.info(`session ${id} ended by the control plane: stopping its launch hook`);
      run.stopping = true;
      stops.push(killTree(run.child, this.graceMs));
    }
    for (const id of this.done) if (!assigned.has(id)) this.done.delete(id);
    for (const id of this.pending.keys()) if (!assigned.has(id)) this.pending.delete(id);
    await Promise.all([...assignments.filter((a) => !this.running.has(a.id) && !this.done.has(a.id) && !this.starting.has(a.id)).map((a) => this.start(a)), ...stops]);
  }

  async start(a) {
    this.starting.add(a.id);
    try {
      try {
        await this.verifier(a);
      } catch (e) {
        if (unverifiableNow(e)) {
          // The JWKS could not be fetched: nothing was proven either way, so try again at the next beat.
          log.warn(`session ${a.id}: cannot check its token now (${e.code ?? e.message}); retrying at the next heartbeat`);
          return;
        }
        log.warn(`session ${a.id} refused: its token does not verify (${e.code ?? ''} ${e.message})`);
        return this.finish(a.id, 'failed', `token_rejected: ${e.code ?? e.message}`);
      }
      const inst = this.installFor(a.game_id);
      if (!inst) return this.finish(a.id, 'failed', 'not_installed_on_node');
      if (!this.hook) return this.finish(a.id, 'failed', 'no_launch_hook_configured');
      const env = {
        ...this.baseEnv,
        EDGEPLANE_SESSION_ID: String(a.id),
        EDGEPLANE_USER_ID: String(a.user_id),
        EDGEPLANE_GAME_ID: String(a.game_id),
        EDGEPLANE_ORG_ID: String(a.org_id),
        EDGEPLANE_INSTALL_PATH: inst.install_path,
        EDGEPLANE_EXECUTABLE: inst.executable ?? '',
      };
      const child = spawn(this.hook, { shell: true, env, detached: !isWindows, stdio: ['ignore', 'inherit', 'inherit'], windowsHide: true });
      const run = { child, stopping: false };
      this.running.set(a.id, run);
      await new Promise((resolve) => {
        child.once('spawn', () => {
          log.info(`session ${a.id}: launch hook running (pid ${child.pid}, game ${a.game_id}, user ${a.user_id})`);
          resolve();
          this.deliver(a.id, 'active');
        });
        child.once('error', (e) => {
          this.running.delete(a.id);
          log.error(`session ${a.id}: launch hook could not start: ${e.message}`);
          resolve();
          this.finish(a.id, 'failed', `launch_hook_error: ${e.code ?? e.message}`);
        });
        child.once('exit', (code, signal) => {
          this.running.delete(a.id);
          if (run.stopping) {
            this.done.add(a.id);
            return;
          }
          const how = signal ? `signal ${signal}` : `exit ${code}`;
          log.info(`session ${a.id}: launch hook stopped (${how})`);
          this.finish(a.id, 'ended', how);
        });
      });
    } finally {
      this.starting.delete(a.id);
    }
  }

  async finish(id, status, reason) {
    this.done.add(id);
    this.pending.set(id, { status, reason });
    await this.deliver(id, status, reason);
  }

  /** Reports at once; a report that cannot be delivered now rides on the next heartbeat. */
  async deliver(id, status, reason) {
    try {
      await this.report(id, status, reason);
      if (status !== 'active') this.pending.delete(id);
    } catch (e) {
      log.warn(`session ${id}: could not report ${status} now (${e.message}); the next heartbeat carries it`);
    }
  }

  /** What the next heartbeat says about sessions: running ones are `active` (that keeps the lease). */
  reports() {
    const out = [];
    for (const [id, run] of this.running) if (!run.stopping) out.push({ id, status: 'active' });
    for (const [id, p] of this.pending) out.push({ id, status: p.status, ...(p.reason ? { reason: p.reason.slice(0, 200) } : {}) });
    return out;
  }

  /** Agent shutdown: stop every hook and say so. */
  async stopAll(reason) {
    const runs = [...this.running.entries()];
    for (const [, run] of runs) run.stopping = true;
    await Promise.all(runs.map(([, run]) => killTree(run.child, this.graceMs)));
    await Promise.all(runs.map(([id]) => this.deliver(id, 'failed', reason)));
  }
}
