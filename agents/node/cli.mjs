#!/usr/bin/env node
/**
 * edgeplane-node: the Edgeplane node agent's command line (Node ≥ 20, Linux and Windows).
 *
 *   edgeplane-node enroll --api https://console.example --code K7QF-2M9X [--config-dir DIR] [--launch-hook CMD]
 *   edgeplane-node run [--config-dir DIR]          # the service: heartbeats, installs, sessions
 *   edgeplane-node scan [--config-dir DIR]         # print what the libraries hold, then exit
 *
 * Exit codes (for systemd's RestartPreventExitStatus= and Windows service recovery):
 *   0 stopped by a signal or finished, 1 unexpected failure (restart), 64 bad command line,
 *   77 enrolment code refused, 78 configuration missing or invalid (do not restart blindly).
 */
import { loadConfig, configDir, ConfigError, readToken, saveConfig, writeToken } from './lib/config.mjs';
import { ApiError, NodeApi, Unreachable } from './lib/api.mjs';
import { NodeAgent, AGENT_VERSION } from './lib/agent.mjs';
import { discover } from './lib/stores.mjs';
import { join, relative } from 'node:path';
import { log } from './lib/log.mjs';

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 64, NOPERM: 77, CONFIG: 78 };

class UsageError extends Error {}

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const o = { command };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--api') o.api = value();
    else if (a === '--code') o.code = value();
    else if (a === '--org') o.org = Number(value());
    else if (a === '--config-dir') o.configDir = value();
    else if (a === '--launch-hook') o.launchHook = value();
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new UsageError(`unknown argument ${a}`);
  }
  return o;
}

const HELP = `edgeplane-node ${AGENT_VERSION}
  enroll --api URL --code XXXX-XXXX [--org ORG_ID] [--config-dir DIR] [--launch-hook CMD]
  run [--config-dir DIR]
  scan [--config-dir DIR]
See agents/node/README.md.`;

async function enroll(o) {
  if (!o.api || !o.code) throw new UsageError('enroll needs --api URL and --code XXXX-XXXX');
  let api;
  try {
    api = new URL(o.api).origin;
  } catch {
    throw new UsageError(`--api ${o.api} is not a URL`);
  }
  const dir = configDir(o.configDir);
  const reply = await new NodeApi({ base: api }).enrol(o.code, o.org);
  const saved = saveConfig(dir, {
    api,
    node_id: reply.node_id,
    org_id: reply.org_id,
    node_name: reply.node_name,
    jwks_url: reply.jwks_url,
    session_token: { issuer: reply.session_token_issuer, audience: reply.session_token_audience, typ: reply.session_token_typ },
    ...(o.launchHook ? { launch_hook: o.launchHook } : {}),
  });
  const cfg = loadConfig(dir);
  writeToken(cfg.token_file, reply.token);
  log.info(`enrolled as node ${reply.node_id} "${reply.node_name}" of org ${reply.org_id}; settings in ${dir}, token in ${cfg.token_file} (owner only)`);
  if (!saved.launch_hook) log.warn(`no launch hook yet: set "launch_hook" in ${join(dir, 'config.json')} (or enrol with --launch-hook) before sessions can run`);
  // The dashboard's command ends at enrolment: say what starts the service, as it was invoked.
  log.info(`next: start the agent with  ${invocation()} run${o.configDir ? ` --config-dir ${dir}` : ''}  (as a service: agents/node/README.md)`);
  return EXIT.OK;
}

/** How this command was typed: `node agents/node/cli.mjs` from a checkout, else the installed name. */
function invocation() {
  const script = process.argv[1] ?? '';
  if (!/cli\.mjs$/.test(script)) return 'edgeplane-node';
  const rel = relative(process.cwd(), script);
  return `node ${rel && !rel.startsWith('..') ? rel : script}`;
}

async function run(o) {
  const cfg = loadConfig(configDir(o.configDir));
  const agent = new NodeAgent(cfg, { token: readToken(cfg.token_file) });
  let stopping = null;
  const stop = (signal) => {
    if (stopping) return;
    log.info(`${signal}: stopping (running launch hooks are stopped and reported)`);
    stopping = agent.stop().then(
      () => process.exit(EXIT.OK),
      (e) => {
        log.error(`stopping failed: ${e.message}`);
        process.exit(EXIT.FAILURE);
      },
    );
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => stop(sig));
  await agent.start();
  await new Promise(() => {}); // the timers keep the process alive until a signal
}

async function scan(o) {
  let libraries = {};
  let executables = {};
  try {
    const cfg = loadConfig(configDir(o.configDir));
    libraries = cfg.libraries;
    executables = cfg.executables;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.warn(`${e.message}; scanning the platform's usual store locations`);
  }
  const found = await discover(libraries, { executables, warn: (m) => log.warn(m) });
  process.stdout.write(JSON.stringify(found, null, 2) + '\n');
  return EXIT.OK;
}

export async function main(argv) {
  let o;
  try {
    o = parseArgs(argv);
    if (o.help || !o.command) {
      process.stdout.write(HELP + '\n');
      return o.help ? EXIT.OK : EXIT.USAGE;
    }
    if (o.command === 'enroll' || o.command === 'enrol') return await enroll(o);
    if (o.command === 'run') return await run(o);
    if (o.command === 'scan') return await scan(o);
    throw new UsageError(`unknown command ${o.command}`);
  } catch (e) {
    if (e instanceof UsageError) {
      log.error(`${e.message}\n${HELP}`);
      return EXIT.USAGE;
    }
    if (e instanceof ConfigError) {
      log.error(e.message);
      return EXIT.CONFIG;
    }
    if (e instanceof ApiError && o?.command?.startsWith('enrol')) {
      log.error(`enrolment refused: ${e.message}`);
      return e.status === 401 || e.status === 403 ? EXIT.NOPERM : EXIT.FAILURE;
    }
    if (e instanceof Unreachable) {
      log.error(`control plane unreachable: ${e.message}`);
      return EXIT.FAILURE;
    }
    log.error(e.stack ?? String(e));
    return EXIT.FAILURE;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
