/**
 * Starts that wait in the overseer's pool queue (issue 11 items 5 and 6), against the fake
 * overseer's model of sticky-overseer 2.4.1 with a pool limit: `queued` (broadcast, with our
 * request id and the task id), `dequeued` (started | stopped | purged | expired) and `pool_updated`.
 */
import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setWorld } from '../../src/world';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer } from './fake';

type Status = { worker_state: string; pid?: number; sub_id: number; status: string };

let fake: FakeOverseer;
let admin: TestUser;

beforeAll(async () => {
  fake = await useFakeOverseer('pool-queue');
  admin = await makeUser({ role: 'admin' });
});

beforeEach(async () => {
  await fake.mode('auto');
  // Nothing of an earlier test may hold the one slot or wait in the queue.
  await fake.purge();
  await fake.tasks([]);
  await fake.pool(0);
});

const subscribe = (who: TestUser, name: string) => call('POST', '/api/subscriptions', { token: who.token, body: { driver: 'chaturbate', username: name } });
const status = async (who: TestUser, name: string) => json<Status>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: who.token }));
const logs = async (name: string) => (await json<{ logs: string[] }>(await call('GET', `/api/sources/chaturbate/${name}/logs`, { token: admin.token }))).logs;
const connected = () => eventually(() => call('GET', '/api/health'), (r) => r.status === 200, 'link connected');
const tasksOf = async (name: string) => (await fake.state()).tasks.filter((t) => (t.params as Record<string, string>).source === name);

/** One source holds the only slot; `name` is then subscribed and waits in the queue. */
async function queuedBehindBusy(name: string): Promise<{ user: TestUser; queuedTaskId: string }> {
  await connected();
  const busyOwner = await makeUser();
  await fake.pool(1);
  await subscribe(busyOwner, `${name}-busy`);
  await eventually(() => status(busyOwner, `${name}-busy`), (s) => s.worker_state === 'running', 'busy running');
  const user = await makeUser();
  await subscribe(user, name);
  const queued = await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === name, 'start');
  const task = await eventually(() => tasksOf(name), (ts) => ts.some((t) => t.state === 'queued'), 'task queued');
  await eventually(() => logs(name), (ls) => ls.some((l) => l.startsWith('[system] start queued by the overseer')), 'queued logged');
  expect((await status(user, name)).worker_state).toBe('starting');
  expect(queued.id).toBeTruthy();
  return { user, queuedTaskId: String(task[0]!.task_id) };
}

/** Runs the link's periodic reconcile now, with the clock moved forward by `ms` more than the last
 * time (the link remembers when it last reconciled, on the moved clock). */
let clockOffset = 0;
async function reconcileAfter(ms: number): Promise<void> {
  clockOffset += ms;
  const offset = clockOffset;
  const restore = setWorld({ now: () => Date.now() + offset });
  try {
    await runDurableObjectAlarm(env.OVERSEER_LINK.getByName('overseer'));
  } finally {
    restore();
  }
}

describe('a start waiting in the pool queue', () => {
  it('runs when a slot frees (pool_updated, then dequeued and started)', async () => {
    const { user } = await queuedBehindBusy('slot');
    await fake.pool(2);
    const s = await eventually(() => status(user, 'slot'), (x) => x.worker_state === 'running', 'running after the slot freed');
    expect(s.pid).toBe((await tasksOf('slot'))[0]!.current_pid);
  });

  it('paused while queued: the queued task is withdrawn within seconds and never records', async () => {
    const { user, queuedTaskId } = await queuedBehindBusy('pq');
    await call('POST', '/api/subscriptions/chaturbate/pq/pause', { token: user.token });
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === queuedTaskId, 'stop for the queued task');
    await eventually(() => status(user, 'pq'), (s) => s.worker_state === 'idle', 'idle');
    await fake.pool(5); // the slot frees: nothing of pq may start
    await new Promise((r) => setTimeout(r, 300));
    expect((await tasksOf('pq')).filter((t) => t.worker_state === 'running')).toHaveLength(0);
  });

  it('archived while queued: withdrawn as well', async () => {
    const { user, queuedTaskId } = await queuedBehindBusy('aq');
    expect((await call('DELETE', '/api/subscriptions/chaturbate/aq', { token: user.token })).status).toBe(204);
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === queuedTaskId, 'stop for the queued task');
    await fake.pool(5);
    await new Promise((r) => setTimeout(r, 300));
    expect((await tasksOf('aq')).filter((t) => t.worker_state === 'running')).toHaveLength(0);
  });

  it('last subscriber deleted while queued: withdrawn as well', async () => {
    const { user, queuedTaskId } = await queuedBehindBusy('dq');
    expect((await call('DELETE', `/api/users/${user.id}`, { token: admin.token })).status).toBe(204);
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === queuedTaskId, 'stop for the queued task');
    await fake.pool(5);
    await new Promise((r) => setTimeout(r, 300));
    expect((await tasksOf('dq')).filter((t) => t.worker_state === 'running')).toHaveLength(0);
  });

  it('paused then resumed while queued: it still starts once a slot frees', async () => {
    const { user } = await queuedBehindBusy('flip');
    await call('POST', '/api/subscriptions/chaturbate/flip/pause', { token: user.token });
    await call('POST', '/api/subscriptions/chaturbate/flip/resume', { token: user.token });
    await fake.pool(5);
    await eventually(() => status(user, 'flip'), (s) => s.worker_state === 'running', 'running');
    expect((await tasksOf('flip')).filter((t) => t.worker_state === 'running')).toHaveLength(1);
  });

  it('dequeued without a start (purged): the source leaves starting at once and the reconciler starts it again', async () => {
    const { user } = await queuedBehindBusy('purged');
    await fake.purge();
    await eventually(() => status(user, 'purged'), (s) => s.worker_state === 'idle', 'idle after the purge');
    expect(await logs('purged')).toContain('[system] start failed: overseer: queued start dropped (purged)');
    await fake.pool(0);
    await reconcileAfter(61_000);
    await eventually(() => status(user, 'purged'), (s) => s.worker_state === 'running', 'running after the reconcile');
  });

  it('dequeued by expiry: idle, not starting for ever', async () => {
    const { user } = await queuedBehindBusy('expired');
    await fake.expire();
    await eventually(() => status(user, 'expired'), (s) => s.worker_state === 'idle', 'idle after expiry');
    expect(await logs('expired')).toContain('[system] start failed: overseer: queued start dropped (expired)');
  });

  it('a queued start whose dequeued never arrived is repaired by the reconcile', async () => {
    await connected();
    const user = await makeUser();
    await fake.mode('hold-starts');
    await subscribe(user, 'ghost');
    const start = await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === 'ghost', 'start');
    // The overseer queued it and then lost it without telling us (no task in its list).
    await fake.send({ type: 'queued', id: start.id, task_id: 'ghost-q', position: 1 });
    await eventually(() => logs('ghost'), (ls) => ls.some((l) => l.includes('task=ghost-q')), 'queued applied');
    await fake.mode('auto');
    await reconcileAfter(61_000);
    const s = await eventually(() => status(user, 'ghost'), (x) => x.worker_state === 'running', 'running after the repair');
    expect(s.pid).toBe((await tasksOf('ghost')).find((t) => t.worker_state === 'running')!.current_pid);
    expect(await logs('ghost')).toContain('[system] queued task ghost-q no longer known to the overseer (reconciler), starting again');
  });

  it('a queued start past its deadline is withdrawn and retried by the reconcile', async () => {
    const { user, queuedTaskId } = await queuedBehindBusy('late');
    const mark = (await fake.messages()).length;
    await reconcileAfter(11 * 60_000);
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === queuedTaskId, 'the overdue queued task withdrawn');
    const again = await eventually(async () => (await fake.messages()).slice(mark).filter((m) => m.type === 'start' && m.params?.source === 'late'), (ms) => ms.length === 1, 'a new start');
    expect(again[0]!.task_id).toBe(''); // never the withdrawn task's id
    const retried = await eventually(() => tasksOf('late'), (ts) => ts.some((t) => t.state === 'queued'), 'queued again (the pool is still full)');
    expect(retried.map((t) => t.task_id)).not.toContain(queuedTaskId);
    // The echo of the withdrawn task's `dequeued` must not knock the new start back to idle.
    await new Promise((r) => setTimeout(r, 300));
    expect((await status(user, 'late')).worker_state).toBe('starting');
    expect(await logs('late')).toContain('[system] queued start deadline passed (reconciler), starting again');
  });
});

describe('a start answered after its source stopped being wanted', () => {
  it('is stopped as soon as its started arrives', async () => {
    await connected();
    const user = await makeUser();
    await fake.mode('hold-starts');
    await subscribe(user, 'too-late');
    const start = await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === 'too-late', 'start');
    await call('POST', '/api/subscriptions/chaturbate/too-late/pause', { token: user.token });
    await fake.send({ type: 'started', id: start.id, task_id: 'tl-1', pid: 9090 });
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === 'tl-1', 'stop right after the start');
    await fake.send({ type: 'exited', task_id: 'tl-1', pid: 9090, exit_code: 0, intentional: true });
    await eventually(() => status(user, 'too-late'), (s) => s.worker_state === 'idle', 'idle');
  });
});
