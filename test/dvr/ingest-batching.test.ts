/**
 * Event ingest batched across sources (issue 17 target 4): the overseer link delivers a source's
 * pushes in groups (one monitor RPC per group), and the progress that heartbeats move reaches the D1
 * mirror through the link, many sources per `d.batch`, at most once a second per source. Counted by
 * wrapping the D1 binding of the link and of every monitor (`runInDurableObject`): a batch is one
 * D1 round trip.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { monitorName } from '../../src/dvr/runtime';
import type { OverseerLink } from '../../durable-objects/overseer-link';
import type { SourceMonitor } from '../../durable-objects/source-monitor';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, subscribedAndRunning, useFakeOverseer, type FakeOverseer } from './fake';

const SOURCES = 24;
const HEARTBEATS = 25;
const names = Array.from({ length: SOURCES }, (_, i) => `storm${i}`);

let fake: FakeOverseer;
let me: TestUser;
const running = new Map<string, { taskId: string; pid: number }>();

const monitorOf = (name: string) => env.SOURCE_MONITOR.getByName(monitorName({ driver: 'chaturbate', username: name }));
const link = () => env.OVERSEER_LINK.getByName('overseer');

/** Wraps an object's D1 binding so every `batch` it sends is counted in `into`. */
async function countBatches(stub: DurableObjectStub<OverseerLink> | DurableObjectStub<SourceMonitor>, into: { batches: number; statements: number }) {
  await runInDurableObject(stub as DurableObjectStub<SourceMonitor>, (instance: unknown) => {
    const self = instance as { env: Env };
    const real = self.env.DB;
    const counting = {
      prepare: (q: string) => real.prepare(q),
      batch: (stmts: D1PreparedStatement[]) => {
        into.batches += 1;
        into.statements += stmts.length;
        return real.batch(stmts);
      },
    };
    self.env = { ...self.env, DB: counting as unknown as D1Database };
  });
}

const heartbeat = (name: string, i: number) => {
  const { taskId, pid } = running.get(name)!;
  return {
    type: 'output',
    task_id: taskId,
    pid,
    stream: 'stdout',
    data: JSON.stringify({ event: 'HEARTBEAT', session_duration: `00:01:${String(i).padStart(2, '0')}` }),
    ts: new Date(Date.UTC(2026, 11, 1, 6, 1, i)).toISOString(),
  };
};

beforeAll(async () => {
  fake = await useFakeOverseer('ingest-batching');
  me = await makeUser();
  for (const n of names) running.set(n, await subscribedAndRunning(fake, me, n));
  // Every source recording (a state change, mirrored by its monitor at once) before the storm.
  await fake.sendAll(names.map((n) => ({ ...heartbeat(n, 0), data: JSON.stringify({ event: 'RECORDING START', recording: '0' }) })));
  await eventually(
    async () => json<Array<{ username: string; recording_state?: string }>>(await call('GET', '/api/subscriptions', { token: me.token })),
    (rows) => names.every((n) => rows.find((r) => r.username === n)?.recording_state === 'recording'),
    'every source recording',
  );
}, 120_000);

describe('a heartbeat storm over many sources', () => {
  it('reaches D1 in a few batches from the link, none from the monitors, and the lists show the last heartbeat', async () => {
    const fromLink = { batches: 0, statements: 0 };
    const fromMonitors = { batches: 0, statements: 0 };
    await countBatches(link(), fromLink);
    for (const n of names) await countBatches(monitorOf(n), fromMonitors);

    const started = Date.now();
    // Interleaved as a fleet's recorders would talk: every source's heartbeat i, then i + 1.
    const frames = Array.from({ length: HEARTBEATS }, (_, i) => names.map((n) => heartbeat(n, i + 1))).flat();
    await fake.sendAll(frames);
    const last = `00:01:${String(HEARTBEATS).padStart(2, '0')}`;
    const rows = await eventually(
      async () => json<Array<{ username: string; session_duration?: string; last_heartbeat: string }>>(await call('GET', '/api/subscriptions', { token: me.token })),
      (rs) => names.every((n) => rs.find((r) => r.username === n)?.session_duration === last),
      'every list row at the last heartbeat',
      400,
    );
    const seconds = (Date.now() - started) / 1000;
    for (const n of names) expect(rows.find((r) => r.username === n)!.last_heartbeat).toBe(new Date(Date.UTC(2026, 11, 1, 6, 1, HEARTBEATS)).toISOString());

    // 600 progress changes: the monitors wrote none of them; the link wrote each source at most
    // once per flush, all sources of a flush in one batch, flushes at least a second apart.
    expect(fromMonitors.batches).toBe(0);
    expect(fromLink.batches).toBeGreaterThan(0);
    expect(fromLink.batches).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    expect(fromLink.statements).toBeLessThanOrEqual(SOURCES * fromLink.batches);
    expect(fromLink.statements).toBeLessThan(SOURCES * HEARTBEATS / 4);
  }, 120_000);

  it('tells each monitor its progress landed, so none writes it again', async () => {
    const owed = async () => {
      let n = 0;
      for (const name of names) {
        n += await runInDurableObject(monitorOf(name), (instance: SourceMonitor) => ((instance as unknown as { meta(k: string): string | null }).meta('progress_dirty') === null ? 0 : 1));
      }
      return n;
    };
    expect(await eventually(owed, (n) => n === 0, 'every hand-off confirmed')).toBe(0);
  });

  it('keeps one source\'s order across groups, and every segment line reaches the catalog', async () => {
    const name = names[0]!;
    const { taskId, pid } = running.get(name)!;
    const lines = Array.from({ length: 250 }, (_, i) => ({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: JSON.stringify({ event: 'SEGMENT START', file: `order_${i}.ts`, segment: String(i), recording: '0' }) }));
    await fake.sendAll([...lines, { type: 'exited', task_id: taskId, pid, exit_code: 0, intentional: true }]);
    const logs = await eventually(
      async () => (await json<{ logs: string[] }>(await call('GET', `/api/sources/chaturbate/${name}/logs`, { token: me.token }))).logs,
      (ls) => ls.some((l) => l.includes('exited')),
      'the exit applied',
    );
    // 200 kept (the cap), in arrival order, the exit after the last line.
    const order = logs.flatMap((l) => (/order_(\d+)\.ts/.exec(l) ? [Number(/order_(\d+)\.ts/.exec(l)![1])] : []));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order.at(-1)).toBe(249);
    expect(logs.at(-1)).toContain('exited');
    // Every segment reached the catalog (one D1 batch per group, not per line).
    const catalogued = await env.DB.prepare(`SELECT count(*) AS n FROM recordings r JOIN sources s ON s.id = r.source_id WHERE s.username = ? AND r.rel_path LIKE 'order_%'`)
      .bind(name)
      .first<{ n: number }>();
    expect(catalogued!.n).toBe(250);
    const status = await json<{ worker_state: string }>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: me.token }));
    expect(status.worker_state).toBe('idle');
  });
});
