#!/usr/bin/env node
// A development overseer: a small WebSocket server speaking the sticky-overseer protocol
// (contract dvr-api §5) whose "recorders" are simulations printing the recorder's JSON events
// (§6): STARTUP, SESSION START, RECORDING START, SEGMENT START, HEARTBEATs, RECORDING END,
// SESSION END, SLEEP — and now and then an unintentional exit, restarted or errored according to the
// retry policy the control plane sent. `npm start` launches it when OVERSEER_URL is not set.
//
//   node tools/dev-overseer.mjs --port 8081            # ws://127.0.0.1:8081/ws
//   node tools/dev-overseer.mjs --port 8081 --speed 2  # everything twice as fast
//   node tools/dev-overseer.mjs --crash-rate 0.2       # crash more often (per online/offline cycle)
//   node tools/dev-overseer.mjs --pool 2 --queue-timeout 1m  # a small pool: starts beyond it are queued
//
// The pool works as in sticky-overseer 2.4.1: a `start` beyond the limit is answered `queued`
// (broadcast to every client, carrying the requester's `id` and the task id); when the task leaves
// the queue every client hears `dequeued` (reason started, stopped, purged or expired) — a started
// one is then answered `started` with the requester's id — and `pool_updated` follows a `set_pool`.
//
// Timings are made for a demo: a source is online and recording a few seconds after its start,
// heartbeats come every 3 s, sessions last about a minute, and a source sleeps ~10 s between them.
// Sources whose name starts with "offline" never go online; "crashy…" ones crash on every cycle.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { recorderLine } from './recorder-events.mjs';

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
  emit(t, { type: 'output', task_id: t.task_id, pid: t.pid, stream: 'stdout', data: recorderLine(event, extra), ts: now(), seq: t.seq });
}

const hms = (s) => [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, '0')).join(':');

function runRecorder(t) {
  const source = t.params.source ?? 'unknown';
  out(t, 'STARTUP', { source, driver: t.action, cookies: t.params.cookies ? '(set)' : 'none' });
  let first = true; // the first cycle always goes online, so a new subscription records within seconds
  const cycle = () => {
    if (t.worker_state !== 'running') return;
    const crashy = source.startsWith('crashy');
    const lucky = first;
    first = false;
    if (crashy || (!lucky && Math.random() < CRASH_RATE)) {
      // Access blocked (exit code 3): an unintentional exit.
      return schedule(t, 1500, () => exitProcess(t, 3, false));
    }
    if (source.startsWith('offline') || (!lucky && Math.random() < 0.25)) {
      out(t, 'SLEEP', { source, interval: t.params.check_interval || '1m0s' });
      return schedule(t, 10_000, cycle);
    }
    const resolution = `${t.params.resolution || '720'}p/${t.params.framerate || '30'}fps`;
    schedule(t, 1000, () => {
      out(t, 'SESSION START', { source, driver: t.action, resolution });
      out(t, 'RECORDING START', { recording: '0', resolution });
      out(t, 'SEGMENT START', { file: `/data/recordings/${t.action}/${source}/seg_00000.ts`, segment: '0', recording: '0', target_duration: t.params.segment_length || '5m' });
      let elapsed = 0;
      let bytes = 0;
      const beats = 12 + Math.floor(Math.random() * 10);
      const beat = (n) => {
        if (t.worker_state !== 'running') return;
        elapsed += 3;
        bytes += 1_500_000 + Math.floor(Math.random() * 500_000);
        out(t, 'HEARTBEAT', {
          file: `/data/recordings/${t.action}/${source}/seg_00000.ts`,
          bytes_written: String(bytes),
          segment_duration: hms(elapsed),
          session_duration: hms(elapsed),
          recording: '0',
          segment: '0',
        });
        if (n < beats) return schedule(t, 3000, () => beat(n + 1));
        out(t, 'SEGMENT FINISH', { file: `/data/recordings/${t.action}/${source}/seg_00000.ts`, segment: '0', recording: '0', duration: hms(elapsed), size: `${(bytes / 1e6).toFixed(1)}MB`, trigger: 'stream_end' });
        out(t, 'RECORDING END', { recording: '0', segments: '1', duration: hms(elapsed), trigger: 'stream_end' });
        out(t, 'SESSION END', { source, recordings: '1', duration: hms(elapsed) });
        out(t, 'SLEEP', { source, interval: t.params.check_interval || '1m0s' });
        schedule(t, 10_000, cycle);
      };
      schedule(t, 3000, () => beat(1));
    });
  };
  schedule(t, 1000, cycle);
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
      if (t.worker_state === 'running') setTimeout(() => exitProcess(t, 0, true), ms(300));
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
server.listen(PORT, HOST, () => log(`listening on ws://${HOST}:${PORT}/ws (speed ${SPEED}, crash rate ${CRASH_RATE})`));

const shutdown = () => {
  for (const t of tasks.values()) clearTimers(t);
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
