/**
 * Retention (issue 16): each policy (days, GB, sessions, forever), per-source over global, pins,
 * bounded batches, the audit record, the dashboard preview, and who may change what.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enforceRetention } from '../../src/dvr/recordings/retention';
import worker from '../../src/index';
import { call, json } from '../support/http';
import { sourceIdOf, storeRecording } from '../support/recordings';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

let admin: TestUser;
let u: TestUser;
let stranger: TestUser;
// Ages are relative to the real clock: the overseer link's alarms run on it too.
const NOW = Date.now();
const daysAgo = (n: number) => new Date(NOW - n * 86_400_000).toISOString();

async function session(sourceId: number, startedAt: string) {
  const row = await env.DB.prepare('INSERT INTO recording_sessions (source_id, started_at, ended_at) VALUES (?1, ?2, ?2) RETURNING id').bind(sourceId, startedAt).first<{ id: number }>();
  return row!.id;
}
async function states(driver: string, username: string) {
  const { results } = await env.DB.prepare('SELECT rel_path, state FROM recordings WHERE source_id = ?1 ORDER BY rel_path')
    .bind(await sourceIdOf(driver, username))
    .all<{ rel_path: string; state: string }>();
  return Object.fromEntries(results.map((r) => [r.rel_path, r.state]));
}
const setGlobal = (policy: Record<string, unknown>) => call('PUT', '/api/admin/retention', { token: admin.token, body: policy });
const setSource = (s: string, policy: Record<string, unknown>) => call('PUT', `/api/sources/chaturbate/${s}/retention`, { token: admin.token, body: policy });

beforeAll(async () => {
  await useFakeOverseer('recordings-retention');
  admin = await makeUser({ role: 'admin' });
  u = await makeUser();
  stranger = await makeUser();
});

let n = 0;
/** A fresh source with one recording per given age (days), each in its own session. */
async function sourceWith(ages: number[], catalogBytes = 1000): Promise<string> {
  n += 1;
  const name = `ret${n}`;
  await call('POST', '/api/subscriptions', { token: u.token, body: { driver: 'chaturbate', username: name } });
  const id = await sourceIdOf('chaturbate', name);
  for (const [i, age] of ages.entries()) {
    const sid = await session(id, daysAgo(age));
    await storeRecording('chaturbate', name, `d${age}/seg${i}.ts`, new Uint8Array(16), { storedAt: daysAgo(age), sessionId: sid, catalogBytes });
  }
  return name;
}

beforeEach(async () => {
  await env.DB.prepare('DELETE FROM retention_policies').run();
  // Earlier tests' sources must not feed later batches: mark everything old as deleted.
  await env.DB.prepare("UPDATE recordings SET state = 'deleted'").run();
});

describe('policies', () => {
  it('deletes nothing when no policy exists', async () => {
    const s = await sourceWith([400, 1]);
    expect(await enforceRetention(env, 100)).toEqual({ deleted: 0, bytes: 0 });
    expect(Object.values(await states('chaturbate', s))).toEqual(['stored', 'stored']);
  });

  it('keep N days: deletes older recordings, their R2 objects, and audits the batch', async () => {
    const s = await sourceWith([40, 20, 1]);
    expect((await setGlobal({ keep_days: 30 })).status).toBe(200);
    expect(await enforceRetention(env, 100)).toEqual({ deleted: 1, bytes: 1000 });
    expect(await states('chaturbate', s)).toEqual({ 'd1/seg2.ts': 'stored', 'd20/seg1.ts': 'stored', 'd40/seg0.ts': 'deleted' });
    expect(await env.BUCKET.head(`recordings/chaturbate/${s}/d40/seg0.ts`)).toBeNull();
    expect(await env.BUCKET.head(`recordings/chaturbate/${s}/d20/seg1.ts`)).not.toBeNull();
    expect((await call('GET', `/media/subscriptions/chaturbate/${s}/d40/seg0.ts`, { token: u.token })).status).toBe(404);
    const audit = await env.DB.prepare("SELECT details FROM audit_log WHERE action = 'dvr.retention.delete' ORDER BY id DESC LIMIT 1").first<{ details: string }>();
    expect(JSON.parse(audit!.details)).toMatchObject({ count: 1, bytes: 1000, reasons: { days: 1 } });
  });

  it('keep at most N GB: deletes the oldest beyond the total, newest first counted', async () => {
    const s = await sourceWith([5, 4, 3, 2, 1], 400 * 1024 * 1024);
    await setSource(s, { keep_gb: 1 });
    await enforceRetention(env, 100);
    expect(await states('chaturbate', s)).toEqual({ 'd1/seg4.ts': 'stored', 'd2/seg3.ts': 'stored', 'd3/seg2.ts': 'deleted', 'd4/seg1.ts': 'deleted', 'd5/seg0.ts': 'deleted' });
  });

  it('keep the last N sessions: a session with several segments counts once', async () => {
    const s = await sourceWith([3, 2]);
    const id = await sourceIdOf('chaturbate', s);
    const latest = await session(id, daysAgo(1));
    await storeRecording('chaturbate', s, 'd1/a.ts', new Uint8Array(10), { storedAt: daysAgo(1), sessionId: latest });
    await storeRecording('chaturbate', s, 'd1/b.ts', new Uint8Array(10), { storedAt: daysAgo(1), sessionId: latest });
    await setSource(s, { keep_sessions: 2 });
    await enforceRetention(env, 100);
    expect(await states('chaturbate', s)).toEqual({ 'd1/a.ts': 'stored', 'd1/b.ts': 'stored', 'd2/seg1.ts': 'stored', 'd3/seg0.ts': 'deleted' });
  });

  it("a source's keep-forever overrides a strict global policy", async () => {
    const forever = await sourceWith([100]);
    const normal = await sourceWith([100]);
    await setGlobal({ keep_days: 1 });
    await setSource(forever, { keep_forever: true });
    await enforceRetention(env, 100);
    expect(Object.values(await states('chaturbate', forever))).toEqual(['stored']);
    expect(Object.values(await states('chaturbate', normal))).toEqual(['deleted']);
  });

  it("a user's pin protects a recording; unpinning lets the next run delete it", async () => {
    const s = await sourceWith([50, 40]);
    await setSource(s, { keep_days: 7 });
    expect((await call('POST', `/api/sources/chaturbate/${s}/pins`, { token: u.token, body: { path: 'd50/seg0.ts' } })).status).toBe(200);
    await enforceRetention(env, 100);
    expect(await states('chaturbate', s)).toEqual({ 'd40/seg1.ts': 'deleted', 'd50/seg0.ts': 'stored' });
    expect((await call('DELETE', `/api/sources/chaturbate/${s}/pins?path=d50/seg0.ts`, { token: u.token })).status).toBe(200);
    await enforceRetention(env, 100);
    expect(await states('chaturbate', s)).toEqual({ 'd40/seg1.ts': 'deleted', 'd50/seg0.ts': 'deleted' });
  });
});

describe('batches and the cron', () => {
  it('deletes at most the batch size per run, oldest first', async () => {
    const s = await sourceWith([60, 50, 40, 30, 20]);
    await setSource(s, { keep_days: 10 });
    expect((await enforceRetention(env, 2)).deleted).toBe(2);
    expect(await states('chaturbate', s)).toMatchObject({ 'd60/seg0.ts': 'deleted', 'd50/seg1.ts': 'deleted', 'd40/seg2.ts': 'stored' });
    expect((await enforceRetention(env, 2)).deleted).toBe(2);
    expect((await enforceRetention(env, 2)).deleted).toBe(1);
    expect((await enforceRetention(env, 2)).deleted).toBe(0);
  });

  it('runs from the */5 cron', async () => {
    const s = await sourceWith([90]);
    await setGlobal({ keep_days: 30 });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: NOW }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(Object.values(await states('chaturbate', s))).toEqual(['deleted']);
  });
});

describe('dashboard data and authorization', () => {
  it('shows storage per source and what the policy deletes next, without deleting anything', async () => {
    const s = await sourceWith([45, 5]);
    await setGlobal({ keep_days: 30 });
    const res = await json<Record<string, unknown>>(await call('GET', `/api/sources/chaturbate/${s}/retention`, { token: u.token }));
    expect(res).toMatchObject({
      policy: null,
      inherited: true,
      effective: { keep_days: 30, keep_gb: null, keep_sessions: null, keep_forever: false },
      storage: { bytes: 2000, files: 2 },
      next_deletions: [{ path: 'd45/seg0.ts', bytes: 1000, reason: 'days' }],
    });
    expect(Object.values(await states('chaturbate', s))).toEqual(['stored', 'stored']);
  });

  it('lets only admins change policies, and only subscribers read or pin', async () => {
    const s = await sourceWith([1]);
    expect((await call('PUT', '/api/admin/retention', { token: u.token, body: { keep_days: 1 } })).status).toBe(403);
    expect((await call('PUT', `/api/sources/chaturbate/${s}/retention`, { token: u.token, body: { keep_days: 1 } })).status).toBe(403);
    expect((await call('GET', `/api/sources/chaturbate/${s}/retention`, { token: stranger.token })).status).toBe(404);
    expect((await call('POST', `/api/sources/chaturbate/${s}/pins`, { token: stranger.token, body: { path: 'd1/seg0.ts' } })).status).toBe(404);
    expect((await call('PUT', '/api/admin/retention', { token: admin.token, body: { keep_days: 0 } })).status).toBe(400);
    expect((await call('PUT', '/api/admin/retention', { token: admin.token, body: { keep_days: 5, purge: true } })).status).toBe(400);
  });
});
