#!/usr/bin/env node
// The media agent's command line (issue 16). Node >= 20, no build step, no dependencies.
//
//   node agents/media/cli.mjs enroll --server https://dvr.example --code <enrolment code> [--state-dir DIR]
//   node agents/media/cli.mjs run --dir /data/recordings [--events /var/log/recorder-events.jsonl]
//        [--state-dir DIR] [--stable-seconds 120] [--scan-seconds 10] [--concurrency 2]
//        [--bandwidth 10M] [--part-size 8M] [--keep-hours 0] [--no-thumbnails] [--remux]
//        [--ffmpeg ffmpeg] [--ffprobe ffprobe] [--recorder-root /data/recordings] [--sources d/u,…] [--once]
//
// `enroll` stores the server URL and the host credential in {state-dir}/credential.json (mode
// 0600); `run` reads them from there (or MEDIA_AGENT_SERVER / MEDIA_AGENT_CREDENTIAL).
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgent, DEFAULTS } from './lib/agent.mjs';
import { ingestClient } from './lib/ingest-client.mjs';

const [command, ...rest] = process.argv.slice(2);
const flags = {};
for (let i = 0; i < rest.length; i++) {
  const a = rest[i];
  if (!a.startsWith('--')) continue;
  const name = a.slice(2);
  if (rest[i + 1] === undefined || rest[i + 1].startsWith('--')) flags[name] = true;
  else flags[name] = rest[++i];
}

/** `10M`, `512K`, `1G` (binary multiples) or plain bytes. */
function bytes(v, dflt) {
  if (v === undefined) return dflt;
  const m = /^([0-9.]+)\s*([KMG]?)i?B?$/i.exec(String(v));
  if (!m) throw new Error(`not a size: ${v}`);
  return Math.round(Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()]);
}
const num = (v, dflt) => (v === undefined ? dflt : Number(v));
const stateDir = flags['state-dir'] ?? process.env.MEDIA_AGENT_STATE_DIR ?? join(process.cwd(), '.media-agent');
const credentialFile = join(stateDir, 'credential.json');

async function main() {
  if (command === 'enroll') {
    if (!flags.server || !flags.code) throw new Error('enroll needs --server and --code');
    const res = await ingestClient({ server: flags.server }).enroll(flags.code);
    await mkdir(stateDir, { recursive: true });
    await writeFile(credentialFile, JSON.stringify({ server: flags.server, host_id: res.host_id, name: res.name, credential: res.credential }), { mode: 0o600 });
    await chmod(credentialFile, 0o600);
    console.log(`enrolled as ${res.name} (host ${res.host_id}); credential stored in ${credentialFile}`);
    return;
  }
  if (command === 'run') {
    let saved = {};
    try {
      saved = JSON.parse(await readFile(credentialFile, 'utf8'));
    } catch {
      // Not enrolled here: the environment may carry the credential instead.
    }
    const server = flags.server ?? process.env.MEDIA_AGENT_SERVER ?? saved.server;
    const credential = process.env.MEDIA_AGENT_CREDENTIAL ?? saved.credential;
    if (!server || !credential) throw new Error(`not enrolled: run "enroll" first (looked in ${credentialFile})`);
    if (!flags.dir) throw new Error('run needs --dir (the recordings directory)');
    const agent = createAgent({
      server,
      credential,
      dir: flags.dir,
      stateDir,
      eventsFile: flags.events,
      stableSeconds: num(flags['stable-seconds'], DEFAULTS.stableSeconds),
      scanSeconds: num(flags['scan-seconds'], DEFAULTS.scanSeconds),
      concurrency: num(flags.concurrency, DEFAULTS.concurrency),
      bandwidth: bytes(flags.bandwidth, DEFAULTS.bandwidth),
      partSize: bytes(flags['part-size'], DEFAULTS.partSize),
      keepHours: num(flags['keep-hours'], DEFAULTS.keepHours),
      thumbnails: !flags['no-thumbnails'],
      remux: Boolean(flags.remux),
      ffmpeg: flags.ffmpeg ?? DEFAULTS.ffmpeg,
      ffprobe: flags.ffprobe ?? DEFAULTS.ffprobe,
      recorderRoot: flags['recorder-root'] ?? DEFAULTS.recorderRoot,
      sources: typeof flags.sources === 'string' ? flags.sources.split(',').map((x) => x.trim()).filter(Boolean) : DEFAULTS.sources,
    });
    // SIGTERM/SIGINT: finish the part in flight, start nothing new, exit (the rest resumes next start).
    const stop = new AbortController();
    process.on('SIGINT', () => stop.abort());
    process.on('SIGTERM', () => stop.abort());
    if (flags.once) {
      const { failures } = await agent.runOnce(stop.signal);
      process.exitCode = failures.length ? 1 : 0;
      return;
    }
    await agent.run(stop.signal);
    return;
  }
  console.error('usage: cli.mjs enroll --server URL --code CODE | run --dir DIR [options] (see agents/media/README.md)');
  process.exitCode = 2;
}

main().catch((e) => {
  console.error(JSON.stringify({ ts: new Date().toISOString(), msg: 'fatal', error: String(e?.message ?? e) }));
  process.exitCode = 1;
});
