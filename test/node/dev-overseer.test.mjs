// The development overseer's simulated recorder (tools/dev-overseer.mjs, issue 16): it writes real
// media files and prints sticky-recorder's events exactly as the contract gives them — every value a
// string, keys sorted, `time` RFC 3339; segmented mode with heartbeats; single-file mode with SEGMENT
// START and FINISH both after the file is complete; a stop reports the cancelled segment — and it
// appends the same lines to the events file the media agent follows; `--sessions` caps the online
// sessions of a source.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, ROOT } from '../../tools/stack.mjs';

const { WebSocket } = createRequire(import.meta.url)('ws');
const OUT = '/data/recordings/{{.Driver}}/{{.Source}}/{{.Session.Year}}-{{.Session.Month}}-{{.Session.Day}}_{{.Session.Hour}}-{{.Session.Minute}}-{{.Session.Second}}/{{.Recording.Year}}-{{.Recording.Month}}-{{.Recording.Day}}_{{.Recording.Hour}}-{{.Recording.Minute}}-{{.Recording.Second}}';
const HAS_FFMPEG = spawnSync('ffmpeg', ['-version']).status === 0;
let overseer;
let dir;

/** Starts the overseer, connects, sends one start; collects the recorder lines as {line, sizeAtArrival}. */
async function record({ source = 'alice', segmentLength = '5m', extra = [] } = {}) {
  dir = await mkdtemp(join(tmpdir(), 'dev-overseer-'));
  const port = await freePort();
  overseer = spawn(process.execPath, [join(ROOT, 'tools/dev-overseer.mjs'), '--port', String(port), '--quiet', '--speed', '4', '--segment-seconds', '4', '--crash-rate', '0', '--recordings-dir', dir, ...extra], { stdio: 'ignore' });
  let ws;
  for (let i = 0; i < 100 && !ws; i++) {
    ws = await new Promise((res) => {
      const s = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      s.once('open', () => res(s));
      s.once('error', () => setTimeout(() => res(null), 100));
    });
  }
  const lines = [];
  const frames = [];
  ws.on('message', async (data) => {
    const f = JSON.parse(String(data));
    frames.push(f);
    if (f.type !== 'output') return;
    const line = JSON.parse(f.data);
    const entry = { raw: f.data, line, sizeAtArrival: null };
    lines.push(entry);
    if (line.file) entry.sizeAtArrival = await stat(line.file).then((st) => st.size, () => null);
  });
  ws.send(JSON.stringify({ type: 'start', id: 'r1', task_id: '', action: 'chaturbate', params: { source, out: OUT, segment_length: segmentLength, check_interval: '1m', resolution: '720', framerate: '30', cookies: '', user_agent: '', heartbeat_interval: '30s' } }));
  const until = async (pred, ms = 60_000) => {
    for (const end = Date.now() + ms; Date.now() < end; ) {
      if (pred()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out; saw ${lines.map((l) => l.line.event).join(', ')}`);
  };
  return { ws, lines, frames, until, events: () => lines.map((l) => l.line.event) };
}

afterEach(async () => {
  overseer?.kill('SIGTERM');
  await new Promise((r) => (overseer?.exitCode === null ? overseer.once('exit', r) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function expectRecorderFormat(raw) {
  const obj = JSON.parse(raw);
  expect(Object.keys(obj)).toEqual(Object.keys(obj).sort());
  for (const v of Object.values(obj)) expect(typeof v).toBe('string');
  expect(obj.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/);
}

describe('the simulated recorder', () => {
  it('writes real segments and reports them as sticky-recorder does, in segmented mode', async () => {
    const r = await record();
    await r.until(() => r.events().includes('SESSION END'));
    const ev = r.events().slice(0, r.events().indexOf('SESSION END') + 1);
    expect(ev.slice(0, 4)).toEqual(['STARTUP', 'SESSION START', 'RECORDING START', 'SEGMENT START']);
    expect(ev.slice(-2)).toEqual(['RECORDING END', 'SESSION END']);
    for (const l of r.lines) expectRecorderFormat(l.raw);
    const starts = r.lines.filter((l) => l.line.event === 'SEGMENT START');
    const finishes = r.lines.filter((l) => l.line.event === 'SEGMENT FINISH');
    expect(starts.length).toBeGreaterThanOrEqual(3);
    expect(finishes.map((l) => l.line.file)).toEqual(starts.map((l) => l.line.file));
    expect(finishes.map((l) => l.line.trigger)).toEqual([...Array(starts.length - 1).fill('split'), 'stream_end']);
    expect(r.lines.filter((l) => l.line.event === 'HEARTBEAT').length).toBeGreaterThan(0);
    for (const [i, s] of starts.entries()) {
      expect(s.line).toMatchObject({ segment: String(i), recording: '0', target_duration: '4s' });
      // The out pattern, with /data/recordings mapped to the recordings directory.
      expect(s.line.file).toMatch(new RegExp(`^${dir}/chaturbate/alice/\\d{4}-\\d\\d-\\d\\d_\\d\\d-\\d\\d-\\d\\d/\\d{4}-\\d\\d-\\d\\d_\\d\\d-\\d\\d-\\d\\d_0000${i}\\.(ts|mp4)$`));
    }
    for (const f of finishes) {
      expect(f.line.duration).toMatch(/^\d\d:\d\d:\d\d$/);
      expect(f.line.size).toMatch(/^\d+(\.\d)?(B|KB|MB|GB)$/);
      expect((await stat(f.line.file)).size).toBeGreaterThan(1000);
      if (HAS_FFMPEG) {
        const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', f.line.file], { encoding: 'utf8' });
        expect(JSON.parse(probe.stdout).streams.map((x) => x.codec_name).sort()).toEqual(['aac', 'h264']);
      }
    }
    // The events file holds the very same lines, for the media agent.
    const file = (await readFile(join(dir, '.recorder-events.jsonl'), 'utf8')).trim().split('\n');
    expect(file).toEqual(r.lines.map((l) => l.raw));
  });

  it('in single-file mode reports SEGMENT START and FINISH only once the file is complete, without heartbeats', async () => {
    const r = await record({ segmentLength: '0' });
    await r.until(() => r.events().includes('SESSION END'));
    expect(r.events().slice(0, 7)).toEqual(['STARTUP', 'SESSION START', 'RECORDING START', 'SEGMENT START', 'SEGMENT FINISH', 'RECORDING END', 'SESSION END']);
    const start = r.lines.find((l) => l.line.event === 'SEGMENT START');
    expect(start.line).not.toHaveProperty('target_duration');
    expect(start.line.file).toMatch(/\/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.(ts|mp4)$/);
    expect(start.sizeAtArrival).toBe((await stat(start.line.file)).size);
  });

  it('reports a stopped recording as cancelled, then exits intentionally', async () => {
    const r = await record();
    await r.until(() => r.events().includes('SEGMENT START'));
    const { task_id } = r.frames.find((f) => f.type === 'started');
    r.ws.send(JSON.stringify({ type: 'stop', id: 'r2', task_id }));
    await r.until(() => r.frames.some((f) => f.type === 'exited'));
    const ev = r.events();
    expect(ev.slice(-3), ev.join(', ')).toEqual(['SEGMENT FINISH', 'RECORDING END', 'SESSION END']);
    expect(r.lines.at(-3).line.trigger).toBe('cancelled');
    expect(r.lines.at(-2).line.trigger).toBe('cancelled');
    expect(r.frames.find((f) => f.type === 'exited')).toMatchObject({ exit_code: 0, intentional: true });
  });

  it('with --sessions 1 records one session, then only sleeps (as the browser tests run it)', async () => {
    const r = await record({ extra: ['--no-ffmpeg', '--sessions', '1'] });
    await r.until(() => r.events().includes('SESSION END'));
    // Without the limit three in four cycles after a session go online again.
    await r.until(() => r.events().slice(r.events().indexOf('SESSION END')).filter((e) => e === 'SLEEP').length >= 3);
    expect(r.events().filter((e) => e === 'SESSION START')).toHaveLength(1);
    expect(r.events().slice(r.events().indexOf('SESSION END') + 1).every((e) => e === 'SLEEP'), r.events().join(', ')).toBe(true);
  });

  it('writes copies of the committed fixture MP4 when ffmpeg is not there', async () => {
    const r = await record({ extra: ['--no-ffmpeg'] });
    await r.until(() => r.events().includes('SEGMENT FINISH'));
    const finish = r.lines.find((l) => l.line.event === 'SEGMENT FINISH');
    expect(finish.line.file).toMatch(/_00000\.mp4$/);
    expect(await readFile(finish.line.file)).toEqual(await readFile(join(ROOT, 'test/fixtures/media/clip.mp4')));
    expect(finish.line.duration).toBe('00:00:04');
  });
});
