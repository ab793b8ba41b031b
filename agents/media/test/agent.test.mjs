// The media agent (agents/media) on real files it finds in a temp directory, against a local HTTP
// double of the ingest API (./ingest-double.mjs, same contract as the Worker's). The crash test
// runs the real CLI as a child process and kills it with SIGKILL in the middle of an upload.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent } from '../lib/agent.mjs';
import { bandwidthLimiter } from '../lib/files.mjs';
import { recorderLine, segmentLifecycle } from '../../../tools/recorder-events.mjs';
import { startIngestDouble } from './ingest-double.mjs';

const CLI = fileURLToPath(new URL('../cli.mjs', import.meta.url));
const KiB = 1024;
let api;
let root;
let dir;
let stateDir;
let events;
let lines;

const bytesOf = (size, seed) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + seed) & 0xff));
async function segment(rel, size, seed = 1) {
  const p = join(dir, ...rel.split('/'));
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, bytesOf(size, seed));
  return p;
}
const exists = (p) => stat(p).then(() => true, () => false);
const agentWith = (extra = {}) =>
  createAgent({ server: api.url, credential: api.credential, dir, stateDir, eventsFile: events, recorderRoot: '/data/recordings', partSize: 64 * KiB, ffmpeg: '/nonexistent/ffmpeg', ffprobe: '/nonexistent/ffprobe', log: (msg, f) => lines.push({ msg, ...f }), ...extra });

beforeEach(async () => {
  api = await startIngestDouble();
  root = await mkdtemp(join(tmpdir(), 'media-agent-'));
  dir = join(root, 'recordings');
  stateDir = join(root, 'state');
  events = join(root, 'events.jsonl');
  lines = [];
  await mkdir(dir, { recursive: true });
  await writeFile(events, '');
});
afterEach(async () => {
  await api.close();
  await rm(root, { recursive: true, force: true });
});

describe('finished segments', () => {
  it('uploads a segment named by SEGMENT FINISH and deletes it only after the server confirmed', async () => {
    const p = await segment('chaturbate/alice/S/S_00000.ts', 200 * KiB);
    const original = await readFile(p);
    await appendFile(events, segmentLifecycle({ dir: '/data/recordings/chaturbate/alice', session: 'S', segments: 1, bytes: 200 * KiB }).join('\n') + '\n');
    const { failures } = await agentWith().runOnce();
    expect(failures).toEqual([]);
    expect(api.objects.get('recordings/chaturbate/alice/S/S_00000.ts').bytes.equals(original)).toBe(true);
    expect(await exists(p)).toBe(false);
    const puts = api.log.filter((l) => l.method === 'PUT');
    expect(puts.map((l) => l.part)).toEqual([1, 2, 3, 4]);
  });

  it('uploads several finished segments two at a time without a failed save in between', async () => {
    const originals = [];
    for (let i = 0; i < 6; i++) {
      const p = await segment(`chaturbate/alice/S/S_0000${i}.ts`, 96 * KiB, i + 1);
      originals.push(await readFile(p));
    }
    await appendFile(events, segmentLifecycle({ dir: '/data/recordings/chaturbate/alice', session: 'S', segments: 6, bytes: 96 * KiB }).join('\n') + '\n');
    const { failures } = await agentWith({ concurrency: 2 }).runOnce();
    expect(failures).toEqual([]);
    expect(lines.filter((l) => l.msg === 'upload failed; will retry')).toEqual([]);
    originals.forEach((bytes, i) => expect(api.objects.get(`recordings/chaturbate/alice/S/S_0000${i}.ts`).bytes.equals(bytes)).toBe(true));
    expect(JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')).files).toBeTypeOf('object');
  });

  it('leaves a file that is still being written (no FINISH, recently modified) alone', async () => {
    const p = await segment('chaturbate/alice/S/S_00001.ts', 10 * KiB);
    await agentWith({ stableSeconds: 3600 }).runOnce();
    await agentWith({ stableSeconds: 3600 }).runOnce();
    expect(api.objects.size).toBe(0);
    expect(await exists(p)).toBe(true);
  });

  it('uploads, as a safety net, a file unchanged for stable-seconds across two scans', async () => {
    const p = await segment('stripchat/zed/T/T_00000.ts', 10 * KiB);
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(p, old, old);
    const agent = agentWith({ stableSeconds: 60 });
    await agent.runOnce();
    expect(api.objects.size).toBe(0); // seen once: not yet known to be stable
    await agent.runOnce();
    expect(api.objects.has('recordings/stripchat/zed/T/T_00000.ts')).toBe(true);
    expect(await exists(p)).toBe(false);
  });

  it('keeps the local copy when the server does not confirm, and finishes on the next pass', async () => {
    const p = await segment('chaturbate/alice/S/S_00002.ts', 100 * KiB);
    await appendFile(events, recorderLine('SEGMENT FINISH', { file: '/data/recordings/chaturbate/alice/S/S_00002.ts', segment: '2', recording: '0', duration: '00:00:10', size: '100.0KB', trigger: 'split' }) + '\n');
    api.faults.completeStatus = 502;
    const first = await agentWith().runOnce();
    expect(first.failures).toEqual([p]);
    expect(await exists(p)).toBe(true);
    api.faults.completeStatus = 0;
    const putsBefore = api.log.filter((l) => l.method === 'PUT').length;
    await agentWith().runOnce();
    expect(api.log.filter((l) => l.method === 'PUT').length).toBe(putsBefore); // every part was already held
    expect(api.objects.has('recordings/chaturbate/alice/S/S_00002.ts')).toBe(true);
    expect(await exists(p)).toBe(false);
  });

  it('keeps local copies for keep-hours after the upload', async () => {
    const p = await segment('chaturbate/alice/S/S_00003.ts', 10 * KiB);
    await appendFile(events, recorderLine('SEGMENT FINISH', { file: '/data/recordings/chaturbate/alice/S/S_00003.ts', segment: '3', recording: '0', duration: '00:00:01', size: '10.0KB', trigger: 'split' }) + '\n');
    await agentWith({ keepHours: 24 }).runOnce();
    expect(api.objects.has('recordings/chaturbate/alice/S/S_00003.ts')).toBe(true);
    expect(await exists(p)).toBe(true);
    await agentWith({ keepHours: 24 }).runOnce();
    expect(api.log.filter((l) => l.method === 'POST' && l.path === '/api/ingest/uploads')).toHaveLength(1);
  });

  it('skips the thumbnail with a log line when ffmpeg is absent', async () => {
    await segment('chaturbate/alice/S/S_00004.ts', 10 * KiB);
    await appendFile(events, recorderLine('SEGMENT FINISH', { file: '/data/recordings/chaturbate/alice/S/S_00004.ts', segment: '4', recording: '0', duration: '00:00:01', size: '10.0KB', trigger: 'split' }) + '\n');
    await agentWith().runOnce();
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'thumbnail skipped', why: '/nonexistent/ffprobe not available' }));
    expect([...api.objects.keys()].some((k) => k.startsWith('thumbnails/'))).toBe(false);
  });
});

describe('sources filter', () => {
  it('uploads only the configured sources and leaves the others alone', async () => {
    const mine = await segment('chaturbate/alice/S/S_00006.ts', 10 * KiB);
    const other = await segment('stripchat/zed/T/T_00006.ts', 10 * KiB);
    for (const file of ['/data/recordings/chaturbate/alice/S/S_00006.ts', '/data/recordings/stripchat/zed/T/T_00006.ts']) {
      await appendFile(events, recorderLine('SEGMENT FINISH', { file, segment: '6', recording: '0', duration: '00:00:01', size: '10.0KB', trigger: 'split' }) + '\n');
    }
    const agent = agentWith({ sources: ['chaturbate/alice'] });
    expect((await agent.runOnce()).failures).toEqual([]);
    expect([...api.objects.keys()]).toEqual(['recordings/chaturbate/alice/S/S_00006.ts']);
    expect(await exists(mine)).toBe(false);
    expect(await exists(other)).toBe(true);
    expect(Object.keys(agent.state().files)).not.toContain(other);
  });
});

describe('crash and restart', () => {
  it('loses nothing and re-sends only the parts the server does not hold after a SIGKILL mid-upload', async () => {
    const p = await segment('chaturbate/alice/S/S_00005.ts', 640 * KiB, 9);
    const original = await readFile(p);
    await appendFile(events, recorderLine('SEGMENT FINISH', { file: '/data/recordings/chaturbate/alice/S/S_00005.ts', segment: '5', recording: '0', duration: '00:00:30', size: '640.0KB', trigger: 'split' }) + '\n');
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'credential.json'), JSON.stringify({ server: api.url, credential: api.credential }));
    const args = ['run', '--once', '--dir', dir, '--events', events, '--state-dir', stateDir, '--part-size', '64K', '--bandwidth', '256K', '--no-thumbnails'];
    // 10 parts at 256 KiB/s: about 2.5 s; kill it once three parts are in.
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
    for (let i = 0; i < 400 && api.log.filter((l) => l.method === 'PUT' && l.status === 200).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const held = api.log.filter((l) => l.method === 'PUT' && l.status === 200).map((l) => l.part);
    expect(held.length).toBeGreaterThanOrEqual(3);
    expect(held.length).toBeLessThan(10);
    expect(await exists(p)).toBe(true);
    expect(api.objects.size).toBe(0);

    const restart = spawn(process.execPath, [CLI, ...args.filter((a) => a !== '256K' && a !== '--bandwidth')], { stdio: 'ignore' });
    expect(await new Promise((r) => restart.once('exit', r))).toBe(0);
    const after = api.log.filter((l) => l.method === 'PUT' && l.status === 200).map((l) => l.part);
    const resent = after.slice(held.length);
    expect(resent.filter((n) => held.includes(n))).toEqual([]); // no part sent twice
    expect([...new Set(after)].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(api.uploads.size).toBe(1); // the same upload, resumed
    expect(api.objects.get('recordings/chaturbate/alice/S/S_00005.ts').bytes.equals(original)).toBe(true);
    expect(await exists(p)).toBe(false);
  });
});

describe('stopping', () => {
  const finish = async (rels) => {
    for (const rel of rels) await appendFile(events, recorderLine('SEGMENT FINISH', { file: `/data/recordings/${rel}`, segment: '0', recording: '0', duration: '00:00:30', size: '640.0KB', trigger: 'split' }) + '\n');
  };
  const okParts = () => api.log.filter((l) => l.method === 'PUT' && l.status === 200).map((l) => l.part);
  /** The part numbers the server accepted for one upload, in order (a part sent twice shows twice). */
  const partsOf = (id) => api.log.filter((l) => l.method === 'PUT' && l.status === 200 && l.path.includes(`/${id}/`)).map((l) => l.part).sort((a, b) => a - b);
  const opened = () => api.log.filter((l) => l.method === 'POST' && l.path === '/api/ingest/uploads');
  const until = async (fn, ms = 10_000) => {
    for (const end = Date.now() + ms; !fn(); ) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('starts no new upload after the stop, leaves the one under way to resume, and returns at once', async () => {
    const rels = ['chaturbate/alice/S/S_00010.ts', 'chaturbate/alice/S/S_00011.ts', 'chaturbate/alice/S/S_00012.ts'];
    const paths = [];
    for (const [i, rel] of rels.entries()) paths.push(await segment(rel, 640 * KiB, 20 + i));
    const originals = await Promise.all(paths.map((p) => readFile(p)));
    await finish(rels);
    const stop = new AbortController();
    // One at a time, ten 64 KiB parts each at 256 KiB/s: ~2.5 s a file.
    const running = agentWith({ concurrency: 1, bandwidth: 256 * KiB, thumbnails: false }).run(stop.signal);
    await until(() => okParts().length >= 2);
    stop.abort();
    const t0 = Date.now();
    await running;
    expect(Date.now() - t0).toBeLessThan(2500); // about one part's transfer (250 ms), not the rest of the file (2 s)
    expect(opened()).toHaveLength(1); // the second and third files were never started
    expect(okParts().length).toBeLessThan(10);
    expect(api.objects.size).toBe(0);
    for (const p of paths) expect(await exists(p)).toBe(true); // nothing deleted without a stored object
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'stopping: left to resume at the next start', file: paths[0] }));
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
    const saved = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    expect(saved.files[paths[0]].uploadId).toMatch(/./);

    // The next start resumes the open upload (no part sent twice) and does the other two.
    const { failures } = await agentWith({ thumbnails: false }).runOnce();
    expect(failures).toEqual([]);
    expect(partsOf(saved.files[paths[0]].uploadId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // each once
    expect(api.uploads.size).toBe(3);
    rels.forEach((rel, i) => expect(api.objects.get(`recordings/${rel}`).bytes.equals(originals[i])).toBe(true));
    for (const p of paths) expect(await exists(p)).toBe(false);
  });

  it('kills a remux in progress on the stop, uploads nothing in its place, and remuxes again next start', async () => {
    const p = await segment('chaturbate/alice/S/S_00013.ts', 64 * KiB, 31);
    await finish(['chaturbate/alice/S/S_00013.ts']);
    // An ffmpeg that takes its time (a minute) and says when it started: the remux under way.
    const started = join(root, 'ffmpeg-started');
    const slow = join(root, 'slow-ffmpeg.mjs');
    await writeFile(slow, `#!${process.execPath}\nimport { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(started)}, String(process.pid));\nsetTimeout(() => {}, 60_000);\n`, { mode: 0o755 });
    const stop = new AbortController();
    const running = agentWith({ remux: true, ffmpeg: slow, thumbnails: false }).run(stop.signal);
    await until(() => existsSync(started));
    const pid = Number(await readFile(started, 'utf8'));
    stop.abort();
    const t0 = Date.now();
    await running;
    expect(Date.now() - t0).toBeLessThan(2500); // not the minute the ffmpeg would take
    expect(() => process.kill(pid, 0)).toThrow(); // the ffmpeg is gone
    expect(opened()).toHaveLength(0); // the .ts was not uploaded instead of its .mp4
    expect(await exists(p)).toBe(true);
    const remuxDir = join(stateDir, 'remux');
    expect((await readdir(remuxDir).catch(() => [])).filter((f) => f.endsWith('.part'))).toEqual([]);
    // Next start (no ffmpeg here now): the file is still known as finished and goes up as it is.
    expect((await agentWith({ remux: true, thumbnails: false }).runOnce()).failures).toEqual([]);
    expect(api.objects.has('recordings/chaturbate/alice/S/S_00013.ts')).toBe(true);
  });

  it('exits on SIGTERM after the part in flight, and the next start finishes the upload', async () => {
    const p = await segment('chaturbate/alice/S/S_00014.ts', 640 * KiB, 41);
    const q = await segment('chaturbate/alice/S/S_00015.ts', 640 * KiB, 42);
    const original = await readFile(p);
    await finish(['chaturbate/alice/S/S_00014.ts', 'chaturbate/alice/S/S_00015.ts']);
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'credential.json'), JSON.stringify({ server: api.url, credential: api.credential }));
    const args = ['run', '--dir', dir, '--events', events, '--state-dir', stateDir, '--part-size', '64K', '--concurrency', '1', '--no-thumbnails'];
    const child = spawn(process.execPath, [CLI, ...args, '--bandwidth', '256K'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    await until(() => okParts().length >= 3);
    child.kill('SIGTERM');
    const t0 = Date.now();
    expect(await exited).toEqual({ code: 0, signal: null }); // it exited by itself, not by the signal
    expect(Date.now() - t0).toBeLessThan(5000); // the rest of the file would take 2 s more, the next file 2.5 s
    const held = okParts();
    expect(held.length).toBeLessThan(10);
    expect(opened()).toHaveLength(1);
    expect(await exists(p)).toBe(true);
    expect(await exists(q)).toBe(true);
    const { uploadId } = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')).files[p];

    const again = spawn(process.execPath, [CLI, ...args, '--once'], { stdio: 'ignore' });
    expect(await new Promise((r) => again.once('exit', r))).toBe(0);
    expect(partsOf(uploadId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // each once: resumed, not restarted
    expect(api.objects.get('recordings/chaturbate/alice/S/S_00014.ts').bytes.equals(original)).toBe(true);
    expect(api.objects.has('recordings/chaturbate/alice/S/S_00015.ts')).toBe(true);
  });
});

describe('cli', () => {
  it('enrolls with a code and stores the credential readable only by its owner', async () => {
    const child = spawn(process.execPath, [CLI, 'enroll', '--server', api.url, '--code', api.code, '--state-dir', stateDir], { stdio: 'ignore' });
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
    const file = join(stateDir, 'credential.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ server: api.url, credential: api.credential });
    expect((await stat(file)).mode & 0o077).toBe(0);
  });
});

describe('bandwidth limit', () => {
  it('spaces transfers so the average stays under the limit', async () => {
    let now = 0;
    const slept = [];
    const limiter = bandwidthLimiter(1000, { now: () => now, sleep: async (ms) => (slept.push(ms), (now += ms)) });
    await limiter.take(500);
    await limiter.take(500);
    await limiter.take(1000);
    expect(now).toBe(1000);
    expect(slept).toEqual([500, 500]);
  });
});
