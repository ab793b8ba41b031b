// A scripted fake of the sticky-overseer (contract dvr-api §5) for the DVR tests: a real WebSocket
// server the Worker's OverseerLink dials, plus a small HTTP control API the tests (running inside
// workerd) use to read what the control plane sent and to push events back.
//
// With a `token`, upgrades without `Authorization: Bearer <token>` are refused (401).
//
// Each test file works in its own *session* (`ws://127.0.0.1:PORT/ws/<session>`), so parallel test
// files never see each other's tasks; the plain `/ws` path is the `default` session.
//
//   const fake = await startFakeOverseer({ port: 0 });
//   // several at once (a fleet): each on its own port, with its own task-id prefix, as real
//   // overseers' ids never collide
//   const b = await startFakeOverseer({ port: 0, taskPrefix: 'b' });
//   // from a test: POST http://127.0.0.1:PORT/control/<session>/send {"frame": {...}}
//   await fake.close();
//
// Control API (JSON bodies and answers), all under /control/<session>/:
//   GET  messages          every frame received from the control plane, in order
//   GET  state             {clients, tasks}
//   GET  running           [source of each running task]
//   GET  stats             {clients, tasks, running, messages: {type: count}, rss, heapUsed}
//   POST reset             forget messages and tasks, mode auto, accept connections
//   POST mode {mode}       'auto' answers start/stop/list like the real overseer; 'manual' records only;
//                          'hold-starts' answers everything but `start` (the test replies to those)
//   POST raw {text}        push text as is (malformed or oversized frames)
//   POST send {frame}      push a frame (or {frames: [...]}, in order) to every connected client of the session
//   POST tasks {tasks}     replace the task table (TaskInfo objects)
//   POST restart           drop every connection and forget all tasks (an overseer restart)
//   POST refuse {refuse}   refuse (HTTP 503) new connections and drop the current ones
//   POST record {task_id, pid, lines | session}  push recorder event lines as `output` frames, in
//                          order: `lines` ([{event, ...fields}]) or `session` (segmentLifecycle's options,
//                          `single: true` for single-file mode), formatted as tools/recorder-events.mjs does
//   POST stopdelay {ms}    a stopped process exits (and `exited` is pushed) this long after `stop`
//   POST pool {limit}      set the pool limit (0 = unlimited): `pool_updated` to every client, then
//                          queued tasks start while there is room
//   POST purge | expire    drop every queued task (`dequeued` with reason purged | expired)
//
// The pool, as sticky-overseer 2.4.1 runs it: a `start` beyond the limit is answered `queued`
// (broadcast to every client, with the requester's `id` and the task id); when the task leaves the
// queue every client gets `dequeued` (reason started | stopped | purged | expired), and a started
// one is then answered `started` with the requester's id.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { recorderLine, segmentLifecycle } from '../../tools/recorder-events.mjs';

// Loaded through Node's resolver: the global setup runs through Vite, which would pick `ws`'s
// browser stub.
const { WebSocketServer } = createRequire(import.meta.url)('ws');

function newSession() {
  return {
    clients: new Set(),
    messages: [],
    tasks: new Map(),
    mode: 'auto',
    refuse: false,
    pid: 1000,
    n: 0,
    stopDelayMs: 0,
    refusedUnauthenticated: 0,
    // The pool: 0 = unlimited. Starts beyond the limit wait in `queue` (FIFO) as `queued` tasks.
    poolLimit: 0,
    queue: [],
    counters: { enqueued: 0, dequeued: 0, expired: 0 },
  };
}

export async function startFakeOverseer({ port = 0, host = '127.0.0.1', token = '', taskPrefix = 'task' } = {}) {
  const sessions = new Map();
  const session = (name) => {
    let s = sessions.get(name);
    if (!s) sessions.set(name, (s = newSession()));
    return s;
  };
  const now = () => new Date().toISOString();
  const send = (ws, frame) => ws.readyState === 1 && ws.send(JSON.stringify(frame));
  const broadcast = (s, frame) => {
    for (const ws of s.clients) send(ws, frame);
  };

  const running = (s) => [...s.tasks.values()].filter((t) => t.worker_state === 'running').length;
  const pool = (s) => ({ limit: s.poolLimit, running: running(s), queue_depth: s.queue.length });

  /** A process starts for `task`; `started` (with the requester's id) goes to the requester. */
  function run(s, task, id, ws) {
    s.pid += 1;
    Object.assign(task, { state: 'active', worker_state: 'running', current_pid: s.pid, last_started_at: now() });
    delete task.queued_at;
    return send(ws, { type: 'started', id, task_id: task.task_id, pid: task.current_pid, ts: now() });
  }

  /** A task leaves the queue: by starting (a slot freed), or removed (stopped, purged, expired). */
  function leaveQueue(s, taskId, reason) {
    const i = s.queue.findIndex((e) => e.task.task_id === taskId);
    if (i < 0) return;
    const [entry] = s.queue.splice(i, 1);
    s.counters.dequeued += 1;
    if (reason === 'expired') s.counters.expired += 1;
    broadcast(s, { type: 'dequeued', task_id: taskId, reason, ts: now() });
    if (reason === 'started') run(s, entry.task, entry.id, entry.ws);
    else s.tasks.delete(taskId);
  }

  /** Starts queued tasks while the pool has room. */
  function drain(s) {
    while (s.queue.length > 0 && (s.poolLimit === 0 || running(s) < s.poolLimit)) leaveQueue(s, s.queue[0].task.task_id, 'started');
  }

  function onFrame(s, ws, frame) {
    s.messages.push(frame);
    if (s.mode === 'manual') return;
    switch (frame.type) {
      case 'start': {
        if (s.mode === 'hold-starts') return; // the test answers starts itself
        const requested = frame.task_id || '';
        if (requested && s.tasks.has(requested)) return send(ws, { type: 'error', id: frame.id, message: 'task already running or starting' });
        for (const t of s.tasks.values()) {
          if (t.worker_state === 'running' && t.action === frame.action && t.params?.source === frame.params?.source) {
            return send(ws, { type: 'error', id: frame.id, message: `duplicate task: already running as ${t.task_id}`, existing_task_id: t.task_id });
          }
        }
        s.n += 1;
        const task = { task_id: requested || `${taskPrefix}-${s.n}`, action: frame.action, params: frame.params, restart_count: 0, created_at: now() };
        s.tasks.set(task.task_id, task);
        if (s.poolLimit > 0 && running(s) >= s.poolLimit) {
          // Pool full: the task waits. `queued` goes to every client and names the requester's id.
          task.state = 'queued';
          task.queued_at = now();
          s.queue.push({ task, id: frame.id, ws });
          s.counters.enqueued += 1;
          return broadcast(s, { type: 'queued', id: frame.id, task_id: task.task_id, position: s.queue.length, ts: now() });
        }
        return run(s, task, frame.id, ws);
      }
      case 'stop': {
        const t = s.tasks.get(frame.task_id);
        if (!t) return send(ws, { type: 'error', id: frame.id, message: 'task not found' });
        if (t.state === 'queued') return leaveQueue(s, t.task_id, 'stopped');
        t.state = 'stopped';
        // SIGTERM now, `exited` when the process is gone: until then the worker still runs (and the
        // action's dedupe still sees it), as with the real overseer.
        const exit = () => {
          const pid = t.current_pid;
          if (t.worker_state !== 'running') return;
          t.worker_state = 'exited';
          t.current_pid = 0;
          t.last_exit_code = 0;
          t.last_exited_at = now();
          if (pid) broadcast(s, { type: 'exited', task_id: t.task_id, pid, exit_code: 0, intentional: true, ts: now() });
          drain(s);
        };
        if (s.stopDelayMs > 0) setTimeout(exit, s.stopDelayMs);
        else exit();
        return;
      }
      case 'list':
        return send(ws, { type: 'tasks', id: frame.id, tasks: [...s.tasks.values()] });
      case 'subscribe':
        return send(ws, { type: 'subscribed', id: frame.id, task_id: frame.task_id });
      case 'pool_info':
        return send(ws, { type: 'pool_info', id: frame.id, pool: pool(s) });
      case 'metrics':
        return send(ws, {
          type: 'metrics',
          id: frame.id,
          global: { tasks_started: s.n, tasks_completed: 0, tasks_errored: 0, tasks_restarted: 0, total_output_lines: 0, ...s.counters, displaced: 0 },
        });
      default:
        return send(ws, { type: 'error', id: frame.id, message: `unknown message type ${frame.type}` });
    }
  }

  const wss = new WebSocketServer({ noServer: true });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const m = /^\/control\/([^/]+)\/([a-z]+)$/.exec(url.pathname);
    const reply = (status, body) => {
      // No keep-alive: workerd reusing a socket Node is just closing fails with "Network connection lost".
      res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify(body ?? {}));
    };
    if (!m) return reply(404, { error: 'not found' });
    const s = session(decodeURIComponent(m[1]));
    let body = {};
    if (req.method === 'POST') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const text = Buffer.concat(chunks).toString('utf8');
      body = text ? JSON.parse(text) : {};
    }
    switch (m[2]) {
      case 'stats': {
        // Counts only (a 3,000-task `state` is megabytes): for watching a large fleet settle.
        const byType = {};
        for (const f of s.messages) byType[f.type] = (byType[f.type] ?? 0) + 1;
        const mem = process.memoryUsage();
        return reply(200, { clients: s.clients.size, tasks: s.tasks.size, running: running(s), messages: byType, rss: mem.rss, heapUsed: mem.heapUsed });
      }
      case 'running':
        // The source of every running task: what a fleet test polls (a 3,000-task `state` is
        // megabytes, parsed inside workerd on every poll).
        return reply(200, [...s.tasks.values()].filter((t) => t.worker_state === 'running').map((t) => t.params?.source ?? ''));
      case 'messages':
        return reply(200, s.messages);
      case 'state':
        return reply(200, { clients: s.clients.size, tasks: [...s.tasks.values()], refusedUnauthenticated: s.refusedUnauthenticated });
      case 'reset':
        for (const ws of s.clients) ws.close();
        sessions.set(decodeURIComponent(m[1]), newSession());
        return reply(200, {});
      case 'pool':
        // An operator changed the limit: every client hears `pool_updated`, then waiting tasks start.
        s.poolLimit = Math.max(0, Number(body.limit) || 0);
        broadcast(s, { type: 'pool_updated', pool: pool(s), ts: now() });
        drain(s);
        return reply(200, pool(s));
      case 'purge':
      case 'expire':
        for (const e of [...s.queue]) leaveQueue(s, e.task.task_id, m[2] === 'purge' ? 'purged' : 'expired');
        return reply(200, pool(s));
      case 'stopdelay':
        s.stopDelayMs = Math.max(0, Number(body.ms) || 0);
        return reply(200, {});
      case 'mode':
        s.mode = ['manual', 'hold-starts'].includes(body.mode) ? body.mode : 'auto';
        return reply(200, {});
      case 'send':
        for (const frame of body.frames ?? [body.frame]) broadcast(s, frame);
        return reply(200, { clients: s.clients.size });
      case 'raw':
        // Text sent as is (not JSON-encoded): malformed and oversized frames.
        for (const ws of s.clients) if (ws.readyState === 1) ws.send(body.text ?? '');
        return reply(200, { clients: s.clients.size });
      case 'tasks':
        s.tasks = new Map((body.tasks ?? []).map((t) => [t.task_id, t]));
        return reply(200, {});
      case 'restart':
        s.tasks.clear();
        s.queue = [];
        for (const ws of s.clients) ws.close(1012, 'restart');
        return reply(200, {});
      case 'record': {
        const lines = body.session ? segmentLifecycle(body.session) : (body.lines ?? []).map(({ event, ...fields }) => recorderLine(event, fields));
        for (const data of lines) broadcast(s, { type: 'output', task_id: body.task_id, pid: body.pid ?? 0, stream: 'stdout', data, ts: now() });
        return reply(200, { clients: s.clients.size, lines: lines.length });
      }
      case 'refuse':
        s.refuse = body.refuse !== false;
        if (s.refuse) for (const ws of s.clients) ws.close(1001, 'going away');
        return reply(200, {});
      default:
        return reply(404, { error: 'unknown control' });
    }
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://x');
    const m = /^\/ws(?:\/([^/]+))?$/.exec(url.pathname);
    const name = m ? decodeURIComponent(m[1] ?? 'default') : null;
    if (!name || session(name).refuse) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // The shared secret, as a TLS proxy in front of the real overseer checks it (docs/dvr.md).
    if (token && req.headers.authorization !== `Bearer ${token}`) {
      session(name).refusedUnauthenticated += 1;
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s = session(name);
      s.clients.add(ws);
      ws.on('message', (data) => {
        let frame;
        try {
          frame = JSON.parse(String(data));
        } catch {
          return;
        }
        onFrame(s, ws, frame);
      });
      ws.on('close', () => s.clients.delete(ws));
    });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const address = server.address();
  return {
    port: address.port,
    async close() {
      for (const s of sessions.values()) for (const ws of s.clients) ws.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
