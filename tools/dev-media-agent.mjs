// The local demo's media agent: the REAL agent (agents/media/cli.mjs run) uploading what the
// development overseer's simulated recorders write under <persistTo>/recordings, so recordings
// reach the local R2 bucket and the dashboard lists, plays and previews them. Not deployed. Used by
// `npm start` through tools/stack.mjs (`mediaAgent: true`):
//
//   const media = await startDemoMediaAgent({ url, persistTo, credentials, env, stdio });
//   media.child, media.hostId, media.reused
//
// The host is enrolled once, as an admin would (docs/dvr.md "Recordings reach R2"):
// POST /api/admin/ingest/hosts answers a one-time code, `cli.mjs enroll` trades it for the host
// credential, kept in <persistTo>/demo-media-agent/credential.json (0600, written by the agent;
// local only, like the node token). A later start reuses that host while the API still lists it as
// enrolled; only when it is gone (state wiped, host revoked) is a new one enrolled and the stale one
// revoked.
//
// Run it by hand against a running `npm start`:
//   node agents/media/cli.mjs run --state-dir .wrangler/state/demo-media-agent \
//     --dir .wrangler/state/recordings --events .wrangler/state/recordings/.recorder-events.jsonl --remux
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { api } from './seed.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'agents', 'media', 'cli.mjs');
export const HOST_NAME = 'demo-recorder';

/** ffmpeg and ffprobe both answer: the agent then makes thumbnails itself; `--remux` needs ffmpeg. */
export const hasFfmpeg = (env = process.env) =>
  ['ffmpeg', 'ffprobe'].every((p) => spawnSync(p, ['-version'], { env, stdio: 'ignore' }).status === 0);

const call = (url, method, path, token, body) => api(url, method, path, { token, body });

/** The saved host of an earlier start, or null (never enrolled here, or the file is unreadable). */
export function savedHost(stateDir) {
  try {
    const saved = JSON.parse(readFileSync(join(stateDir, 'credential.json'), 'utf8'));
    return typeof saved.credential === 'string' && Number.isInteger(saved.host_id) ? saved : null;
  } catch {
    return null;
  }
}

/**
 * Makes sure the host in `stateDir` is enrolled against `url`: reuses the saved one while the admin
 * API lists it as `enrolled`, else registers a host and enrols it with the agent's own `enroll`.
 * Returns {hostId, reused}.
 */
export async function ensureMediaHost({ url, adminToken, stateDir, env = process.env }) {
  const saved = savedHost(stateDir);
  const hosts = await call(url, 'GET', '/api/admin/ingest/hosts', adminToken);
  if (!hosts.ok) throw new Error(`listing ingest hosts answered ${hosts.status} ${hosts.data?.error ?? ''}`);
  const list = Array.isArray(hosts.data?.hosts) ? hosts.data.hosts : [];
  if (saved && list.some((h) => h.id === saved.host_id && h.state === 'enrolled')) return { hostId: saved.host_id, reused: true };
  // The saved credential no longer works (its host was revoked): revoke it for good measure so the
  // hosts list shows one live demo recorder.
  if (saved && list.some((h) => h.id === saved.host_id && h.state !== 'revoked')) await call(url, 'DELETE', `/api/admin/ingest/hosts/${saved.host_id}`, adminToken);
  // Host names are unique and a revoked host keeps its name: the plain name first, then a dated one.
  let made = await call(url, 'POST', '/api/admin/ingest/hosts', adminToken, { name: HOST_NAME });
  if (made.status === 409) made = await call(url, 'POST', '/api/admin/ingest/hosts', adminToken, { name: `${HOST_NAME}-${Date.now().toString(36)}` });
  if (!made.ok || !made.data?.enrolment_code) throw new Error(`registering the demo recorder host answered ${made.status} ${made.data?.error ?? ''}`);
  mkdirSync(stateDir, { recursive: true });
  const enrol = spawnSync(process.execPath, [CLI, 'enroll', '--server', url, '--code', made.data.enrolment_code, '--state-dir', stateDir], { cwd: ROOT, env, encoding: 'utf8' });
  if (enrol.status !== 0) throw new Error(`media agent enrolment failed: ${enrol.stderr || enrol.stdout}`);
  return { hostId: made.data.id, reused: false };
}

/** The `cli.mjs run` arguments of the demo agent. */
export function mediaAgentArgs({ url, persistTo, ffmpeg }) {
  const recordings = join(persistTo, 'recordings');
  return [
    CLI, 'run',
    '--server', url, // the port may differ from the one the host was enrolled with
    '--state-dir', join(persistTo, 'demo-media-agent'),
    '--dir', recordings,
    '--events', join(recordings, '.recorder-events.jsonl'),
    // A demo wants files in the dashboard soon after their SEGMENT FINISH (the events are the signal).
    '--scan-seconds', '3',
    ...(ffmpeg ? ['--remux'] : []),
  ];
}

/**
 * Enrols (or reuses) the demo recorder host with the seeded admin, then starts the real agent.
 * Returns {child, hostId, reused, ffmpeg}, or null when the seed has no admin (accounts made elsewhere).
 */
export async function startDemoMediaAgent({ url, persistTo, credentials, env = process.env, stdio = ['ignore', 'inherit', 'inherit'] }) {
  if (!credentials?.admin) return null;
  const login = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(credentials.admin) }).then((r) => r.json());
  if (!login?.token) return null;
  const stateDir = join(persistTo, 'demo-media-agent');
  const { hostId, reused } = await ensureMediaHost({ url, adminToken: login.token, stateDir, env });
  // The overseer creates it too; the agent only reads it, but `--dir` must exist for its first scan.
  mkdirSync(join(persistTo, 'recordings'), { recursive: true });
  const ffmpeg = hasFfmpeg(env);
  const child = spawn(process.execPath, mediaAgentArgs({ url, persistTo, ffmpeg }), { cwd: ROOT, env, stdio });
  return { child, hostId, reused, ffmpeg, stateDir };
}
