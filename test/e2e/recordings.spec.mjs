// Recordings end to end (issue 16) on the shared local stack: the development overseer's simulated
// recorder writes real media files (H.264/AAC MPEG-TS from ffmpeg's test sources; copies of the
// fixture MP4 without ffmpeg) under <persist>/recordings and prints the recorder's events; the real
// media agent (agents/media), enrolled as a host, follows those events and uploads the finished
// segments — remuxed to faststart MP4 when ffmpeg is there — and is killed with SIGKILL in the middle
// of an upload and restarted; every segment then appears in the API as stored, nothing is lost or
// stuck in `recording`, and the recording plays in Chromium with seeking (a 206 range answer), with
// its thumbnails. It uses its own user and its own source ("big…": 8 Mbit/s, so a segment spans two
// ingest parts), uploads only that source, and pauses it at the end: other specs see no change.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROOT } from '../../tools/stack.mjs';
import { launch, shot } from './support/browser.mjs';
import { apiFrom, authedPage, createUser, eventually, expectNoSeriousErrors, go, unique } from './dashboard/helpers.mjs';

const stack = inject('stack');
const RECORDINGS = join(stack.persistTo, 'recordings');
const EVENTS = join(RECORDINGS, '.recorder-events.jsonl');
const FFMPEG = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
const CLI = join(ROOT, 'agents', 'media', 'cli.mjs');
const source = unique('big');
const SRC = `chaturbate/${source}`;

let browser;
let adminPage;
let userPage;
let hostId;
let agentDir;
let agent;
const agentLog = [];

/** The recorder's event lines for our source, parsed, in order. */
function ourEvents() {
  if (!existsSync(EVENTS)) return [];
  return readFileSync(EVENTS, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => (e.file ?? '').includes(`/${SRC}/`) || e.source === source);
}

function startAgent(extra = []) {
  const args = ['run', '--dir', RECORDINGS, '--events', EVENTS, '--state-dir', agentDir, '--sources', SRC, '--remux', '--part-size', '5M', '--concurrency', '1', '--scan-seconds', '1', '--stable-seconds', '600', ...extra];
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const read = (stream) =>
    createInterface({ input: stream }).on('line', (line) => {
      try {
        agentLog.push(JSON.parse(line));
      } catch {
        agentLog.push({ msg: line });
      }
    });
  read(child.stdout);
  read(child.stderr);
  return child;
}
const stopAgent = async (child, signal) => {
  if (!child || child.exitCode !== null) return;
  child.kill(signal);
  await new Promise((r) => child.once('exit', r));
};

const files = async () => (await apiFrom(userPage, 'GET', `/api/sources/${SRC}/files?limit=200`)).body?.files ?? [];

beforeAll(async () => {
  browser = await launch();
  adminPage = await authedPage(browser, stack.url, stack.credentials.admin);
  const me = await createUser(adminPage);
  userPage = await authedPage(browser, stack.url, me);
  // The recorder host, registered from the dashboard (Diagnostics → Recorder hosts: no curl) and
  // enrolled with the command its dialog shows, run as shown but for the state directory.
  await go(adminPage, stack.url, 'admin/diagnostics');
  const hosts = adminPage.locator('#recorder-hosts');
  const name = unique('e2e-recorder');
  await hosts.getByLabel('Host name').fill(name);
  await hosts.getByRole('button', { name: 'Register host' }).click();
  const command = (await adminPage.locator('dialog [data-command]').textContent()).split(' ');
  expect(command.slice(0, 5)).toEqual(['node', 'agents/media/cli.mjs', 'enroll', '--server', stack.url]);
  await shot(adminPage, 'recorder-host-enrolment');
  await adminPage.getByRole('button', { name: 'Close' }).click();
  agentDir = mkdtempSync(join(tmpdir(), 'e2e-media-agent-'));
  const args = command.slice(1).map((a) => (a === '/var/lib/media-agent' ? agentDir : a));
  expect(args).toContain(agentDir);
  const enrol = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  expect(enrol.status, enrol.stderr).toBe(0);
  hostId = (await apiFrom(adminPage, 'GET', '/api/admin/ingest/hosts')).body.hosts.find((x) => x.name === name).id;
  // A reload (the same hash does not reload the page); expect.poll cannot run in a hook: the
  // enrolled row is waited for, then read.
  await adminPage.reload();
  await hosts.locator(`tr[data-host="${hostId}"] .badge.ok`).waitFor();
  expect(await hosts.locator(`tr[data-host="${hostId}"] .badge`).textContent()).toBe('enrolled');
});

afterAll(async () => {
  await stopAgent(agent, 'SIGTERM');
  // The agent's own log lines, for whoever reads a failure.
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  writeFileSync(join(ROOT, 'test-output', 'recordings-e2e-agent.log'), agentLog.map((l) => JSON.stringify(l)).join('\n') + '\n');
  if (userPage) await apiFrom(userPage, 'POST', `/api/subscriptions/${SRC}/pause`).catch(() => undefined);
  if (hostId) await apiFrom(adminPage, 'DELETE', `/api/admin/ingest/hosts/${hostId}`).catch(() => undefined);
  await browser?.close();
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

describe('a recording from the recorder host to the browser', () => {
  it('is uploaded by the media agent, which loses nothing when killed mid-upload', { timeout: 420_000 }, async () => {
    expect((await apiFrom(userPage, 'POST', '/api/subscriptions', { driver: 'chaturbate', username: source })).status).toBeLessThan(300);
    // The simulated recorder prints the recorder's events: SEGMENT START/FINISH with real files.
    await eventually(() => ourEvents().filter((e) => e.event === 'SEGMENT FINISH').length, { timeout: 120_000, interval: 1000 }).toBeGreaterThanOrEqual(1);
    const first = ourEvents().find((e) => e.event === 'SEGMENT FINISH');
    expect(Object.keys(first)).toEqual(['duration', 'event', 'file', 'recording', 'segment', 'size', 'time', 'trigger']);
    expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(existsSync(first.file)).toBe(true);

    // The agent, throttled so the kill lands between two parts of one upload.
    const credential = JSON.parse(readFileSync(join(agentDir, 'credential.json'), 'utf8')).credential;
    agent = startAgent(['--bandwidth', '1M']);
    const held = async () => {
      let state;
      try {
        state = JSON.parse(readFileSync(join(agentDir, 'state.json'), 'utf8'));
      } catch {
        return 0;
      }
      for (const f of Object.values(state.files)) {
        if (!f.uploadId) continue;
        const r = await fetch(`${stack.url}/api/ingest/uploads/${f.uploadId}`, { headers: { Authorization: `Bearer ${credential}` } });
        const up = await r.json();
        if (up.state === 'open' && up.parts.length > 0) return up.parts.length;
      }
      return 0;
    };
    if (FFMPEG) {
      await eventually(held, { timeout: 90_000, interval: 200 }).toBeGreaterThan(0);
    } else {
      // Fixture segments are one part each: kill after the first upload began instead.
      await eventually(() => agentLog.some((l) => l.msg === 'stored'), { timeout: 90_000, interval: 200 }).toBe(true);
    }
    await stopAgent(agent, 'SIGKILL');
    const killedAt = agentLog.length;
    // Stop the recorder now (a segment still open ends as `cancelled`), so the test uploads a few
    // segments only; once its worker is idle no event will come any more.
    expect((await apiFrom(userPage, 'POST', `/api/subscriptions/${SRC}/pause`)).status).toBe(200);
    if (FFMPEG) {
      // The server holds part of it; the catalog says uploading; the recorder's file is still there.
      expect((await files()).some((f) => f.status === 'uploading')).toBe(true);
    }

    // Restarted without the throttle: it resumes the upload it was on.
    agent = startAgent();
    if (FFMPEG) {
      await eventually(() => agentLog.slice(killedAt).find((l) => l.msg === 'resuming upload')?.parts_held ?? 0, { timeout: 60_000, interval: 250 }).toBeGreaterThan(0);
    }
    await eventually(async () => (await apiFrom(userPage, 'GET', `/api/subscriptions/${SRC}`)).body?.worker_state, { timeout: 60_000, interval: 500 }).toBe('idle');

    const finished = ourEvents().filter((e) => e.event === 'SEGMENT FINISH');
    const expected = finished.map((e) => e.file.slice(e.file.indexOf(`/${SRC}/`) + SRC.length + 2).replace(/\.ts$/, FFMPEG ? '.mp4' : '.ts')).sort();
    // Every finished segment is stored, under its .mp4 name when remuxed; none is left recording.
    await eventually(async () => (await files()).filter((f) => f.status === 'stored').map((f) => f.path.slice(SRC.length + 2)).sort(), { timeout: 240_000, interval: 1000 }).toEqual(expected);
    expect((await files()).filter((f) => f.status !== 'stored')).toEqual([]);
    // The local copies went only after the confirmations.
    await eventually(() => finished.filter((e) => existsSync(e.file)).length, { timeout: 20_000 }).toBe(0);

    // Each stored object is the whole recording: its duration is what SEGMENT FINISH reported.
    const seconds = (hms) => hms.split(':').reduce((a, x) => a * 60 + Number(x), 0);
    for (const [i, rel] of expected.entries()) {
      const r = await userPage.evaluate(async (u) => {
        const res = await fetch(u, { credentials: 'include' });
        const buf = new Uint8Array(await res.arrayBuffer());
        let s = '';
        for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
        return { status: res.status, b64: btoa(s) };
      }, `/media/subscriptions/${SRC}/${rel}`);
      expect(r.status).toBe(200);
      if (FFMPEG) {
        const copy = join(agentDir, `check-${i}.mp4`);
        writeFileSync(copy, Buffer.from(r.b64, 'base64'));
        const probe = JSON.parse(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=format_name,duration', '-of', 'json', copy], { encoding: 'utf8' }).stdout);
        expect(probe.format.format_name).toMatch(/mp4/);
        const reported = seconds(finished.find((e) => e.file.endsWith(rel.replace(/\.mp4$/, '.ts'))).duration);
        expect(Math.abs(Number(probe.format.duration) - reported)).toBeLessThan(1.5);
      }
    }
  });

  it('plays in the browser with seeking, with its thumbnails', { timeout: 120_000 }, async () => {
    const stored = (await files()).filter((f) => f.status === 'stored');
    expect(stored.length).toBeGreaterThanOrEqual(2);
    const target = stored[0].path.slice(SRC.length + 2); // {session}/{recording}_00000.mp4
    const [session, name] = target.split('/');
    const p = userPage;
    const responses = [];
    p.on('response', (r) => r.url().includes(`/media/subscriptions/${SRC}/`) && responses.push({ status: r.status(), range: r.request().headers().range }));
    await go(p, stack.url, `source/${SRC}`);
    if (FFMPEG) {
      // The source's picture (the dashboard card's too) is the newest recording's thumbnail.
      const served = await p.evaluate(async (u) => {
        const r = await fetch(u, { credentials: 'include' });
        return `${r.status} ${r.headers.get('content-type')}`;
      }, `/thumbnails/${SRC}.jpg`);
      expect(served).toBe('200 image/jpeg');
      const cardImg = p.locator('.thumb img').first();
        await eventually(() => cardImg.evaluate((img) => `${img.complete} ${img.naturalWidth} ${img.hidden} ${img.currentSrc}`), { timeout: 20_000 }).toMatch(/^true 320 false /);
    }
    const folder = p.getByRole('button', { name: session, exact: true });
    await folder.waitFor({ timeout: 20_000 });
    await folder.click();
    const row = p.locator('tbody tr', { hasText: name });
    await row.waitFor();
    if (FFMPEG) {
      const thumb = row.locator('img.file-thumb');
      await eventually(() => thumb.evaluate((img) => img.complete && img.naturalWidth), { timeout: 20_000 }).toBe(320);
    }
    await row.getByRole('button', { name: 'Play' }).click();
    const video = p.locator('.player video');
    await video.waitFor();
    await p.evaluate(() => {
      const v = document.querySelector('.player video');
      v.muted = true;
      return v.play();
    });
    await eventually(() => video.evaluate((v) => v.currentTime), { timeout: 20_000 }).toBeGreaterThan(0.3);
    const duration = await video.evaluate((v) => v.duration);
    expect(duration).toBeGreaterThan(2);
    // Seek to the middle: the player gets there and has data, fetched by range (206).
    const middle = Math.round((duration / 2) * 10) / 10;
    await video.evaluate((v, t) => {
      v.pause();
      v.currentTime = t;
    }, middle);
    await eventually(() => video.evaluate((v) => (v.seeking ? -1 : v.readyState)), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect(Math.abs((await video.evaluate((v) => v.currentTime)) - middle)).toBeLessThan(0.5);
    expect(responses.some((r) => r.status === 206 && r.range)).toBe(true);
    await shot(p, 'recordings-e2e-player');
    expectNoSeriousErrors(p);
  });
});
