// The media agent's ffmpeg work, for real (CI installs Debian's ffmpeg next to Chromium): the
// thumbnail is the frame at 10 % of the segment, a JPEG 320 px wide; the `.ts` → `.mp4` remux keeps
// the streams as they are and puts the moov atom first (faststart); and an agent run with --remux
// uploads the .mp4 in the .ts's name (`remuxed_from`), resumes it after a SIGKILL without re-sending a
// part, and leaves neither the .ts nor its .mp4 behind.
import { spawn, spawnSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAgent } from '../lib/agent.mjs';
import { makeThumbnail, remuxFaststart } from '../lib/files.mjs';
import { recorderLine } from '../../../tools/recorder-events.mjs';
import { startIngestDouble } from './ingest-double.mjs';

const CLI = fileURLToPath(new URL('../cli.mjs', import.meta.url));
let work;
let clip; // 10 s: red for 0.5 s, green until 1.5 s, blue after; H.264 + AAC in MPEG-TS

function ff(args) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}
function probe(file, entries) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', entries, '-of', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
/** The average colour of the middle of an image, as [r, g, b]. */
function middleColour(file) {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-vf', 'crop=iw/4:ih/4,scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1024 });
  return [...r.stdout];
}
/** Top-level MP4 box types, in file order. */
function boxes(buf) {
  const out = [];
  for (let o = 0; o + 8 <= buf.length; ) {
    let size = buf.readUInt32BE(o);
    const type = buf.toString('latin1', o + 4, o + 8);
    if (size === 1) size = Number(buf.readBigUInt64BE(o + 8));
    out.push(type);
    if (size < 8) break;
    o += size;
  }
  return out;
}

beforeAll(async () => {
  if (spawnSync('ffmpeg', ['-version']).status !== 0 || spawnSync('ffprobe', ['-version']).status !== 0) {
    throw new Error('these tests need ffmpeg and ffprobe (Debian: apt-get install -y ffmpeg; CI installs them)');
  }
  work = await mkdtemp(join(tmpdir(), 'media-agent-ffmpeg-'));
  clip = join(work, 'clip.ts');
  ff([
    '-f', 'lavfi', '-i', 'color=c=red:s=640x360:r=25:d=0.5', '-f', 'lavfi', '-i', 'color=c=green:s=640x360:r=25:d=1', '-f', 'lavfi', '-i', 'color=c=blue:s=640x360:r=25:d=8.5',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=10',
    '-filter_complex', '[0][1][2]concat=n=3:v=1:a=0[v]', '-map', '[v]', '-map', '3:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', clip,
  ]);
});
afterAll(async () => work && rm(work, { recursive: true, force: true }));

describe('thumbnail', () => {
  it('is a 320 px wide JPEG of the frame at 10 % of the segment', async () => {
    const out = join(work, 'thumb.jpg');
    expect(await makeThumbnail('ffmpeg', 'ffprobe', clip, out)).toEqual({ ok: true });
    const bytes = await readFile(out);
    expect([bytes[0], bytes[1], bytes[2]]).toEqual([0xff, 0xd8, 0xff]);
    const [v] = probe(out, 'stream=codec_name,width,height').streams;
    expect(v).toMatchObject({ codec_name: 'mjpeg', width: 320, height: 180 });
    // 10 % of 10 s is 1 s: the green part (red before 0.5 s, blue after 1.5 s).
    const [r, g, b] = middleColour(out);
    expect(g).toBeGreaterThan(100);
    expect(r).toBeLessThan(60);
    expect(b).toBeLessThan(60);
  });

  it('reports why when ffmpeg fails on a file that is not video', async () => {
    const junk = join(work, 'junk.ts');
    await writeFile(junk, Buffer.alloc(4096, 7));
    const r = await makeThumbnail('ffmpeg', 'ffprobe', junk, join(work, 'junk.jpg'));
    expect(r.ok).toBe(false);
    expect(r.why).toMatch(/^ffmpeg exited/);
  });
});

describe('remux', () => {
  it('turns the .ts into an .mp4 with the same streams and the moov atom before the media', async () => {
    const out = join(work, 'clip.mp4');
    expect(await remuxFaststart('ffmpeg', clip, out)).toEqual({ ok: true });
    const info = probe(out, 'format=format_name,duration:stream=codec_name');
    expect(info.format.format_name).toMatch(/mp4/);
    expect(Number(info.format.duration)).toBeGreaterThan(9.5);
    expect(Number(info.format.duration)).toBeLessThan(10.5);
    expect(info.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const order = boxes(await readFile(out));
    expect(order.indexOf('moov')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('moov')).toBeLessThan(order.indexOf('mdat'));
  });
});

describe('an agent run with --remux', () => {
  let api;
  let root;
  let dir;
  let stateDir;
  let events;
  const rel = 'S/S_00000.ts';
  const recorderFile = `/data/recordings/chaturbate/alice/${rel}`;

  beforeEach(async () => {
    api = await startIngestDouble();
    root = await mkdtemp(join(work, 'run-'));
    dir = join(root, 'recordings');
    stateDir = join(root, 'state');
    events = join(root, 'events.jsonl');
    await mkdir(join(dir, 'chaturbate', 'alice', 'S'), { recursive: true });
    await writeFile(join(dir, 'chaturbate', 'alice', rel), await readFile(clip));
    await writeFile(events, recorderLine('SEGMENT FINISH', { file: recorderFile, segment: '0', recording: '0', duration: '00:00:10', size: '1.0MB', trigger: 'stream_end' }) + '\n');
  });
  afterEach(async () => api.close());

  it('uploads the .mp4 in place of the .ts, with its thumbnail, and leaves nothing behind', async () => {
    const lines = [];
    const agent = createAgent({ server: api.url, credential: api.credential, dir, stateDir, eventsFile: events, partSize: 64 * 1024, remux: true, log: (msg, f) => lines.push({ msg, ...f }) });
    expect((await agent.runOnce()).failures).toEqual([]);
    const created = api.log.find((l) => l.method === 'POST' && l.path === '/api/ingest/uploads' && l.body.kind === 'segment');
    expect(created.body).toMatchObject({ path: 'S/S_00000.mp4', remuxed_from: 'S/S_00000.ts' });
    const stored = api.objects.get('recordings/chaturbate/alice/S/S_00000.mp4');
    const order = boxes(stored.bytes);
    expect(order[0]).toBe('ftyp');
    expect(order.indexOf('moov')).toBeLessThan(order.indexOf('mdat'));
    const thumb = api.objects.get('thumbnails/chaturbate/alice/S/S_00000.jpg');
    expect([thumb.bytes[0], thumb.bytes[1]]).toEqual([0xff, 0xd8]);
    expect(api.objects.has('recordings/chaturbate/alice/S/S_00000.ts')).toBe(false);
    await expect(stat(join(dir, 'chaturbate', 'alice', rel))).rejects.toThrow();
    expect(await readdir(join(stateDir, 'remux'))).toEqual([]);
  });

  it('resumes the same .mp4 after a SIGKILL mid-upload: no part is sent twice', async () => {
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'credential.json'), JSON.stringify({ server: api.url, credential: api.credential }));
    const args = ['run', '--once', '--remux', '--no-thumbnails', '--dir', dir, '--events', events, '--state-dir', stateDir, '--part-size', '64K'];
    const child = spawn(process.execPath, [CLI, ...args, '--bandwidth', '256K'], { stdio: 'ignore' });
    const held = () => api.log.filter((l) => l.method === 'PUT' && l.status === 200).map((l) => l.part);
    for (let i = 0; i < 1000 && held().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = held();
    expect(before.length).toBeGreaterThanOrEqual(2);
    const restart = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
    expect(await new Promise((r) => restart.once('exit', r))).toBe(0);
    const after = held();
    expect(after.slice(before.length).filter((n) => before.includes(n))).toEqual([]);
    expect(api.uploads.size).toBe(1);
    const stored = api.objects.get('recordings/chaturbate/alice/S/S_00000.mp4');
    const copy = join(root, 'stored.mp4');
    await writeFile(copy, stored.bytes);
    expect(Number(probe(copy, 'format=duration').format.duration)).toBeGreaterThan(9.5);
  });
});
