#!/usr/bin/env node
// A development overseer: a small WebSocket server speaking the sticky-overseer protocol
// (contract dvr-api §5) whose "recorders" are simulations that write REAL media files and print the
// recorder's JSON events (§6, issue 16): STARTUP, SESSION START, RECORDING START, SEGMENT START,
// HEARTBEATs, SEGMENT FINISH, RECORDING END, SESSION END, SLEEP — and now and then an unintentional
// exit, restarted or errored according to the retry policy the control plane sent. `npm start`
// launches it when OVERSEER_URL is not set.
//
// Media: with ffmpeg on PATH, H.264/AAC MPEG-TS segments from ffmpeg's test sources, written in real
// time; without it, copies of test/fixtures/media/clip.mp4 (so `npm start` works anywhere). Files
// follow the `out` pattern the control plane sends, with `/data/recordings` mapped to
// --recordings-dir; every event line is also appended to --events-file, which the media agent
// (agents/media, `--events`) follows to know which files are finished. Segments are shortened to
// --segment-seconds for a demo; `segment_length` "0" is single-file mode.
//
//   node tools/dev-overseer.mjs --port 8081            # ws://127.0.0.1:8081/ws
//   node tools/dev-overseer.mjs --recordings-dir /tmp/rec --events-file /tmp/rec/.recorder-events.jsonl
//   node tools/dev-overseer.mjs --segment-seconds 5 --max-mb 200 --no-ffmpeg
//   node tools/dev-overseer.mjs --port 8081 --speed 2  # everything twice as fast
//   node tools/dev-overseer.mjs --crash-rate 0.2       # crash more often (per online/offline cycle)
//   node tools/dev-overseer.mjs --pool 2 --queue-timeout 1m  # a small pool: starts beyond it are queued
//   node tools/dev-overseer.mjs --video 320x180:10     # a smaller test picture (default 640x360:15)
//   node tools/dev-overseer.mjs --sessions 1           # each source records once, then stays offline (tests)
//
// The pool works as in sticky-overseer 2.4.1: a `start` beyond the limit is answered `queued`
// (broadcast to every client, carrying the requester's `id` and the task id); when the task leaves
// the queue every client hears `dequeued` (reason started, stopped, purged or expired) — a started
// one is then answered `started` with the requester's id — and `pool_updated` follows a `set_pool`.
//
// Timings are made for a demo: a source is online and recording a few seconds after its start,
// heartbeats come every 3 s, sessions last 30–60 s (3–6 segments), and a source sleeps ~10 s between
// them. Sources whose name starts with "offline" never go online; "crashy…" ones crash on every
// cycle; "big…" ones record at 8 Mbit/s (segments larger than one ingest part, with ffmpeg). The
// recordings directory is kept under --max-mb (default 1000) by deleting the oldest finished files.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recorderLine, sizeString } from './recorder-events.mjs';

const { WebSocketServer } = createRequire(import.meta.url)('ws');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const PORT = Number(opt('port', process.env.PORT ?? 8081));
const HOST = opt('host', '127.0.0.1');
const SPEED = Math.max(0.1, Number(opt('speed', 1)));
const CRASH_RATE = Math.min(1, Math.max(0, Number(opt('crash-rate', 0.08))));
// Online sessions a source records over the overseer's life (0: no limit); after them its recorder
// sleeps like an `offline…` source, across restarts. The browser tests' stack runs with 1: a new
// subscription records at once, and the demo's sources do not record for the whole run.
const SESSIONS = Math.max(0, Math.floor(Number(opt('sessions', 0))) || 0);
const sessionsRecorded = new Map(); // "driver/source" → online sessions begun
let POOL_LIMIT = Number(opt('pool', 50)); // 0 = unlimited; `set_pool` changes it at run time
const quiet = args.includes('--quiet');

const ms = (n) => Math.round(n / SPEED);
const log = (...a) => quiet || console.log(new Date().toISOString(), '[dev-overseer]', ...a);
const now = () => new Date().toISOString();

/** Go duration → ms (the subset the control plane sends). */
function goDuration(s) {
  if (!s || s === '0') return 0;
  let total = 0;
  for (const [, n, u] of String(s).matchAll(/([0-9.]+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(n) * { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[u];
  }
  return total;
}

const QUEUE_TIMEOUT_MS = goDuration(opt('queue-timeout', '5m'));

// Real media: where the simulated recorders write, and the file their event lines go to.
const GIVEN_DIR = opt('recordings-dir', '');
const RECORDINGS_DIR = resolve(GIVEN_DIR || mkdtempSync(join(tmpdir(), 'edgeplane-recordings-')));
mkdirSync(RECORDINGS_DIR, { recursive: true });
const EVENTS_FILE = resolve(opt('events-file', join(RECORDINGS_DIR, '.recorder-events.jsonl')));
const SEGMENT_SECONDS = Math.max(1, Number(opt('segment-seconds', 10)));
const MAX_BYTES = Math.max(1, Number(opt('max-mb', 1000))) * 1e6;
const ffmpegBin = opt('ffmpeg', 'ffmpeg');
// The test sources' picture as WIDTHxHEIGHT:FPS. Encoding it is most of a recorder's CPU: the browser
// tests' stack asks for a smaller one (tools/stack.mjs `overseerArgs`), the demo keeps 640x360:15.
const VIDEO = /^(\d{2,4})x(\d{2,4}):(\d{1,2})$/.exec(opt('video', '640x360:15'));
if (!VIDEO) throw new Error('--video takes WIDTHxHEIGHT:FPS, e.g. 640x360:15');
const [, VIDEO_W, VIDEO_H, VIDEO_FPS] = VIDEO;
const FFMPEG = !args.includes('--no-ffmpeg') && spawnSync(ffmpegBin, ['-version'], { stdio: 'ignore' }).status === 0 ? ffmpegBin : null;
const FFPROBE = opt('ffprobe', 'ffprobe');
const FIXTURE = readFileSync(fileURLToPath(new URL('../test/fixtures/media/clip.mp4', import.meta.url)));
const FIXTURE_SECONDS = 4;
const openFiles = new Set(); // files being written (never pruned)
const writers = new Set(); // running ffmpeg processes

const tasks = new Map(); // task_id → task
const queue = []; // {t, id, ws} waiting for a pool slot, oldest first
const metrics = { tasks_started: 0, tasks_completed: 0, tasks_errored: 0, tasks_restarted: 0, total_output_lines: 0, enqueued: 0, dequeued: 0, displaced: 0, expired: 0 };
let nextPid = 4000;

function send(ws, frame) {
  if (ws.readyState === 1) ws.send(JSON.stringify(frame));
}
function emit(task, frame) {
  for (const ws of task.subscribers) send(ws, frame);
}
function broadcast(frame) {
  for (const ws of wss.clients) send(ws, frame);
}
const runningCount = () => [...tasks.values()].filter((t) => t.worker_state === 'running').length;
const poolInfo = () => ({ limit: POOL_LIMIT, running: runningCount(), queue_depth: queue.length });

/** A task leaves the queue: started (a slot freed) or removed (stopped, purged, expired). */
function leaveQueue(t, reason) {
  const i = queue.findIndex((e) => e.t === t);
  if (i < 0) return;
  const [entry] = queue.splice(i, 1);
  clearTimeout(entry.expiry);
  metrics.dequeued += 1;
  if (reason === 'expired') metrics.expired += 1;
  broadcast({ type: 'dequeued', task_id: t.task_id, reason, ts: now() });
  log(`dequeued ${t.action}/${t.params.source} task=${t.task_id} (${reason})`);
  if (reason === 'started') startProcess(t, 0, entry.id);
  else tasks.delete(t.task_id);
}
function drain() {
  while (queue.length > 0 && (POOL_LIMIT <= 0 || runningCount() < POOL_LIMIT)) leaveQueue(queue[0].t, 'started');
}
function info(t) {
  const out = {
    task_id: t.task_id,
    action: t.action,
    params: t.params,
    state: t.state,
    worker_state: t.worker_state,
    current_pid: t.pid,
    restart_count: t.restart_count,
    created_at: t.created_at,
    retry_policy: t.retry_policy,
  };
  if (t.last_started_at) out.last_started_at = t.last_started_at;
  if (t.last_exited_at) out.last_exited_at = t.last_exited_at;
  if (t.last_exit_code !== undefined) out.last_exit_code = t.last_exit_code;
  if (t.error_message) out.error_message = t.error_message;
  if (t.queued_at) out.queued_at = t.queued_at;
  return out;
}

// ───────────── the simulated recorder ─────────────

function schedule(t, delay, fn) {
  const timer = setTimeout(() => {
    t.timers.delete(timer);
    fn();
  }, ms(delay));
  t.timers.add(timer);
}
function clearTimers(t) {
  for (const timer of t.timers) clearTimeout(timer);
  t.timers.clear();
}

function out(t, event, extra = {}) {
  metrics.total_output_lines += 1;
  t.seq += 1;
  const data = recorderLine(event, extra);
  // What the recorder printed, as the media agent's --events file follows it (one line each).
  appendFileSync(EVENTS_FILE, `${data}\n`);
  log(`${t.action}/${t.params.source ?? '?'} ${data}`);
  emit(t, { type: 'output', task_id: t.task_id, pid: t.pid, stream: 'stdout', data, ts: now() });
}

const hms = (s) => [Math.floor(s / 3600), Math.floor((s % 3600) / 60), Math.floor(s % 60)].map((n) => String(n).padStart(2, '0')).join(':');
const pause = (t, delay) => new Promise((resolve) => schedule(t, delay, resolve));

/** The recorder's `out` template (contract §5.4) for a session and a recording start time, in the
 * recordings directory: `/data/recordings/…` is where the real fleet mounts it. Anything else (an
 * empty or foreign pattern) falls back to the default layout — never a path outside the directory. */
function outBase(t, sessionAt, recordingAt) {
  const parts = (d) => {
    const p = (n) => String(n).padStart(2, '0');
    return { Year: String(d.getFullYear()), Month: p(d.getMonth() + 1), Day: p(d.getDate()), Hour: p(d.getHours()), Minute: p(d.getMinutes()), Second: p(d.getSeconds()) };
  };
  const values = { Driver: t.action, Source: t.params.source ?? 'unknown', Session: parts(sessionAt), Recording: parts(recordingAt) };
  const stamp = (x) => `${x.Year}-${x.Month}-${x.Day}_${x.Hour}-${x.Minute}-${x.Second}`;
  const rendered = String(t.params.out ?? '').replace(/\{\{\s*\.(\w+)(?:\.(\w+))?\s*\}\}/g, (_, a, b) => String(b ? values[a]?.[b] ?? '' : values[a] ?? ''));
  const rel = rendered.startsWith('/data/recordings/') ? rendered.slice('/data/recordings/'.length) : '';
  const safe = rel.split('/').every((x) => x && x !== '.' && x !== '..') && rel.startsWith(`${values.Driver}/${values.Source}/`);
  const relPath = safe ? rel : `${values.Driver}/${values.Source}/${stamp(values.Session)}/${stamp(values.Recording)}`;
  return join(RECORDINGS_DIR, ...relPath.split('/'));
}

/**
 * Writes one real media file for `seconds` of recording. With ffmpeg: H.264/AAC in MPEG-TS from
 * the lavfi test sources, in real time (scaled by --speed), so the file grows while heartbeats
 * report it; "big…" sources at a constant 8 Mbit/s (segments larger than an ingest part). Without
 * ffmpeg: the committed fixture MP4 (4 s), copied in chunks over its duration.
 * Returns {file, size(), stop(), done: Promise<{bytes, seconds}>}.
 */
function startWriter(t, base, seconds) {
  const file = `${base}${FFMPEG ? '.ts' : '.mp4'}`;
  mkdirSync(dirname(file), { recursive: true });
  const began = Date.now();
  const elapsed = () => ((Date.now() - began) * SPEED) / 1000;
  const size = () => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  openFiles.add(file);
  let stop;
  let done;
  if (FFMPEG) {
    const big = String(t.params.source ?? '').startsWith('big');
    const rate = SPEED === 1 ? ['-re'] : ['-readrate', String(SPEED)];
    const video = big ? ['-b:v', '8M', '-minrate', '8M', '-maxrate', '8M', '-bufsize', '4M', '-x264-params', 'nal-hrd=cbr'] : ['-crf', '30'];
    const child = spawn(
      FFMPEG,
      ['-hide_banner', '-v', 'error', '-y', ...rate, '-f', 'lavfi', '-i', `testsrc2=size=${VIDEO_W}x${VIDEO_H}:rate=${VIDEO_FPS}`, ...rate, '-f', 'lavfi', '-i', `sine=frequency=${220 + (nextPid % 7) * 55}:sample_rate=44100`,
        '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(2 * Number(VIDEO_FPS)), '-pix_fmt', 'yuv420p', ...video, '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', file],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    writers.add(child);
    // SIGINT: ffmpeg closes the file properly (a cancelled recording is still a valid file).
    stop = () => child.exitCode === null && child.kill('SIGINT');
    done = new Promise((resolve) =>
      child.once('exit', (code) => {
        writers.delete(child);
        if (code !== 0 && code !== 255) log(`ffmpeg exited ${code} writing ${file}: ${stderr.trim()}`);
        // The file's own duration, as the recorder reports it: on a busy machine ffmpeg falls behind
        // the clock, and a cancelled segment is shorter than asked.
        execFile(FFPROBE, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', file], (err, out) => {
          const probed = Number(String(out).trim());
          resolve({ bytes: size(), seconds: !err && Number.isFinite(probed) && probed > 0 ? probed : Math.min(seconds, elapsed()) });
        });
      }),
    );
  } else {
    // The fixture's own length, whatever was asked: the file must stay a valid, complete MP4.
    const bytes = FIXTURE;
    writeFileSync(file, '');
    let written = 0;
    let finish;
    done = new Promise((resolve) => (finish = resolve));
    const tick = () => {
      const upto = elapsed() >= FIXTURE_SECONDS ? bytes.length : Math.floor((bytes.length * elapsed()) / FIXTURE_SECONDS);
      if (upto > written) appendFileSync(file, bytes.subarray(written, upto));
      written = Math.max(written, upto);
      if (written >= bytes.length) {
        clearInterval(timer);
        finish({ bytes: bytes.length, seconds: FIXTURE_SECONDS });
      }
    };
    const timer = setInterval(tick, 250);
    stop = () => {
      appendFileSync(file, bytes.subarray(written));
      written = bytes.length;
      tick();
    };
  }
  return { file, size, stop, done: done.finally(() => openFiles.delete(file)) };
}

/** Keeps the recordings directory under --max-mb: the oldest finished files go first (in real life
 * the media agent deletes them after the upload; nothing does during a plain `npm start`). */
function prune() {
  const files = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && !e.name.startsWith('.') && !openFiles.has(p)) files.push({ p, ...statSync(p, { bigint: false }) });
    }
  };
  try {
    walk(RECORDINGS_DIR);
  } catch {
    return;
  }
  let total = files.reduce((n, f) => n + f.size, 0);
  for (const f of files.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
    if (total <= MAX_BYTES) break;
    rmSync(f.p, { force: true });
    total -= f.size;
  }
}

/**
 * One online session, as sticky-recorder reports it (contract §6.1). Segmented mode
 * (`segment_length` > 0): SEGMENT START (with `target_duration`), HEARTBEATs while the file grows,
 * SEGMENT FINISH when it is closed (`split`, the last `stream_end`). Single-file mode
 * (`segment_length` "0"): one file, no heartbeats, and SEGMENT START and FINISH both after ffmpeg
 * ended. A stop in the middle ends the file and reports `cancelled`.
 */
async function recordSession(t, pid) {
  const alive = () => t.pid === pid && t.worker_state === 'running';
  const source = t.params.source ?? 'unknown';
  const resolution = `${t.params.resolution || '720'}p/${t.params.framerate || '30'}fps`;
  const single = goDuration(t.params.segment_length || '0') === 0;
  const segSeconds = single ? 0 : Math.min(goDuration(t.params.segment_length) / 1000, SEGMENT_SECONDS);
  const segments = 3 + Math.floor(Math.random() * 4); // a session of ~30–60 s of media at 10 s segments
  const sessionAt = new Date();
  out(t, 'SESSION START', { source, driver: t.action, resolution });
  out(t, 'RECORDING START', { recording: '0', resolution });
  const base = outBase(t, sessionAt, new Date());
  let total = 0;
  let trigger = 'stream_end';
  const rec = { cancel: null };
  t.recording = rec;
  if (single) {
    const w = startWriter(t, base, SEGMENT_SECONDS * segments);
    rec.cancel = () => ((trigger = 'cancelled'), w.stop());
    const r = await w.done;
    total = r.seconds;
    out(t, 'SEGMENT START', { file: w.file, segment: '0', recording: '0' });
    out(t, 'SEGMENT FINISH', { file: w.file, segment: '0', recording: '0', duration: hms(r.seconds), size: sizeString(r.bytes), trigger });
  } else {
    for (let i = 0; i < segments && trigger !== 'cancelled'; i++) {
      const w = startWriter(t, `${base}_${String(i).padStart(5, '0')}`, segSeconds);
      rec.cancel = () => ((trigger = 'cancelled'), w.stop());
      out(t, 'SEGMENT START', { file: w.file, segment: String(i), recording: '0', target_duration: `${segSeconds}s` });
      let finished = null;
      w.done.then((r) => (finished = r));
      for (let beat = 1; ; beat++) {
        await Promise.race([w.done, pause(t, 3000)]);
        if (finished) break;
        if (alive() && trigger !== 'cancelled') {
          out(t, 'HEARTBEAT', { file: w.file, bytes_written: String(w.size()), segment_duration: hms(beat * 3), session_duration: hms(total + beat * 3), recording: '0', segment: String(i) });
        }
      }
      total += finished.seconds;
      const last = i === segments - 1 || trigger === 'cancelled';
      out(t, 'SEGMENT FINISH', { file: w.file, segment: String(i), recording: '0', duration: hms(finished.seconds), size: sizeString(finished.bytes), trigger: trigger === 'cancelled' ? 'cancelled' : last ? 'stream_end' : 'split' });
      prune();
    }
  }
  t.recording = null;
  out(t, 'RECORDING END', { recording: '0', segments: single ? '1' : String(segments), duration: hms(total), trigger });
  out(t, 'SESSION END', { source, recordings: '1', duration: hms(total) });
  prune();
}

function runRecorder(t) {
  const source = t.params.source ?? 'unknown';
  const pid = t.pid;
  out(t, 'STARTUP', { source, driver: t.action, cookies: t.params.cookies ? '(set)' : 'none' });
  let first = true; // the first cycle always goes online, so a new subscription records within seconds
  const cycle = async () => {
    if (t.worker_state !== 'running' || t.pid !== pid) return;
    const crashy = source.startsWith('crashy');
    const lucky = first;
    first = false;
    if (crashy || (!lucky && Math.random() < CRASH_RATE)) {
      // Access blocked (exit code 3): an unintentional exit.
      return schedule(t, 1500, () => exitProcess(t, 3, false));
    }
    const done = SESSIONS > 0 && (sessionsRecorded.get(`${t.action}/${source}`) ?? 0) >= SESSIONS;
    if (source.startsWith('offline') || done || (!lucky && Math.random() < 0.25)) {
      out(t, 'SLEEP', { source, interval: t.params.check_interval || '1m0s' });
      return schedule(t, 10_000, cycle);
    }
    await pause(t, 1000);
    sessionsRecorded.set(`${t.action}/${source}`, (sessionsRecorded.get(`${t.action}/${source}`) ?? 0) + 1);
    await recordSession(t, pid);
    if (t.pid !== pid || t.worker_state !== 'running' || t.state !== 'active') return; // stopped meanwhile
    out(t, 'SLEEP', { source, interval: t.params.check_interval || '1m0s' });
    schedule(t, 10_000, cycle);
  };
  schedule(t, 1000, cycle);
}

/** A stop (SIGTERM): the recorder closes its file and reports the cancellation, then exits 0. */
async function stopProcess(t) {
  const rec = t.recording;
  if (rec?.cancel) {
    rec.cancel();
    for (let i = 0; i < 100 && t.recording === rec; i++) await new Promise((r) => setTimeout(r, 50));
  } else {
    await new Promise((r) => setTimeout(r, ms(300)));
  }
  if (t.worker_state === 'running') exitProcess(t, 0, true);
}

function startProcess(t, restartOf = 0, id = '') {
  t.pid = nextPid++;
  delete t.queued_at;
  t.worker_state = 'running';
  t.state = 'active';
  t.last_started_at = now();
  metrics.tasks_started += 1;
  const frame = { type: 'started', task_id: t.task_id, pid: t.pid, ts: now() };
  if (id) frame.id = id;
  if (restartOf) frame.restart_of = restartOf;
  emit(t, frame);
  runRecorder(t);
  log(`started ${t.action}/${t.params.source} task=${t.task_id} pid=${t.pid}${restartOf ? ` (restart of ${restartOf})` : ''}`);
}

function exitProcess(t, code, intentional) {
  clearTimers(t);
  const pid = t.pid;
  t.pid = 0;
  t.worker_state = 'exited';
  t.last_exited_at = now();
  t.last_exit_code = code;
  emit(t, { type: 'exited', task_id: t.task_id, pid, exit_code: code, intentional, ts: now() });
  log(`exited ${t.action}/${t.params.source} pid=${pid} code=${code} intentional=${intentional}`);
  setImmediate(drain); // the slot is free (a restart in its delay waits in the queue like anyone)
  if (intentional || t.state !== 'active') {
    metrics.tasks_completed += 1;
    return;
  }
  const policy = t.retry_policy ?? {};
  if (!policy.restart_delay && !policy.error_threshold && !policy.error_window) return; // no policy, no restarts
  const windowMs = goDuration(policy.error_window);
  const at = Date.now();
  t.exits.push(at);
  if (windowMs > 0) t.exits = t.exits.filter((x) => x > at - windowMs);
  if (policy.error_threshold && t.exits.length >= policy.error_threshold) {
    t.state = 'errored';
    t.error_message = `error threshold reached after ${t.exits.length} exits`;
    metrics.tasks_errored += 1;
    emit(t, { type: 'errored', task_id: t.task_id, pid, exit_count: t.exits.length, ts: now() });
    return;
  }
  t.restart_count += 1;
  metrics.tasks_restarted += 1;
  // Demo: restart delays are capped at 5 s so failures are visible without long waits.
  const delay = Math.min(goDuration(policy.restart_delay), 5000);
  emit(t, { type: 'restarting', task_id: t.task_id, pid, attempt: t.restart_count, restart_delay: policy.restart_delay ?? '0s' });
  schedule(t, delay * SPEED, () => {
    if (t.state === 'active') startProcess(t, pid);
  });
}

// ───────────── protocol ─────────────

function onMessage(ws, frame) {
  const reply = (f) => send(ws, { id: frame.id, ...f });
  switch (frame.type) {
    case 'start': {
      const requested = frame.task_id || '';
      if (requested && tasks.has(requested)) return reply({ type: 'error', message: 'task already running or starting' });
      for (const t of tasks.values()) {
        if (t.worker_state === 'running' && t.action === frame.action && t.params.source === frame.params?.source) {
          return reply({ type: 'error', message: `duplicate task: already running as ${t.task_id}`, existing_task_id: t.task_id });
        }
      }
      if (![...['480', '720', '1080']].includes(String(frame.params?.resolution ?? '720'))) return reply({ type: 'error', message: 'invalid param resolution' });
      const t = {
        task_id: requested || randomUUID(),
        action: frame.action,
        params: frame.params ?? {},
        retry_policy: frame.retry_policy,
        state: 'active',
        worker_state: 'running',
        pid: 0,
        restart_count: 0,
        created_at: now(),
        subscribers: new Set([ws]),
        timers: new Set(),
        exits: [],
        seq: 0,
      };
      const full = POOL_LIMIT > 0 && runningCount() >= POOL_LIMIT;
      tasks.set(t.task_id, t);
      if (full) {
        t.state = 'queued';
        t.worker_state = undefined;
        t.queued_at = now();
        const entry = { t, id: frame.id, ws, expiry: null };
        if (QUEUE_TIMEOUT_MS > 0) entry.expiry = setTimeout(() => leaveQueue(t, 'expired'), QUEUE_TIMEOUT_MS);
        queue.push(entry);
        metrics.enqueued += 1;
        broadcast({ type: 'queued', id: frame.id, task_id: t.task_id, position: queue.length, ts: now() });
        log(`queued ${t.action}/${t.params.source} task=${t.task_id} position=${queue.length}`);
        return;
      }
      startProcess(t, 0, frame.id);
      return;
    }
    case 'stop': {
      const t = tasks.get(frame.task_id);
      if (!t) return reply({ type: 'error', message: 'task not found' });
      if (t.state === 'queued') return leaveQueue(t, 'stopped');
      t.state = 'stopped';
      if (t.worker_state === 'running') stopProcess(t);
      return;
    }
    case 'reset': {
      const t = tasks.get(frame.task_id);
      if (!t) return reply({ type: 'error', message: 'task not found' });
      t.exits = [];
      t.error_message = undefined;
      if (t.worker_state !== 'running') startProcess(t, 0, frame.id);
      return;
    }
    case 'subscribe': {
      const t = tasks.get(frame.task_id);
      if (!t) return reply({ type: 'error', message: 'task not found' });
      t.subscribers.add(ws);
      return reply({ type: 'subscribed', task_id: t.task_id });
    }
    case 'unsubscribe': {
      tasks.get(frame.task_id)?.subscribers.delete(ws);
      return reply({ type: 'unsubscribed', task_id: frame.task_id });
    }
    case 'list':
      return reply({ type: 'tasks', tasks: [...tasks.values()].map(info) });
    case 'pool_info':
      return reply({ type: 'pool_info', pool: poolInfo() });
    case 'set_pool': {
      if (!Number.isInteger(frame.limit) || frame.limit < 0) return reply({ type: 'error', message: 'invalid limit' });
      POOL_LIMIT = frame.limit;
      broadcast({ type: 'pool_updated', pool: poolInfo(), ts: now() });
      drain();
      return reply({ type: 'pool_info', pool: poolInfo() });
    }
    case 'purge': {
      for (const { t } of [...queue]) leaveQueue(t, 'purged');
      return reply({ type: 'pool_info', pool: poolInfo() });
    }
    case 'metrics':
      return reply({ type: 'metrics', global: { ...metrics } });
    default:
      return reply({ type: 'error', message: `unknown message type: ${frame.type}` });
  }
}

const wss = new WebSocketServer({ noServer: true });
const server = createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'Content-Type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok\n' : 'not found\n');
});
// With OVERSEER_TOKEN set (npm start passes the Worker's), upgrades must carry it as the control
// plane sends it: `Authorization: Bearer <token>` — what a TLS proxy in front of a real overseer checks.
const TOKEN = process.env.OVERSEER_TOKEN ?? '';
server.on('upgrade', (req, socket, head) => {
  if (new URL(req.url, 'http://x').pathname !== '/ws') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  if (TOKEN && req.headers.authorization !== `Bearer ${TOKEN}`) {
    log('refused an upgrade without the shared secret');
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    log('control plane connected');
    ws.on('message', (data) => {
      let frame;
      try {
        frame = JSON.parse(String(data));
      } catch {
        return send(ws, { type: 'error', message: 'invalid JSON' });
      }
      if (typeof frame?.type !== 'string') return send(ws, { type: 'error', message: 'missing type' });
      onMessage(ws, frame);
    });
    ws.on('close', () => {
      log('control plane disconnected');
      for (const t of tasks.values()) t.subscribers.delete(ws);
    });
  });
});
server.listen(PORT, HOST, () => {
  log(`listening on ws://${HOST}:${PORT}/ws (speed ${SPEED}, crash rate ${CRASH_RATE}${SESSIONS ? `, ${SESSIONS} session(s) a source` : ''})`);
  log(`recordings in ${RECORDINGS_DIR} (${FFMPEG ? 'ffmpeg test sources, .ts' : 'no ffmpeg: copies of test/fixtures/media/clip.mp4'}), events in ${EVENTS_FILE}`);
});

const shutdown = () => {
  for (const t of tasks.values()) clearTimers(t);
  for (const w of writers) w.kill('SIGKILL');
  if (!GIVEN_DIR) rmSync(RECORDINGS_DIR, { recursive: true, force: true });
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
