/**
 * The error window kept by each SourceMonitor: unintentional exits within `error_window` put the
 * source in `errored` at `error_threshold`; exits spread wider than the window do not; the state
 * survives the monitor's eviction; alarms prune the window; reset-error starts from zero.
 * Exits are pushed by the fake overseer over the real WebSocket; the clock is moved with `setWorld`.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setWorld } from '../../src/world';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer } from './fake';

type Status = Record<string, unknown> & { worker_state: string; pid?: number; status: string };

let fake: FakeOverseer;
let admin: TestUser;
let u: TestUser;
let restoreClock: (() => void) | null = null;

beforeAll(async () => {
  fake = await useFakeOverseer('error-window');
  admin = await makeUser({ role: 'admin' });
  u = await makeUser();
  const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
  const put = await call('PUT', '/api/config', { token: admin.token, body: { ...cfg, error_threshold: 3, error_window: '5m' } });
  expect(put.status).toBe(200);
});

afterEach(() => {
  restoreClock?.();
  restoreClock = null;
});

const status = async (name: string) => json<Status>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: u.token }));
const monitor = (name: string) => env.SOURCE_MONITOR.getByName(`chaturbate/${name}`);
/** Unintentional exits inside the monitor's error window, read from its own storage. */
const exitedEvents = async (name: string) =>
  (await json<{ events: Array<{ event_type: string }> }>(await call('GET', `/api/sources/chaturbate/${name}/events`, { token: u.token }))).events.filter((e) => e.event_type === 'exited').length;
const windowCount = (name: string) => runInDurableObject(monitor(name), (_instance, state) => state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM exits`).one().n);

/** Subscribes and waits for the fake's auto-started task; returns its id and pid. */
async function running(name: string): Promise<{ taskId: string; pid: number }> {
  const res = await call('POST', '/api/subscriptions', { token: u.token, body: { driver: 'chaturbate', username: name } });
  expect(res.status).toBe(201);
  const s = await eventually(() => status(name), (x) => x.worker_state === 'running', `${name} running`);
  const st = await fake.state();
  const task = st.tasks.find((t) => (t.params as Record<string, string>).source === name && t.worker_state === 'running')!;
  expect(task.current_pid).toBe(s.pid);
  return { taskId: String(task.task_id), pid: Number(task.current_pid) };
}

async function crash(taskId: string, pid: number, code = 3): Promise<void> {
  await fake.send({ type: 'exited', task_id: taskId, pid, exit_code: code, intentional: false, ts: new Date().toISOString() });
}

function freezeClockAt(ms: number): (to: number) => void {
  let now = ms;
  restoreClock = setWorld({ now: () => now });
  return (to) => {
    now = to;
  };
}

describe('error window', () => {
  it('puts the source in errored when the threshold is reached inside the window, and stops its task', async () => {
    const { taskId, pid } = await running('burst');
    for (let i = 0; i < 3; i++) await crash(taskId, pid);
    const s = await eventually(() => status('burst'), (x) => x.worker_state === 'errored', 'errored');
    expect(s).toMatchObject({ status: 'error', error_message: 'error threshold reached after 3 exits', session_active: false });
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === taskId, 'stop of the errored task');
    const ev = await json<{ events: Array<{ event_type: string; exit_code?: number }> }>(await call('GET', '/api/sources/chaturbate/burst/events', { token: u.token }));
    // Three crashes (code 3), the errored mark, then the intentional exit caused by our stop (code 0).
    expect(ev.events.filter((e) => e.event_type === 'exited' && e.exit_code === 3)).toHaveLength(3);
    expect(ev.events.filter((e) => e.event_type === 'errored')).toHaveLength(1);
    const logs = await json<{ logs: string[] }>(await call('GET', '/api/sources/chaturbate/burst/logs', { token: u.token }));
    expect(logs.logs).toContain('[system] error threshold reached — use reset-error to retry');
  });

  it('does not count exits that are further apart than the window', async () => {
    const { taskId, pid } = await running('spread');
    const t0 = Date.now();
    const setNow = freezeClockAt(t0);
    await crash(taskId, pid);
    await eventually(() => windowCount('spread'), (n) => n === 1, 'first exit counted');
    setNow(t0 + 6 * 60_000);
    await crash(taskId, pid);
    // The window still holds the first exit until the second is applied: wait for that exit to be
    // recorded before moving the clock again (the link hands a source's frames on every 50 ms).
    await eventually(() => exitedEvents('spread'), (n) => n === 2, 'second exit recorded');
    await eventually(() => windowCount('spread'), (n) => n === 1, 'old exit left the window');
    setNow(t0 + 12 * 60_000);
    await crash(taskId, pid);
    const ev = await eventually(
      async () => json<{ events: Array<{ event_type: string }> }>(await call('GET', '/api/sources/chaturbate/spread/events', { token: u.token })),
      (e) => e.events.filter((x) => x.event_type === 'exited').length === 3,
      'three exits recorded',
    );
    expect(ev.events.some((e) => e.event_type === 'errored')).toBe(false);
    expect((await status('spread')).worker_state).not.toBe('errored');
    expect(await windowCount('spread')).toBe(1);
  });

  it('prunes the window with its alarm', async () => {
    const { taskId, pid } = await running('pruned');
    const t0 = Date.now();
    const setNow = freezeClockAt(t0);
    await crash(taskId, pid);
    await eventually(() => windowCount('pruned'), (n) => n === 1, 'exit counted');
    setNow(t0 + 5 * 60_000 + 10);
    await runDurableObjectAlarm(monitor('pruned'));
    expect(await windowCount('pruned')).toBe(0);
  });

  it('keeps the errored state, the log tail and the window across an eviction of the monitor', async () => {
    const { taskId, pid } = await running('evicted');
    for (let i = 0; i < 3; i++) await crash(taskId, pid);
    await eventually(() => status('evicted'), (x) => x.worker_state === 'errored', 'errored');
    const before = await json<{ logs: string[] }>(await call('GET', '/api/sources/chaturbate/evicted/logs', { token: u.token }));
    await evictDurableObject(monitor('evicted'));
    const after = await json<{ logs: string[] }>(await call('GET', '/api/sources/chaturbate/evicted/logs', { token: u.token }));
    expect(after.logs).toEqual(before.logs);
    expect(after.logs.length).toBeGreaterThan(3);
    const s = await status('evicted');
    expect(s).toMatchObject({ worker_state: 'errored', error_message: 'error threshold reached after 3 exits' });
    expect(await windowCount('evicted')).toBe(3);
  });

  it('reset-error starts a fresh task and the window from zero', async () => {
    const { taskId, pid } = await running('reset');
    for (let i = 0; i < 3; i++) await crash(taskId, pid);
    await eventually(() => status('reset'), (x) => x.worker_state === 'errored', 'errored');
    const res = await call('POST', '/api/subscriptions/chaturbate/reset/reset-error', { token: u.token });
    expect(res.status).toBe(200);
    expect(await windowCount('reset')).toBe(0);
    const s = await eventually(() => status('reset'), (x) => x.worker_state === 'running', 'running again');
    expect(s).not.toHaveProperty('error_message');
    const st = await fake.state();
    const fresh = st.tasks.find((t) => (t.params as Record<string, string>).source === 'reset' && t.worker_state === 'running')!;
    expect(fresh.task_id).not.toBe(taskId);
    // Two more exits of the new task stay under the threshold of 3.
    for (let i = 0; i < 2; i++) await crash(String(fresh.task_id), Number(fresh.current_pid));
    await eventually(() => windowCount('reset'), (n) => n === 2, 'two exits counted');
    expect((await status('reset')).worker_state).not.toBe('errored');
    const logs = await json<{ logs: string[] }>(await call('GET', '/api/sources/chaturbate/reset/logs', { token: u.token }));
    expect(logs.logs).toContain('[system] reset — restarting worker with current configuration');
  });

  it('admin restart leaves errored in any state and restart-all skips errored sources unless asked', async () => {
    const { taskId, pid } = await running('restarted');
    for (let i = 0; i < 3; i++) await crash(taskId, pid);
    await eventually(() => status('restarted'), (x) => x.worker_state === 'errored', 'errored');
    const skip = await json<{ restarted: number; skipped: number }>(
      await call('POST', '/api/admin/sources/restart-all', { token: admin.token, body: { include_errored: false } }),
    );
    expect(skip.skipped).toBeGreaterThanOrEqual(1);
    expect((await status('restarted')).worker_state).toBe('errored');
    const all = await call('POST', '/api/admin/sources/restart-all', { token: admin.token });
    expect(all.status).toBe(200);
    expect((await status('restarted')).worker_state).toBe('errored'); // empty body = include_errored false
    const inc = await json<{ restarted: number }>(await call('POST', '/api/admin/sources/restart-all', { token: admin.token, body: { include_errored: true } }));
    expect(inc.restarted).toBeGreaterThanOrEqual(1);
    await eventually(() => status('restarted'), (x) => x.worker_state === 'running', 'running after restart-all');
  });
});
