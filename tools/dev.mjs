// `npm start`: the whole product on http://localhost:8787 with local D1/R2/DOs, migrated and
// seeded (idempotently), secrets generated into .dev.vars when missing; the development overseer's
// simulated recorders, the node agent for the demo node and the media agent that uploads the
// recordings to the local R2 (its demo recorder host enrolled once, reused on later starts); and a
// local Steam double (tools/steam-double.mjs) the Worker's Steam vars point at for this run only, so
// "Link Steam" on the library page works without internet.
//
//   npm start                  start (calm console: failures, slow requests and warnings only)
//   npm start -- --verbose     start with every log line of every process
//   npm start -- --status      print the banner of the stack that is running (or say none is)
//
// PORT and PERSIST_TO let several local stacks run side by side (each with its own state); the
// allowed CORS and dashboard origins follow PORT (or CORS_ORIGINS / DASHBOARD_ORIGINS when set).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, startStack } from './stack.mjs';

const port = Number(process.env.PORT ?? 8787);
const persistTo = process.env.PERSIST_TO || join(ROOT, '.wrangler', 'state');
const stateFile = join(persistTo, 'dev-stack.json');
const args = new Set(process.argv.slice(2));

/** What a person needs once the stack is up; printed last, and again by `--status`. */
function banner({ url, logsDir, credentialsFile, accounts, mediaAgent, steam }) {
  const rel = (p) => (p.startsWith(ROOT) ? relative(ROOT, p) : p);
  const lines = [
    '',
    '  Edgeplane is running.',
    `    dashboard   ${url}/`,
    `    launcher    ${url}/launcher/`,
    `    API docs    ${url}/openapi.json`,
    '',
    `  Demo accounts: ${accounts.length ? accounts.join(', ') : 'none seeded (accounts existed before)'}`,
    `    passwords are kept in ${rel(credentialsFile)} (local only)`,
  ];
  if (mediaAgent) {
    lines.push(
      '',
      `  Recordings: written under ${rel(mediaAgent.recordingsDir)}/, uploaded to the local R2 by the media agent${alive(mediaAgent.pid) ? '' : ' (NOT running: see its log)'}`,
      `    (host ${mediaAgent.hostId}, credential in ${rel(mediaAgent.stateDir)}/; ${mediaAgent.ffmpeg ? 'remuxed to MP4, with thumbnails' : 'no ffmpeg: files as recorded, no thumbnails'})`,
    );
  }
  if (steam) {
    lines.push(
      '',
      `  Steam: a local stand-in at ${steam.url} (no real Steam here). "Link Steam" on the library page`,
      `    signs in as its demo account ${steam.persona}, who owns ${steam.owned.length} games; "Verify Steam games" imports them.`,
    );
  }
  if (logsDir) lines.push(`  Logs of every process: ${rel(logsDir)}/`);
  lines.push('  Stop: Ctrl+C here.  Again later: npm start -- --status', '');
  return lines.join('\n');
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

if (args.has('--status')) {
  const state = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : null;
  const up = state && alive(state.pid) && (await fetch(`${state.url}/health`).then((r) => r.ok, () => false));
  if (!up) {
    console.log(`No local Edgeplane stack is running${state ? ` (the last one was at ${state.url})` : ''}. Start one with: npm start`);
    process.exit(1);
  }
  console.log(banner(state));
  process.exit(0);
}

// CORS_ORIGINS and DASHBOARD_ORIGINS follow PORT (localOriginVars), unless set in the environment.
const vars = Object.fromEntries(['CORS_ORIGINS', 'DASHBOARD_ORIGINS'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
const stack = await startStack({ port, persistTo, calm: !args.has('--verbose'), mediaAgent: true, localOrigins: true, vars, steamDouble: true });
const credentialsFile = join(persistTo, 'demo-credentials.json');
const state = {
  pid: process.pid,
  url: `http://localhost:${stack.port}`,
  logsDir: stack.logsDir,
  credentialsFile,
  mediaAgent: stack.mediaAgent && { ...stack.mediaAgent, recordingsDir: join(persistTo, 'recordings') },
  steam: stack.steam,
  accounts: Object.values(stack.credentials ?? {}).filter((v) => v && typeof v.username === 'string' && typeof v.password === 'string').map((v) => v.username),
};
writeFileSync(stateFile, JSON.stringify(state, null, 2));
console.log(banner(state));

const shutdown = async () => {
  rmSync(stateFile, { force: true });
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
await new Promise(() => {});
