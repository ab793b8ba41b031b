/**
 * The ten compatibility checks of contract dvr-api §9, black-box through the Worker's fetch handler,
 * with a scripted fake overseer on a real WebSocket. Where the contract and security disagree the
 * secure behaviour is asserted and named (15-minute access tokens, refresh cookie scoped to
 * /api/auth, validated config values).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setWorld } from '../../src/world';
import { call, cookiesOf, json } from '../support/http';
import { makeUser, PASSWORD, type TestUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer } from './fake';

type Status = Record<string, unknown> & { sub_id: number; source_id: number; status: string; worker_state: string; posture: string };

let fake: FakeOverseer;
let admin: TestUser;
let a: TestUser;
let b: TestUser;

const sub = (u: TestUser, driver: string, username: string) => call('POST', '/api/subscriptions', { token: u.token, body: { driver, username } });
const getSub = async (u: TestUser, path: string) => json<Status>(await call('GET', `/api/subscriptions/${path}`, { token: u.token }));

beforeAll(async () => {
  fake = await useFakeOverseer('contract');
  admin = await makeUser({ username: 'admin', role: 'admin' });
  a = await makeUser({ username: 'user-a' });
  b = await makeUser({ username: 'user-b' });
});

function payloadOf(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1]!.replaceAll('-', '+').replaceAll('_', '/');
  return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4))) as Record<string, unknown>;
}

describe('§9.1 login', () => {
  it('returns an HS256 JWT (15-minute lifetime, a deliberate tightening) and the User object with hardened cookies', async () => {
    const res = await call('POST', '/api/auth/login', { body: { username: 'admin', password: PASSWORD } });
    expect(res.status).toBe(200);
    const body = await json<{ access_token: string; user: Record<string, unknown> }>(res);
    const [header] = body.access_token.split('.');
    expect(JSON.parse(atob(header!.replaceAll('-', '+').replaceAll('_', '/')))).toMatchObject({ alg: 'HS256' });
    const p = payloadOf(body.access_token);
    expect(p.sub).toBe(String(admin.id));
    expect(p.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.role).toBe('admin');
    expect(Number(p.exp) - Number(p.iat)).toBe(900);
    expect(Object.keys(body.user).sort()).toEqual(['created_at', 'id', 'role', 'updated_at', 'username']);
    const cookies = res.headers.getSetCookie();
    const access = cookies.find((c) => c.startsWith('access_token='))!;
    const refresh = cookies.find((c) => c.startsWith('refresh_token='))!;
    for (const attr of [/Path=\//, /HttpOnly/, /SameSite=Strict/, /Max-Age=\d+/]) expect(access).toMatch(attr);
    for (const attr of [/Path=\/api\/auth/, /HttpOnly/, /Secure/, /SameSite=Strict/]) expect(refresh).toMatch(attr);
  });
});

describe('§9.2 login and validation errors', () => {
  it('answers the contract messages', async () => {
    const wrong = await call('POST', '/api/auth/login', { body: { username: 'admin', password: 'wrong password here' } });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error).toBe('invalid credentials');
    const missing = await call('POST', '/api/auth/login', { body: { username: 'admin' } });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toBe('username and password are required');
    const notJson = await call('POST', '/api/auth/login', { raw: 'not json', headers: { 'Content-Type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect((await json(notJson)).error).toBe('invalid JSON');
    const noUser = await call('POST', '/api/subscriptions', { token: a.token, body: { driver: 'chaturbate' } });
    expect(noUser.status).toBe(400);
    expect((await json(noUser)).error).toBe('username is required');
    const noDriver = await call('POST', '/api/subscriptions', { token: a.token, body: { username: 'alice' } });
    expect((await json(noDriver)).error).toBe('driver is required');
  });
});

describe('§9.3 edge gate', () => {
  it('403 + X-Redirect-To for missing or forged tokens, 401 without it for expired ones; health is public', async () => {
    const none = await call('GET', '/api/me');
    expect(none.status).toBe(403);
    expect(none.headers.get('X-Redirect-To')).toBe('/login');
    const sig = a.token.slice(0, -2) + (a.token.endsWith('AA') ? 'BB' : 'AA');
    const forged = await call('GET', '/api/me', { cookie: `access_token=${sig}` });
    expect(forged.status).toBe(403);
    expect(forged.headers.get('X-Redirect-To')).toBe('/login');
    const { issueAccessToken } = await import('../../src/auth/tokens');
    const { setWorld } = await import('../../src/world');
    const { env } = await import('cloudflare:test');
    const restore = setWorld({ now: () => Date.now() - 3600_000 });
    const { token: expired } = await issueAccessToken(env, { userId: a.id, refreshSessionId: a.sid, role: 'user' });
    restore();
    const exp = await call('GET', '/api/me', { cookie: `access_token=${expired}` });
    expect(exp.status).toBe(401);
    expect(exp.headers.get('X-Redirect-To')).toBeNull();
    const health = await eventually(() => call('GET', '/api/health'), (r) => r.status === 200, 'overseer connected');
    expect(await health.json()).toEqual({ status: 'ok', overseer_connected: true });
  });
});

describe('§9.4 refresh rotation and logout', () => {
  it('rotates, refuses replays and missing cookies, and logout ends the login', async () => {
    const login = await call('POST', '/api/auth/login', { body: { username: 'user-a', password: PASSWORD } });
    const first = cookiesOf(login).refresh_token!;
    const r1 = await call('POST', '/api/auth/refresh', { cookie: `refresh_token=${first}` });
    expect(r1.status).toBe(200);
    expect(Object.keys(await json(r1))).toEqual(['access_token']);
    const second = cookiesOf(r1);
    expect(second.refresh_token).toBeTruthy();
    expect(second.access_token).toBeTruthy();
    // A replay within REFRESH_REUSE_WINDOW_SECONDS is a retry (same successor); after it, refused.
    const later = Date.now() + 31_000;
    const restore = setWorld({ now: () => later });
    const replay = await call('POST', '/api/auth/refresh', { cookie: `refresh_token=${first}` }).finally(restore);
    expect(replay.status).toBe(401);
    expect((await json(replay)).error).toBe('invalid or expired refresh token');
    const missing = await call('POST', '/api/auth/refresh');
    expect(missing.status).toBe(401);
    expect((await json(missing)).error).toBe('missing refresh token');

    const login2 = await call('POST', '/api/auth/login', { body: { username: 'user-a', password: PASSWORD } });
    const c2 = cookiesOf(login2);
    const out = await call('POST', '/api/auth/logout', { cookie: `access_token=${c2.access_token}` });
    expect(out.status).toBe(204);
    for (const line of out.headers.getSetCookie()) expect(line).toMatch(/Max-Age=0/);
    const after = await call('POST', '/api/auth/refresh', { cookie: `refresh_token=${c2.refresh_token}` });
    expect(after.status).toBe(401);
  });
});

describe('§9.5 subscribe, reuse, status shape', () => {
  it('creates the source once per exact (driver, username) and reuses the subscription', async () => {
    const res = await sub(a, 'chaturbate', 'alice');
    expect(res.status).toBe(201);
    const s = await json<Status>(res);
    expect(s).toMatchObject({
      driver: 'chaturbate',
      username: 'alice',
      posture: 'active',
      session_active: false,
      last_heartbeat: '0001-01-01T00:00:00Z',
      canonical_url: 'https://chaturbate.com/alice/',
      user_id: a.id,
    });
    expect(['starting', 'waiting', 'recording']).toContain(s.status);
    expect(typeof s.worker_state).toBe('string');
    expect(Array.isArray(s.logs)).toBe(true);
    expect(Number.isInteger(s.source_id) && Number.isInteger(s.sub_id)).toBe(true);
    expect(s).not.toHaveProperty('state');

    const sb = await json<Status>(await sub(b, 'chaturbate', 'alice'));
    expect(sb.source_id).toBe(s.source_id);
    expect(sb.sub_id).not.toBe(s.sub_id);
    const other = await json<Status>(await sub(a, 'stripchat', 'alice'));
    expect(other.source_id).not.toBe(s.source_id);
    const again = await sub(a, 'chaturbate', 'alice');
    expect(again.status).toBe(201);
    expect((await json<Status>(again)).sub_id).toBe(s.sub_id);
  });
});

describe('§9.6 posture transitions', () => {
  it('pauses idempotently, resumes, archives, and DELETE archives without removing', async () => {
    const p1 = await call('POST', '/api/subscriptions/chaturbate/alice/pause', { token: a.token });
    expect(p1.status).toBe(200);
    const paused = await json<Status>(p1);
    expect(paused).toMatchObject({ posture: 'paused', status: 'inactive' });
    const p2 = await json<Status>(await call('POST', '/api/subscriptions/chaturbate/alice/pause', { token: a.token }));
    expect(p2.updated_at).toBe(paused.updated_at);
    const resumed = await json<Status>(await call('POST', '/api/subscriptions/chaturbate/alice/resume', { token: a.token }));
    expect(resumed.posture).toBe('active');
    const archived = await json<Status>(await call('POST', '/api/subscriptions/chaturbate/alice/archive', { token: a.token }));
    expect(archived.posture).toBe('archived');
    expect((await call('POST', '/api/subscriptions/chaturbate/alice/resume', { token: a.token })).status).toBe(200);
    const del = await call('DELETE', '/api/subscriptions/chaturbate/alice', { token: a.token });
    expect(del.status).toBe(204);
    const list = await json<Status[]>(await call('GET', '/api/subscriptions', { token: a.token }));
    expect(list.find((x) => x.driver === 'chaturbate' && x.username === 'alice')?.posture).toBe('archived');
    const nobody = await call('GET', '/api/subscriptions/chaturbate/nobody', { token: a.token });
    expect(nobody.status).toBe(404);
    expect((await json(nobody)).error).toBe('source chaturbate/nobody not found');
  });
});

describe('§9.7 visibility and roles', () => {
  it("scopes lists and per-source data, and gates admin routes", async () => {
    await sub(b, 'stripchat', 'zed');
    const mine = await json<Status[]>(await call('GET', '/api/subscriptions', { token: a.token }));
    expect(mine.every((x) => x.user_id === a.id)).toBe(true);
    const all = await json<Status[]>(await call('GET', '/api/subscriptions', { token: admin.token }));
    expect(new Set(all.map((x) => x.user_id))).toEqual(new Set([a.id, b.id]));
    const hidden = await call('GET', '/api/sources/stripchat/zed/logs', { token: a.token });
    expect(hidden.status).toBe(404);
    expect((await json(hidden)).error).toBe('source stripchat/zed not found');
    const seen = await call('GET', '/api/sources/stripchat/zed/logs', { token: admin.token });
    expect(seen.status).toBe(200);
    expect(await json(seen)).toMatchObject({ driver: 'stripchat', username: 'zed', logs: expect.any(Array) });
    for (const path of ['/api/config', '/api/users']) {
      const r = await call('GET', path, { token: a.token });
      expect(r.status).toBe(403);
      expect((await json(r)).error).toBe('admin role required');
    }
    const media = await call('GET', '/media/subscriptions/chaturbate/alice/', { token: a.token, headers: { Accept: 'application/json' } });
    expect(media.status).toBe(404); // a subscriber, but nothing recorded yet
  });
});

describe('§9.8 error-state operations', () => {
  it('answers the contract conflicts and counts', async () => {
    await sub(a, 'chaturbate', 'alice');
    const notErrored = await call('POST', '/api/subscriptions/chaturbate/alice/reset-error', { token: a.token });
    expect(notErrored.status).toBe(409);
    expect((await json(notErrored)).error).toBe('source chaturbate/alice is not in errored state');
    const bad = await call('POST', '/api/admin/subscriptions/abc/pause', { token: admin.token });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toBe('invalid sub_id');
    // A source whose only subscription is paused has no active subscriber.
    const lone = await json<Status>(await sub(a, 'chaturbate', 'lonely'));
    await call('POST', '/api/subscriptions/chaturbate/lonely/pause', { token: a.token });
    const restart = await call('POST', `/api/admin/subscriptions/${lone.sub_id}/restart`, { token: admin.token });
    expect(restart.status).toBe(409);
    expect((await json(restart)).error).toBe('source chaturbate/lonely has no active subscribers');
    const all = await call('POST', '/api/admin/sources/restart-all', { token: admin.token, body: { include_errored: false } });
    expect(all.status).toBe(200);
    const counts = await json<{ restarted: number; skipped: number }>(all);
    expect(Number.isInteger(counts.restarted) && Number.isInteger(counts.skipped)).toBe(true);
  });
});

describe('§9.9 config round trip', () => {
  it('has the 19 defaults, echoes a PUT, resets omitted keys, refuses type mismatches', async () => {
    const fresh = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
    expect(Object.keys(fresh).sort()).toEqual(
      [
        'resolution', 'framerate', 'out_pattern', 'log_pattern', 'segment_length', 'check_interval', 'retry_delay', 'segment_timeout',
        'recording_timeout', 'log_level', 'output_format', 'user_agent', 'cookies', 'restart_delay', 'reconcile_interval',
        'start_concurrency', 'error_threshold', 'error_window', 'driver_urls',
      ].sort(),
    );
    expect(fresh).toMatchObject({ resolution: 720, framerate: 30, segment_length: '5m', restart_delay: '30s', error_threshold: 5, start_concurrency: 5 });
    const put = await call('PUT', '/api/config', { token: admin.token, body: { ...fresh, error_threshold: 3 } });
    expect(put.status).toBe(200);
    expect(await json(put)).toEqual({ ...fresh, error_threshold: 3 });
    const partial = await json(await call('PUT', '/api/config', { token: admin.token, body: { resolution: 1080 } }));
    expect(partial).toMatchObject({ resolution: 1080, framerate: 0, out_pattern: '', driver_urls: null });
    const typed = await call('PUT', '/api/config', { token: admin.token, body: { resolution: '720' } });
    expect(typed.status).toBe(400);
    expect((await json(typed)).error).toBe('invalid JSON');
    // Put the defaults back for the overseer check below.
    await call('PUT', '/api/config', { token: admin.token, body: fresh });
  });
});

describe('§9.10 overseer contract', () => {
  it('starts, tracks recorder events, mirrors the error threshold, stops on pause, and reports a lost link', async () => {
    await fake.mode('manual');
    await sub(a, 'chaturbate', 'tenth');
    const start = await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === 'tenth', 'start for tenth');
    expect(start.id).toBeTruthy();
    expect(start.action).toBe('chaturbate');
    expect(Object.keys(start.params!).sort()).toEqual(
      ['source', 'out', 'segment_length', 'check_interval', 'resolution', 'framerate', 'cookies', 'user_agent', 'heartbeat_interval'].sort(),
    );
    expect(start.params).toMatchObject({ resolution: '720', heartbeat_interval: '30s', segment_length: '5m', check_interval: '1m', framerate: '30' });
    expect(start.retry_policy).toEqual({ restart_delay: '30s', error_window: '5m', error_threshold: 5 });

    await fake.send({ type: 'started', id: start.id, task_id: 't1', pid: 42, ts: new Date().toISOString() });
    let s = await eventually(() => getSub(a, 'chaturbate/tenth'), (x) => x.worker_state === 'running', 'running');
    expect(s).toMatchObject({ status: 'waiting', worker_state: 'running', pid: 42 });

    const ts = '2026-11-22T03:04:05.123456789Z';
    await fake.send({ type: 'output', task_id: 't1', pid: 42, stream: 'stdout', data: '{"event":"RECORDING START","recording":"0","time":"2026-11-22T04:04:05+01:00"}', ts, seq: 1 });
    s = await eventually(() => getSub(a, 'chaturbate/tenth'), (x) => x.status === 'recording', 'recording');
    expect(s).toMatchObject({ recording_state: 'recording', session_active: true, session_started_at: ts, last_recording_at: ts });

    await fake.send({ type: 'exited', task_id: 't1', pid: 42, exit_code: 3, intentional: false, ts });
    await fake.send({ type: 'errored', task_id: 't1', pid: 42, exit_count: 5, ts });
    s = await eventually(() => getSub(a, 'chaturbate/tenth'), (x) => x.worker_state === 'errored', 'errored');
    expect(s).toMatchObject({ status: 'error', session_active: false, error_message: 'error threshold reached after 5 exits' });
    expect(s).not.toHaveProperty('pid');
    const events = await json<{ events: Array<Record<string, unknown>> }>(await call('GET', '/api/sources/chaturbate/tenth/events', { token: a.token }));
    expect(events.events).toContainEqual(expect.objectContaining({ event_type: 'exited', exit_code: 3, pid: 42 }));

    // Back to running through reset-error, then pausing the only active subscription stops t-task.
    const reset = await call('POST', '/api/subscriptions/chaturbate/tenth/reset-error', { token: a.token });
    expect(reset.status).toBe(200);
    const second = await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === 'tenth' && m.id !== start.id, 'second start');
    expect(second.task_id).toBe('');
    await fake.send({ type: 'started', id: second.id, task_id: 't2', pid: 43 });
    await eventually(() => getSub(a, 'chaturbate/tenth'), (x) => x.pid === 43, 'running t2');
    await call('POST', '/api/subscriptions/chaturbate/tenth/pause', { token: a.token });
    const stop = await fake.waitForMessage((m) => m.type === 'stop' && m.task_id === 't2', 'stop t2');
    expect(stop.task_id).toBe('t2');
    expect((await fake.messages()).some((m) => m.type === 'stop' && m.task_id === 't1')).toBe(true); // reset-error stopped the errored task

    await fake.mode('auto');
    await fake.refuse(true);
    const down = await eventually(() => call('GET', '/api/health'), (r) => r.status === 503, 'health 503');
    expect(await down.json()).toEqual({ status: 'overseer_disconnected', overseer_connected: false });
    const workers = await call('GET', '/api/workers', { token: admin.token });
    expect(workers.status).toBe(503);
    expect((await json(workers)).error).toBe('not connected to overseer');
    await fake.refuse(false);
  });
});
