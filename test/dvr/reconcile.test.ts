/**
 * The overseer link's lifecycle against the fake overseer: reconnect after an overseer restart
 * (tasks gone → restarted), claiming running tasks (by stored task id and by action/source),
 * the "already running" fallback after pause → resume, queued starts, bulk starts bounded by
 * start_concurrency, event routing after the link's eviction, and user deletion stopping recorders.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm } from 'cloudflare:test';
import { setWorld } from '../../src/world';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer, type Frame } from './fake';

type Status = Record<string, unknown> & { worker_state: string; pid?: number; status: string; sub_id: number };

let fake: FakeOverseer;
let admin: TestUser;
let u: TestUser;

beforeEach(async () => {
  // A failed test must not leave starts unanswered or connections refused for the next one.
  await fake.mode('auto');
  await fake.refuse(false);
});

beforeAll(async () => {
  fake = await useFakeOverseer('reconcile');
  admin = await makeUser({ role: 'admin' });
  u = await makeUser();
});

const subscribe = (name: string, who: TestUser = u) => call('POST', '/api/subscriptions', { token: who.token, body: { driver: 'chaturbate', username: name } });
const status = async (name: string, who: TestUser = u) => json<Status>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: who.token }));
const logs = async (name: string) => (await json<{ logs: string[] }>(await call('GET', `/api/sources/chaturbate/${name}/logs`, { token: admin.token }))).logs;
const taskOf = async (name: string) =>
  (await fake.state()).tasks.find((t) => (t.params as Record<string, string>).source === name && t.worker_state === 'running');
const connected = () => eventually(() => call('GET', '/api/health'), (r) => r.status === 200, 'link connected');

describe('overseer restart', () => {
  it('restarts sources whose tasks vanished and claims the ones still running', async () => {
    await connected();
    await subscribe('gone');
    await eventually(() => status('gone'), (s) => s.worker_state === 'running', 'gone running');
    const before = (await taskOf('gone'))!;

    await fake.restart(); // drops the connection and forgets every task
    await connected();
    // The stored id is offered again (the overseer accepts it: it forgot the task); a new process runs it.
    const after = await eventually(() => taskOf('gone'), (t) => t !== undefined && t.current_pid !== before.current_pid, 'a fresh task');
    await eventually(() => status('gone'), (s) => s.worker_state === 'running' && s.pid === after!.current_pid, 'running on the fresh task');

    // Only the connection drops this time: the task survives and is claimed by its id.
    const messagesBefore = (await fake.messages()).length;
    await fake.refuse(true);
    await eventually(() => call('GET', '/api/health'), (r) => r.status === 503, 'link down');
    await fake.refuse(false);
    await connected();
    const sub = await fake.waitForMessage((m) => m.type === 'subscribe' && m.task_id === after!.task_id, 'subscribe to the claimed task');
    expect(sub.task_id).toBe(after!.task_id);
    const newStarts = (await fake.messages()).slice(messagesBefore).filter((m) => m.type === 'start' && m.params?.source === 'gone');
    expect(newStarts).toHaveLength(0);
    expect(await logs('gone')).toContain(`[system] claimed running task=${after!.task_id} pid=${after!.current_pid}`);
  });

  it('claims a running task by action and source when the stored id is unknown', async () => {
    await fake.refuse(true);
    await eventually(() => call('GET', '/api/health'), (r) => r.status === 503, 'link down');
    await subscribe('orphan'); // cannot start: no link
    await eventually(() => status('orphan'), (s) => s.worker_state === 'idle', 'idle after a failed start');
    expect((await logs('orphan')).some((l) => l.startsWith('[system] start failed: '))).toBe(true);
    await fake.tasks([
      ...(await fake.state()).tasks,
      { task_id: 'adopt-me', action: 'chaturbate', params: { source: 'orphan' }, state: 'active', worker_state: 'running', current_pid: 777, restart_count: 0, created_at: new Date().toISOString() },
    ]);
    await fake.refuse(false);
    await connected();
    const s = await eventually(() => status('orphan'), (x) => x.worker_state === 'running', 'claimed');
    expect(s.pid).toBe(777);
    expect(await logs('orphan')).toContain('[system] claimed running task=adopt-me pid=777');
    // Events of the adopted task are now routed to the source.
    await fake.send({ type: 'output', task_id: 'adopt-me', pid: 777, stream: 'stdout', data: '{"event":"SLEEP","source":"orphan","interval":"1m0s"}', ts: new Date().toISOString() });
    await eventually(() => status('orphan'), (x) => x.recording_state === 'sleeping', 'sleeping');
  });
});

describe('periodic reconciliation (alarm)', () => {
  it('restarts a source whose task silently vanished from the overseer', async () => {
    await connected();
    await subscribe('vanished');
    await eventually(() => status('vanished'), (s) => s.worker_state === 'running', 'running');
    const before = (await taskOf('vanished'))!;
    await fake.tasks((await fake.state()).tasks.filter((t) => t.task_id !== before.task_id));
    const link = env.OVERSEER_LINK.getByName('overseer');
    // Move the clock past reconcile_interval (60 s) and run the link's alarm by hand.
    const restore = setWorld({ now: () => Date.now() + 61_000 });
    try {
      await runDurableObjectAlarm(link);
    } finally {
      restore();
    }
    await eventually(() => taskOf('vanished'), (t) => t !== undefined && t.current_pid !== before.current_pid, 'restarted');
    expect(await logs('vanished')).toContain('[system] worker gone (detected by reconciler), restarting');
  });
});

describe('start sequence', () => {
  it('lists the start the overseer confirmed as a "started" worker event of the source', async () => {
    await connected();
    await subscribe('confirmed');
    await eventually(() => status('confirmed'), (s) => s.worker_state === 'running', 'running');
    const task = (await taskOf('confirmed'))!;
    const events = await eventually(
      async () => (await json<{ events: Array<{ event_type: string; pid: number }> }>(await call('GET', '/api/sources/chaturbate/confirmed/events', { token: u.token }))).events,
      (es) => es.length > 0,
      'an event listed',
    );
    expect(events).toEqual([expect.objectContaining({ event_type: 'started', pid: task.current_pid })]);
  });

  it('after pause → resume, stops the stored task and starts afresh when the overseer says "already running"', async () => {
    await connected();
    await subscribe('again');
    await eventually(() => status('again'), (s) => s.worker_state === 'running', 'running');
    const first = (await taskOf('again'))!;
    await call('POST', '/api/subscriptions/chaturbate/again/pause', { token: u.token });
    await eventually(() => status('again'), (s) => s.worker_state === 'idle', 'idle after stop');
    const mark = (await fake.messages()).length;
    await call('POST', '/api/subscriptions/chaturbate/again/resume', { token: u.token });
    await eventually(() => status('again'), (s) => s.worker_state === 'running', 'running again');
    const seq = (await fake.messages()).slice(mark).filter((m) => (m.type === 'start' && m.params?.source === 'again') || m.task_id === first.task_id);
    const events = await json<{ events: Array<{ event_type: string }> }>(await call('GET', '/api/sources/chaturbate/again/events', { token: u.token }));
    expect(events.events.map((e) => e.event_type)).toContain('stopped');
    expect(seq.map((m) => [m.type, m.task_id])).toEqual([
      ['start', first.task_id],
      ['stop', first.task_id],
      ['start', ''],
    ]);
  });

  it('does not time out a queued start: the later started completes it', async () => {
    await fake.mode('hold-starts');
    await subscribe('queued');
    const start = await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === 'queued', 'start');
    await fake.send({ type: 'queued', id: start.id, task_id: 'q-1', position: 1 });
    // Longer than the 20 s start timeout.
    await new Promise((r) => setTimeout(r, 21_000));
    expect((await status('queued')).worker_state).toBe('starting');
    await fake.send({ type: 'started', id: start.id, task_id: 'q-1', pid: 4242 });
    const s = await eventually(() => status('queued'), (x) => x.worker_state === 'running', 'running');
    expect(s.pid).toBe(4242);
    await fake.mode('auto');
  }, 40_000);

  it('bounds bulk starts by start_concurrency', async () => {
    const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
    await call('PUT', '/api/config', { token: admin.token, body: { ...cfg, start_concurrency: 2 } });
    await fake.refuse(true);
    await eventually(() => call('GET', '/api/health'), (r) => r.status === 503, 'link down');
    const names = ['bulk1', 'bulk2', 'bulk3', 'bulk4', 'bulk5'];
    for (const n of names) await subscribe(n);
    await fake.mode('hold-starts');
    const mark = (await fake.messages()).length;
    await fake.refuse(false);
    await connected();
    // Every start after the reconnect counts (the reconciler may restart other sources too).
    const starts = async () => (await fake.messages()).slice(mark).filter((m: Frame) => m.type === 'start');
    const two = await eventually(starts, (ms) => ms.length >= 2, 'two starts in flight');
    // Let the link make progress on everything else it has to do; no third start may appear.
    for (let i = 0; i < 5; i++) await call('GET', '/api/subscriptions', { token: u.token });
    expect(await starts()).toHaveLength(2);
    await fake.send({ type: 'started', id: two[0]!.id, task_id: 'b-500', pid: 500 });
    const three = await eventually(starts, (ms) => ms.length >= 3, 'a third start after one finished');
    expect(three).toHaveLength(3);
    const answered = new Set([two[0]!.id]);
    let pid = 501;
    for (let round = 0; ; round++) {
      for (const m of await starts()) {
        if (answered.has(m.id)) continue;
        answered.add(m.id);
        await fake.send({ type: 'started', id: m.id, task_id: `b-${pid}`, pid: pid++ });
      }
      const states = await Promise.all(names.map((n) => status(n)));
      if (states.every((s) => s.worker_state === 'running')) break;
      if (round > 400) throw new Error('bulk starts never finished');
      await new Promise((r) => setTimeout(r, 25));
    }
    await fake.mode('auto');
    await call('PUT', '/api/config', { token: admin.token, body: cfg });
  });
});

describe('stale starts', () => {
  it("restarts a source left 'starting' by a link that lost its memory mid-start", async () => {
    await connected();
    await fake.mode('hold-starts');
    await subscribe('stale');
    await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === 'stale', 'first start');
    expect((await status('stale')).worker_state).toBe('starting');
    await abortAllDurableObjects(); // the pending start dies with the instance; the monitor keeps 'starting'
    await fake.mode('auto');
    await connected();
    const s = await eventually(() => status('stale'), (x) => x.worker_state === 'running', 'running after the reconnect');
    expect(s.pid).toBe((await taskOf('stale'))!.current_pid);
  });
});

describe('routing and side effects', () => {
  it('keeps routing events by task id after the link (and every monitor) lost its memory', async () => {
    await connected();
    await subscribe('routed');
    await eventually(() => status('routed'), (s) => s.worker_state === 'running', 'running');
    const task = (await taskOf('routed'))!;
    // The open outbound WebSocket keeps a graceful eviction waiting, so the instance is torn down
    // the hard way (storage kept, memory lost) — the harsher case.
    await abortAllDurableObjects();
    await connected();
    await fake.send({ type: 'output', task_id: task.task_id, pid: task.current_pid, stream: 'stdout', data: '{"event":"HEARTBEAT","session_duration":"00:01:00","bytes_written":"10","file":"x.ts","segment_duration":"00:01:00","recording":"0","segment":"0"}', ts: '2026-11-22T03:00:00Z' });
    const s = await eventually(() => status('routed'), (x) => x.last_heartbeat === '2026-11-22T03:00:00Z', 'heartbeat applied');
    expect(s).toMatchObject({ session_active: true, session_duration: '00:01:00', recording_state: 'recording', status: 'recording' });
  });

  it("stops a recorder when the user deleted was its last active subscriber, not when another remains", async () => {
    await connected();
    const solo = await makeUser();
    const shared = await makeUser();
    const other = await makeUser();
    await subscribe('solo', solo);
    await subscribe('shared', shared);
    await subscribe('shared', other);
    await eventually(() => status('solo', solo), (s) => s.worker_state === 'running', 'solo running');
    await eventually(() => status('shared', other), (s) => s.worker_state === 'running', 'shared running');
    const soloTask = (await taskOf('solo'))!;
    const sharedTask = (await taskOf('shared'))!;
    expect((await call('DELETE', `/api/users/${solo.id}`, { token: admin.token })).status).toBe(204);
    expect((await call('DELETE', `/api/users/${shared.id}`, { token: admin.token })).status).toBe(204);
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === soloTask.task_id, 'stop for solo');
    expect((await fake.messages()).some((m) => m.type === 'stop' && m.task_id === sharedTask.task_id)).toBe(false);
    await eventually(() => status('shared', other), (s) => s.worker_state === 'running', 'shared still running');
  });
});
