/**
 * The overseer link's trust boundary (issue 11 item 11): the shared secret on the upgrade, no
 * plain ws:// or secret-less configuration outside local development, and every inbound frame
 * bounded in size and validated with zod before anything acts on it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { overseerConfigProblem, parseServerFrame } from '../../src/dvr/protocol';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, subscribedAndRunning, useFakeOverseer, type FakeOverseer } from './fake';

type Status = { worker_state: string; pid?: number; recording_state?: string; status: string };

let fake: FakeOverseer;
let admin: TestUser;
let user: TestUser;

beforeAll(async () => {
  fake = await useFakeOverseer('link-security');
  admin = await makeUser({ role: 'admin' });
  user = await makeUser();
});

const status = async (name: string) => json<Status>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: user.token }));
const logs = async (name: string) => (await json<{ logs: string[] }>(await call('GET', `/api/sources/chaturbate/${name}/logs`, { token: admin.token }))).logs;
const connected = () => eventually(() => call('GET', '/api/health'), (r) => r.status === 200, 'link connected');
const TOKEN = 'x'.repeat(32);


describe('authentication of the link', () => {
  it('connects to an overseer that demands the shared secret on the upgrade', async () => {
    await connected(); // the fake refuses (401) any upgrade without `Authorization: Bearer OVERSEER_TOKEN`
    expect((await fake.state()).refusedUnauthenticated).toBe(0);
  });

  it('refuses an unauthenticated or cleartext configuration outside local development', () => {
    expect(overseerConfigProblem({ OVERSEER_URL: 'ws://overseer.internal:8080/ws', ALLOW_INSECURE_OVERSEER: 'false', OVERSEER_TOKEN: TOKEN })).toMatch(/must be wss:\/\//);
    expect(overseerConfigProblem({ OVERSEER_URL: 'http://overseer.internal/ws', ALLOW_INSECURE_OVERSEER: 'true', OVERSEER_TOKEN: TOKEN })).toMatch(/must be ws:\/\/ or wss:\/\//);
    expect(overseerConfigProblem({ OVERSEER_URL: 'wss://overseer.internal/ws', ALLOW_INSECURE_OVERSEER: 'false', OVERSEER_TOKEN: '' })).toMatch(/OVERSEER_TOKEN/);
    expect(overseerConfigProblem({ OVERSEER_URL: 'wss://overseer.internal/ws', ALLOW_INSECURE_OVERSEER: 'false', OVERSEER_TOKEN: 'short' })).toMatch(/OVERSEER_TOKEN/);
    expect(overseerConfigProblem({ OVERSEER_URL: 'not a url', ALLOW_INSECURE_OVERSEER: 'true', OVERSEER_TOKEN: TOKEN })).toMatch(/not a URL/);
    expect(overseerConfigProblem({ OVERSEER_URL: 'wss://overseer.internal/ws', ALLOW_INSECURE_OVERSEER: 'false', OVERSEER_TOKEN: TOKEN })).toBeNull();
    expect(overseerConfigProblem({ OVERSEER_URL: 'ws://127.0.0.1:8081/ws', ALLOW_INSECURE_OVERSEER: 'true', OVERSEER_TOKEN: TOKEN })).toBeNull();
  });
});

describe('inbound frames', () => {
  it('drops an oversized frame without applying it, and keeps applying the frames after it', async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, user, 'big');
    const huge = JSON.stringify({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: `{"event":"SLEEP","pad":"${'x'.repeat(1_100_000)}"}` });
    await fake.raw(huge);
    await fake.send({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: '{"event":"RECORDING START","recording":"0"}', ts: '2026-11-30T10:00:00Z' });
    const s = await eventually(() => status('big'), (x) => x.recording_state === 'recording', 'the next frame applied');
    expect(s.status).toBe('recording');
    expect((await logs('big')).some((l) => l.includes('"SLEEP"'))).toBe(false);
  });

  it('drops malformed frames (wrong types, not JSON, not an object) and keeps the source as it was', async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, user, 'malformed');
    await fake.raw('not json at all');
    await fake.raw('[1,2,3]');
    await fake.send({ type: 'exited', task_id: taskId, pid: 'one', exit_code: 'x', intentional: 'yes' });
    await fake.send({ type: 'errored', task_id: taskId, exit_count: -5 });
    await fake.send({ type: 'started', task_id: 42 });
    await fake.send({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: '{"event":"SLEEP","source":"malformed","interval":"1m0s"}' });
    const s = await eventually(() => status('malformed'), (x) => x.recording_state === 'sleeping', 'the valid frame applied');
    expect(s).toMatchObject({ worker_state: 'running', pid });
    expect((await logs('malformed')).filter((l) => l.includes('exited') || l.includes('error threshold'))).toEqual([]);
  });

  it('fails a request whose reply is malformed at once, instead of at its timeout', async () => {
    await connected();
    await fake.mode('manual');
    try {
      const before = (await fake.messages()).length;
      const pending = call('GET', '/api/workers', { token: admin.token });
      const list = await eventually(async () => (await fake.messages()).slice(before).find((m) => m.type === 'list'), (m) => m !== undefined, 'list request');
      await fake.send({ type: 'tasks', id: list!.id, tasks: 'none' });
      const res = await pending;
      expect(res.status).toBe(502);
      expect((await json(res)).error).toBe('overseer error: malformed tasks reply');
    } finally {
      await fake.mode('auto');
    }
  });

  it('fails a request whose reply is over the frame limit at once, saying so (a task list past ~1,530 tasks)', async () => {
    await connected();
    await fake.mode('manual');
    try {
      const before = (await fake.messages()).length;
      const started = Date.now();
      const pending = call('GET', '/api/workers', { token: admin.token });
      const list = await eventually(async () => (await fake.messages()).slice(before).find((m) => m.type === 'list'), (m) => m !== undefined, 'list request');
      const task = { action: 'chaturbate', params: { source: 'x', cookies: 'c'.repeat(600) }, state: 'running', worker_state: 'running', current_pid: 1 };
      await fake.raw(JSON.stringify({ type: 'tasks', id: list!.id, tasks: Array.from({ length: 1_600 }, (_, i) => ({ task_id: `t${i}`, ...task })) }));
      const res = await pending;
      expect(res.status).toBe(502);
      expect((await json(res)).error).toMatch(/^overseer error: tasks reply of \d+ bytes exceeds the 1048576-byte frame limit$/);
      expect(Date.now() - started).toBeLessThan(10_000); // not the list's 10 s timeout
      expect((await call('GET', '/api/health')).status).toBe(200); // the connection is kept
    } finally {
      await fake.mode('auto');
    }
  });

  it('parses the frames the overseer really sends, extra keys dropped', () => {
    const r = parseServerFrame(JSON.stringify({ type: 'output', task_id: 't1', pid: 42, stream: 'stdout', data: '{"event":"HEARTBEAT"}', ts: '2026-11-30T10:00:00Z', seq: 7 }));
    expect(r).toEqual({ ok: true, frame: { type: 'output', task_id: 't1', pid: 42, stream: 'stdout', data: '{"event":"HEARTBEAT"}', ts: '2026-11-30T10:00:00Z' } });
    expect(parseServerFrame(JSON.stringify({ type: 'queued', id: 'r1', task_id: 'q', position: 2 }))).toMatchObject({ ok: true });
    expect(parseServerFrame(JSON.stringify({ type: 'dequeued', task_id: 'q', reason: 'purged' }))).toMatchObject({ ok: true });
    expect(parseServerFrame(JSON.stringify({ type: 'pool_updated', pool: { limit: 2, running: 2, queue_depth: 1 } }))).toMatchObject({ ok: true });
    expect(parseServerFrame(JSON.stringify({ type: 'something_new', x: 1 }))).toEqual({ ok: false, ignored: true });
  });
});
