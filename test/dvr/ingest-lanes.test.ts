/**
 * The cheap paths of event ingest (issue 17 target 4): `output` frames are validated by hand before
 * zod (the two must agree on every frame, valid or not), and a bursting source's pushes reach its
 * monitor in groups — at most one RPC per 50 ms tick unless a full group of 100 waits — with every
 * line kept, in order. Monitor calls are counted by wrapping `ingest` on the live object.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseServerFrame, ServerFrameSchema } from '../../src/dvr/protocol';
import { monitorName } from '../../src/dvr/runtime';
import type { SourceMonitor } from '../../durable-objects/source-monitor';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, subscribedAndRunning, useFakeOverseer, type FakeOverseer } from './fake';

describe('output frames', () => {
  const base = { type: 'output', task_id: 't1', pid: 42, stream: 'stdout', data: '{"event":"HEARTBEAT"}', ts: '2026-12-01T10:00:00Z' };
  const variants: Array<[string, Record<string, unknown>]> = [
    ['minimal', { type: 'output', task_id: 't1' }],
    ['every field, extra keys', { ...base, id: 'r1', seq: 7, extra: { a: 1 } }],
    ['an own __proto__ key', JSON.parse('{"type":"output","task_id":"t1","__proto__":{"x":1}}') as Record<string, unknown>],
    ['object data', { ...base, data: { event: 'HEARTBEAT' } }],
    ['pid at the bound', { ...base, pid: 2 ** 31 }],
    ['pid past the bound', { ...base, pid: 2 ** 31 + 1 }],
    ['negative pid', { ...base, pid: -1 }],
    ['fractional pid', { ...base, pid: 1.5 }],
    ['pid as a string', { ...base, pid: '42' }],
    ['task id too long', { ...base, task_id: 'x'.repeat(257) }],
    ['task id at the bound', { ...base, task_id: 'x'.repeat(256) }],
    ['no task id', { type: 'output', data: 'x' }],
    ['id too long', { ...base, id: 'i'.repeat(129) }],
    ['null id', { ...base, id: null }],
    ['stream too long', { ...base, stream: 's'.repeat(17) }],
    ['ts too long', { ...base, ts: 't'.repeat(65) }],
    ['numeric data', { ...base, data: 5 }],
    ['null data', { ...base, data: null }],
  ];

  it('are accepted, shaped and refused exactly as their zod schema says', () => {
    for (const [what, value] of variants) {
      const zod = ServerFrameSchema.safeParse(value);
      const got = parseServerFrame(JSON.stringify(value));
      expect(got.ok, what).toBe(zod.success);
      if (zod.success) expect(got, what).toEqual({ ok: true, frame: zod.data });
      else expect(got, what).toMatchObject({ ok: false, ignored: false, problem: expect.stringMatching(/^output: /) });
    }
  });
});

describe('a burst of one source', () => {
  let fake: FakeOverseer;
  let me: TestUser;

  beforeAll(async () => {
    fake = await useFakeOverseer('ingest-lanes');
    me = await makeUser();
  });

  it('reaches its monitor in few calls (one per tick, or a full group), every line in order', async () => {
    const { taskId, pid } = await subscribedAndRunning(fake, me, 'lanes');
    const calls: number[] = [];
    // RPC dispatches to prototype methods only: wrapped there, counted for this object alone.
    const restore = await runInDurableObject(env.SOURCE_MONITOR.getByName(monitorName({ driver: 'chaturbate', username: 'lanes' })), (instance: SourceMonitor) => {
      const proto = Object.getPrototypeOf(instance) as SourceMonitor;
      const real = proto.ingest;
      proto.ingest = function (this: SourceMonitor, ...args: Parameters<SourceMonitor['ingest']>) {
        if (this === instance) calls.push((typeof args[1] === 'string' ? (JSON.parse(args[1]) as unknown[]) : args[1]).length);
        return real.apply(this, args);
      };
      return () => {
        proto.ingest = real;
      };
    });
    const N = 300;
    const frames = Array.from({ length: N }, (_, i) => ({
      type: 'output',
      task_id: taskId,
      pid,
      stream: 'stdout',
      data: JSON.stringify({ event: 'HEARTBEAT', session_duration: `00:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`, n: String(i) }),
      ts: new Date(Date.UTC(2026, 11, 1, 6, 0, 0) + i * 1000).toISOString(),
    }));
    const started = Date.now();
    await fake.sendAll(frames);
    const logs = await eventually(
      async () => (await json<{ logs: string[] }>(await call('GET', '/api/sources/chaturbate/lanes/logs', { token: me.token }))).logs,
      (ls) => ls.at(-1)?.includes('"n":"299"') === true,
      'the last heartbeat logged',
    );
    const elapsed = Date.now() - started;
    restore();
    // The newest 200 lines (the cap), each once and in arrival order.
    const seen = logs.flatMap((l) => (/"n":"(\d+)"/.exec(l) ? [Number(/"n":"(\d+)"/.exec(l)![1])] : []));
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => N - 200 + i));
    expect(calls.reduce((a, b) => a + b, 0)).toBe(N);
    expect(Math.max(...calls)).toBeLessThanOrEqual(100);
    // At most one call per 50 ms tick while it bursts, plus the full groups that go at once.
    expect(calls.length).toBeLessThanOrEqual(Math.ceil(elapsed / 50) + Math.ceil(N / 100) + 1);
    expect(calls.length).toBeLessThan(N / 4);
    const status = await json<{ session_duration?: string }>(await call('GET', '/api/subscriptions/chaturbate/lanes', { token: me.token }));
    await eventually(
      async () => json<{ session_duration?: string }>(await call('GET', '/api/subscriptions/chaturbate/lanes', { token: me.token })),
      (s) => s.session_duration === '00:04:59',
      `the last progress in the list (was ${status.session_duration})`,
    );
  }, 60_000);
});
