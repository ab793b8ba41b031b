/**
 * Races and side effects of issue 11: two resumes deciding the 0→1 transition together (item 13),
 * restart-all racing the old processes' exits (item 4), anonymous requests waking the global link
 * object (item 17), and DVR operations reaching the audit log (item 18).
 */
import { abortAllDurableObjects, env } from 'cloudflare:test';
import { eq, like } from 'drizzle-orm';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { auditLog } from '../../src/db/schema';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer } from './fake';

type Status = { worker_state: string; pid?: number; sub_id: number; posture: string };

let fake: FakeOverseer;
let admin: TestUser;

beforeAll(async () => {
  fake = await useFakeOverseer('races');
  admin = await makeUser({ role: 'admin' });
});

beforeEach(async () => {
  await fake.mode('auto');
  await fake.refuse(false);
  await fake.stopDelay(0);
});

const subscribe = (who: TestUser, name: string) => call('POST', '/api/subscriptions', { token: who.token, body: { driver: 'chaturbate', username: name } });
const status = async (who: TestUser, name: string) => json<Status>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: who.token }));
const connected = () => eventually(() => call('GET', '/api/health'), (r) => r.status === 200, 'link connected');
const running = async (name: string) =>
  (await fake.state()).tasks.filter((t) => (t.params as Record<string, string>).source === name && t.worker_state === 'running');

describe('the 0→1 transition (item 13)', () => {
  it('two subscribers resuming a paused source at the same moment start it exactly once', async () => {
    await connected();
    for (let round = 0; round < 3; round++) {
      const name = `pair${round}`;
      const a = await makeUser();
      const b = await makeUser();
      await subscribe(a, name);
      await subscribe(b, name);
      await eventually(() => status(a, name), (s) => s.worker_state === 'running', 'running');
      await call('POST', `/api/subscriptions/chaturbate/${name}/pause`, { token: a.token });
      await call('POST', `/api/subscriptions/chaturbate/${name}/pause`, { token: b.token });
      await eventually(() => status(a, name), (s) => s.worker_state === 'idle', 'idle after the last pause');
      const mark = (await fake.messages()).length;

      const [ra, rb] = await Promise.all([
        call('POST', `/api/subscriptions/chaturbate/${name}/resume`, { token: a.token }),
        call('POST', `/api/subscriptions/chaturbate/${name}/resume`, { token: b.token }),
      ]);
      expect([ra.status, rb.status]).toEqual([200, 200]);
      // Within seconds, not at the next periodic reconcile (60 s).
      await eventually(() => status(a, name), (s) => s.worker_state === 'running', 'running after both resumes', 120);
      const starts = (await fake.messages()).slice(mark).filter((m) => m.type === 'start' && m.params?.source === name && m.task_id === '');
      expect(starts.length).toBeLessThanOrEqual(1);
      expect(await running(name)).toHaveLength(1);
    }
  });
});

describe('restart-all (item 4)', () => {
  it('leaves every running source running again within seconds, every time, while old processes take time to exit', async () => {
    await connected();
    const u = await makeUser();
    const names = ['ra1', 'ra2', 'ra3'];
    for (const n of names) await subscribe(u, n);
    for (const n of names) await eventually(() => status(u, n), (s) => s.worker_state === 'running', `${n} running`);
    // A real recorder takes a moment to exit after SIGTERM; until then the overseer's dedupe
    // refuses a fresh start for the same source.
    await fake.stopDelay(300);
    for (let round = 0; round < 5; round++) {
      const before = new Map(await Promise.all(names.map(async (n) => [n, (await status(u, n)).pid] as const)));
      const res = await call('POST', '/api/admin/sources/restart-all', { token: admin.token, body: {} });
      expect(res.status).toBe(200);
      for (const n of names) {
        const s = await eventually(() => status(u, n), (x) => x.worker_state === 'running' && x.pid !== before.get(n), `${n} running again (round ${round})`, 160);
        expect(s.pid).toBe((await running(n))[0]?.current_pid);
      }
      for (const n of names) expect(await running(n)).toHaveLength(1);
    }
  }, 60_000);

  it('a single admin restart also waits out the old process instead of failing the start', async () => {
    await connected();
    const u = await makeUser();
    await subscribe(u, 'one-restart');
    const first = await eventually(() => status(u, 'one-restart'), (s) => s.worker_state === 'running', 'running');
    await fake.stopDelay(300);
    expect((await call('POST', `/api/admin/subscriptions/${first.sub_id}/restart`, { token: admin.token })).status).toBe(200);
    await eventually(() => status(u, 'one-restart'), (s) => s.worker_state === 'running' && s.pid !== first.pid, 'running on a new process', 160);
    const logs = (await json<{ logs: string[] }>(await call('GET', '/api/sources/chaturbate/one-restart/logs', { token: admin.token }))).logs;
    expect(logs.some((l) => l.startsWith('[system] start failed'))).toBe(false);
  });
});

describe('waking the overseer link (item 17)', () => {
  it('anonymous 404s and plain list reads under /api do not dial the overseer', async () => {
    await connected();
    const u = await makeUser();
    // The instance dies with its socket; nothing but a route that needs the link may bring it back.
    await abortAllDurableObjects();
    await eventually(() => fake.state(), (s) => s.clients === 0, 'socket closed');
    for (let i = 0; i < 5; i++) {
      expect([403, 404]).toContain((await call('GET', `/api/no-such-route-${i}`)).status);
      expect((await call('GET', '/api/subscriptions', { token: u.token })).status).toBe(200);
      expect((await call('GET', '/api/me', { token: u.token })).status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect((await fake.state()).clients).toBe(0);
    // A route that needs it does dial.
    await connected();
    expect((await fake.state()).clients).toBe(1);
  });
});

describe('audit log (item 18)', () => {
  const actionsFor = async (targetId: string) =>
    (await db(env).select().from(auditLog).where(eq(auditLog.targetId, targetId)).orderBy(auditLog.id).all()).map((r) => [r.action, r.actorUserId]);

  it('records subscribe, posture changes by owner and admin, reset-error attempts that succeed, restarts and restart-all', async () => {
    await connected();
    const u = await makeUser();
    const sub = await json<Status>(await subscribe(u, 'audited'));
    await eventually(() => status(u, 'audited'), (s) => s.worker_state === 'running', 'running');
    await call('POST', '/api/subscriptions/chaturbate/audited/pause', { token: u.token });
    await call('POST', '/api/subscriptions/chaturbate/audited/pause', { token: u.token }); // idempotent: no write, no row
    await call('POST', '/api/subscriptions/chaturbate/audited/resume', { token: u.token });
    await call('POST', `/api/admin/subscriptions/${sub.sub_id}/pause`, { token: admin.token });
    await call('POST', `/api/admin/subscriptions/${sub.sub_id}/resume`, { token: admin.token });
    await call('POST', `/api/admin/subscriptions/${sub.sub_id}/restart`, { token: admin.token });
    await call('DELETE', `/api/admin/subscriptions/${sub.sub_id}`, { token: admin.token });
    await call('DELETE', '/api/subscriptions/chaturbate/audited', { token: u.token });

    expect(await actionsFor(String(sub.sub_id))).toEqual([
      ['dvr.subscription.pause', u.id],
      ['dvr.subscription.resume', u.id],
      ['dvr.admin.subscription.pause', admin.id],
      ['dvr.admin.subscription.resume', admin.id],
      ['dvr.admin.subscription.restart', admin.id],
      ['dvr.admin.subscription.archive', admin.id],
      ['dvr.subscription.archive', u.id],
    ]);
    expect(await actionsFor('chaturbate/audited')).toEqual([['dvr.subscription.subscribe', u.id]]);

    await call('POST', '/api/admin/sources/restart-all', { token: admin.token, body: { include_errored: false } });
    const all = await db(env).select().from(auditLog).where(like(auditLog.action, 'dvr.admin.sources.%')).all();
    expect(all.at(-1)).toMatchObject({ action: 'dvr.admin.sources.restart_all', actorUserId: admin.id });
    expect(JSON.parse(all.at(-1)!.details!)).toMatchObject({ include_errored: false });
  });
});
