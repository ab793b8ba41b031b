/**
 * Crash consistency of the SourceMonitor's D1 mirror (issue 20, last paragraph): the monitor's own
 * storage is the truth; what D1 must receive (the runtime row, worker events) is kept in an outbox
 * committed with the state, delivered until D1 confirms, and never delivered twice.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { monitorName } from '../../src/dvr/runtime';
import type { SourceMonitor } from '../../durable-objects/source-monitor';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, subscribedAndRunning, useFakeOverseer, type FakeOverseer } from './fake';

type Status = { worker_state: string; pid?: number; recording_state?: string; status: string; session_active: boolean };

let fake: FakeOverseer;
let user: TestUser;

beforeAll(async () => {
  fake = await useFakeOverseer('mirror-outbox');
  user = await makeUser();
});

const listed = async (name: string) =>
  (await json<Array<Status & { username: string }>>(await call('GET', '/api/subscriptions', { token: user.token }))).find((s) => s.username === name)!;
const events = async (name: string) =>
  (await json<{ events: Array<{ event_type: string; exit_code?: number }> }>(await call('GET', `/api/sources/chaturbate/${name}/events`, { token: user.token }))).events;
const monitorOf = (name: string) => env.SOURCE_MONITOR.getByName(monitorName({ driver: 'chaturbate', username: name }));
/** Delivers what D1 has not confirmed yet; true when nothing is left (the monitor's own outbox). */
const flushMirror = (name: string) =>
  runInDurableObject(monitorOf(name), async (instance: SourceMonitor) => {
    const monitor = instance as unknown as { flush(): Promise<void>; mirrorPending(): boolean };
    await monitor.flush();
    return !monitor.mirrorPending();
  });

/** Replaces the monitor's D1 binding with one whose next `batch` fails: before the write
 * ('lost-write') or after it committed, with the answer lost ('lost-answer'). */
async function breakNextMirrorWrite(name: string, how: 'lost-write' | 'lost-answer'): Promise<void> {
  await runInDurableObject(monitorOf(name), (instance: SourceMonitor) => {
    const self = instance as unknown as { env: Env };
    const real = self.env.DB;
    let broken = true;
    const db = {
      prepare: (q: string) => real.prepare(q),
      batch: async (stmts: D1PreparedStatement[]) => {
        if (!broken) return real.batch(stmts);
        broken = false;
        if (how === 'lost-answer') await real.batch(stmts);
        throw new Error('D1_ERROR: Network connection lost');
      },
    };
    self.env = { ...self.env, DB: db as unknown as D1Database };
  });
}


describe('the runtime mirror in D1', () => {
  it('a mirror write interrupted after the monitor committed is delivered by the retry, and lists agree again', async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, user, 'interrupted');
    await breakNextMirrorWrite('interrupted', 'lost-write');
    await fake.send({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: '{"event":"RECORDING START","recording":"0"}', ts: '2026-11-30T10:00:00Z' });
    // The monitor applied it (its own truth, e.g. the log tail) while D1 still shows the old row.
    await eventually(() => monitorOf('interrupted').logs(), (ls) => ls.some((l) => l.includes('RECORDING START')), 'monitor applied');
    expect((await listed('interrupted')).recording_state).toBeUndefined();
    // The retry (the monitor's alarm) repairs the divergence.
    await runDurableObjectAlarm(monitorOf('interrupted'));
    const s = await eventually(() => listed('interrupted'), (x) => x.recording_state === 'recording', 'the list repaired');
    expect(s).toMatchObject({ status: 'recording', session_active: true });
    expect(await flushMirror('interrupted')).toBe(true);
  });

  it('a worker event whose D1 answer was lost is recorded exactly once after the retry', async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, user, 'once');
    await breakNextMirrorWrite('once', 'lost-answer');
    await fake.send({ type: 'exited', task_id: taskId, pid, exit_code: 3, intentional: false, ts: '2026-11-30T10:00:00Z' });
    await eventually(() => events('once'), (es) => es.some((e) => e.event_type === 'exited'), 'event in D1');
    await runDurableObjectAlarm(monitorOf('once'));
    expect(await flushMirror('once')).toBe(true);
    expect((await events('once')).filter((e) => e.event_type === 'exited')).toEqual([expect.objectContaining({ event_type: 'exited', exit_code: 3 })]);
    expect((await listed('once')).worker_state).toBe('idle');
  });

  it('a failed mirror write does not fail the operation that caused it', async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, user, 'op-ok');
    await breakNextMirrorWrite('op-ok', 'lost-write');
    // The pause's stop reaches the overseer and the exit is applied although D1 refused once.
    expect((await call('POST', '/api/subscriptions/chaturbate/op-ok/pause', { token: user.token })).status).toBe(200);
    await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === taskId, 'stop sent');
    await runDurableObjectAlarm(monitorOf('op-ok'));
    await eventually(() => listed('op-ok'), (x) => x.worker_state === 'idle' && x.pid === undefined, 'idle in D1');
    expect(pid).toBeGreaterThan(0);
  });
});
