/**
 * Event ingest coalescing (issue 17 target 4): a burst of recorder heartbeats changes only progress
 * fields, so the SourceMonitor writes the D1 mirror at most once a second (the alarm delivers the
 * last value); log-only events write nothing. Counted through the `sources` change counter, which
 * migration 0004's trigger bumps once per mirror write that changes a listed column.
 */
import { env } from 'cloudflare:test';
import { beforeAll, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, subscribedAndRunning, useFakeOverseer, type FakeOverseer } from './fake';

let fake: FakeOverseer;
let me: TestUser;

const sourcesVersion = async () =>
  (await env.DB.prepare(`SELECT version FROM change_counters WHERE scope = 'sources'`).first<{ version: number }>())!.version;

beforeAll(async () => {
  fake = await useFakeOverseer('ingest-coalescing');
  me = await makeUser();
});

it('a burst of 40 heartbeats costs a few mirror writes, and the last one still reaches the list', async () => {
  const { taskId, pid } = await subscribedAndRunning(fake, me, 'burst');
  const frame = (i: number, data: Record<string, string>) => ({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: JSON.stringify(data), ts: new Date(Date.UTC(2026, 10, 22, 4, 0, i)).toISOString() });
  // Settle the start's own writes first.
  await eventually(async () => [await sourcesVersion(), await new Promise((r) => setTimeout(r, 200)), await sourcesVersion()], ([a, , b]) => a === b, 'start settled');
  const before = await sourcesVersion();
  for (let i = 0; i < 40; i++) await fake.send(frame(i, { event: 'HEARTBEAT', session_duration: `00:00:${String(i).padStart(2, '0')}` }));
  const last = new Date(Date.UTC(2026, 10, 22, 4, 0, 39)).toISOString();
  const status = async () => json<{ last_heartbeat: string; session_duration?: string }>(await call('GET', '/api/subscriptions/chaturbate/burst', { token: me.token }));
  const seen = await eventually(status, (s) => s.session_duration === '00:00:39', 'the last heartbeat in the list');
  expect(seen.last_heartbeat).toBe(last);
  const writes = (await sourcesVersion()) - before;
  expect(writes).toBeGreaterThan(0);
  // One write per second of burst at most (+1 for the first, which changes the recording state).
  expect(writes).toBeLessThan(10);

  const quiet = await sourcesVersion();
  for (let i = 0; i < 10; i++) await fake.send(frame(40 + i, { event: 'SEGMENT START', file: `seg_${i}.ts` }));
  await eventually(async () => json<{ logs: string[] }>(await call('GET', '/api/sources/chaturbate/burst/logs', { token: me.token })), (b) => b.logs.at(-1)!.includes('seg_9.ts'), 'log-only events applied');
  await new Promise((r) => setTimeout(r, 1200));
  expect(await sourcesVersion()).toBe(quiet);
});
