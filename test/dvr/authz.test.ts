/**
 * Every DVR route refuses the wrong actor (contract §7.8 as tightened by the issue): anonymous
 * callers get 403 + `X-Redirect-To: /login`, non-admins get 403 `admin role required` on admin
 * routes, and a user without a subscription cannot read or act on another user's source —
 * including its files, media and thumbnails.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { storeRecording } from '../support/recordings';
import { useFakeOverseer } from './fake';

let owner: TestUser;
let stranger: TestUser;
let admin: TestUser;
let subId: number;

beforeAll(async () => {
  await useFakeOverseer('authz');
  admin = await makeUser({ role: 'admin' });
  owner = await makeUser();
  stranger = await makeUser();
  const res = await call('POST', '/api/subscriptions', { token: owner.token, body: { driver: 'chaturbate', username: 'private' } });
  subId = (await json<{ sub_id: number }>(res)).sub_id;
  // Recordings are served from the catalog (issue 16): register the object as a stored recording.
  await storeRecording('chaturbate', 'private', 's1/a.ts', new Uint8Array(16));
  await env.BUCKET.put('thumbnails/chaturbate/private.jpg', new Uint8Array(8));
});

type Route = { method: string; path: () => string; body?: unknown };

/** A readable name without evaluating ids that exist only after beforeAll. */
const label = (r: Route) => `${r.method} ${r.path.toString().replace(/^\(\) => /, '')}`;

const userRoutes: Route[] = [
  { method: 'GET', path: () => '/api/subscriptions' },
  { method: 'POST', path: () => '/api/subscriptions', body: { driver: 'chaturbate', username: 'x' } },
  { method: 'GET', path: () => '/api/subscriptions/chaturbate/private' },
  { method: 'DELETE', path: () => '/api/subscriptions/chaturbate/private' },
  { method: 'POST', path: () => '/api/subscriptions/chaturbate/private/pause' },
  { method: 'POST', path: () => '/api/subscriptions/chaturbate/private/resume' },
  { method: 'POST', path: () => '/api/subscriptions/chaturbate/private/archive' },
  { method: 'POST', path: () => '/api/subscriptions/chaturbate/private/reset-error' },
  { method: 'GET', path: () => '/api/sources/chaturbate/private/events' },
  { method: 'GET', path: () => '/api/sources/chaturbate/private/logs' },
  { method: 'GET', path: () => '/api/sources/chaturbate/private/files' },
  { method: 'GET', path: () => '/api/sources/chaturbate/private/filestat?path=' },
  { method: 'GET', path: () => '/media/subscriptions/chaturbate/private/' },
  { method: 'GET', path: () => '/media/subscriptions/chaturbate/private/s1/a.ts' },
  { method: 'GET', path: () => '/thumbnails/chaturbate/private.jpg' },
];

const adminRoutes: Route[] = [
  { method: 'POST', path: () => `/api/admin/subscriptions/${subId}/pause` },
  { method: 'POST', path: () => `/api/admin/subscriptions/${subId}/resume` },
  { method: 'POST', path: () => `/api/admin/subscriptions/${subId}/archive` },
  { method: 'DELETE', path: () => `/api/admin/subscriptions/${subId}` },
  { method: 'POST', path: () => `/api/admin/subscriptions/${subId}/reset-error` },
  { method: 'POST', path: () => `/api/admin/subscriptions/${subId}/restart` },
  { method: 'POST', path: () => '/api/admin/sources/restart-all', body: { include_errored: true } },
  { method: 'GET', path: () => '/api/admin/sources/chaturbate/private/subscribers' },
  { method: 'GET', path: () => `/api/admin/users/${owner.id}/subscriptions` },
  { method: 'GET', path: () => '/api/admin/diagnostics' },
  { method: 'GET', path: () => '/api/config' },
  { method: 'PUT', path: () => '/api/config', body: { resolution: 480 } },
  { method: 'GET', path: () => '/api/users' },
  { method: 'POST', path: () => '/api/users', body: { username: 'mallory-made', password: 'a long enough password 1' } },
  { method: 'GET', path: () => `/api/users/${owner.id}` },
  { method: 'PUT', path: () => `/api/users/${stranger.id}`, body: { role: 'admin' } },
  { method: 'DELETE', path: () => `/api/users/${owner.id}` },
  { method: 'GET', path: () => '/api/workers' },
];

describe('anonymous callers', () => {
  it.each([...userRoutes, ...adminRoutes].map((r) => [label(r), r] as const))('%s → 403 with X-Redirect-To', async (_name, r) => {
    const res = await call(r.method, r.path(), { body: r.body });
    expect(res.status).toBe(403);
    expect(res.headers.get('X-Redirect-To')).toBe('/login');
  });
});

describe('non-admin callers', () => {
  it.each(adminRoutes.map((r) => [label(r), r] as const))('%s → 403 admin role required', async (_name, r) => {
    const res = await call(r.method, r.path(), { token: owner.token, body: r.body });
    expect(res.status).toBe(403);
    expect((await json(res)).error).toBe('admin role required');
  });

  it('is refused as non-admin before its malformed path is judged; an admin gets the 400', async () => {
    const refused = await call('GET', '/api/admin/users/abc/subscriptions', { token: owner.token });
    expect([refused.status, await json(refused)]).toEqual([403, { error: 'admin role required', code: 'admin_required' }]);
    const admin = await makeUser({ role: 'admin' });
    const invalid = await call('GET', '/api/admin/users/abc/subscriptions', { token: admin.token });
    expect(invalid.status).toBe(400);
    expect(await json(invalid)).toMatchObject({ error: 'invalid user id', code: 'validation_failed' });
  });

  it('changed nothing through the refused admin routes', async () => {
    const me = await json<{ role: string }>(await call('GET', '/api/me', { token: stranger.token }));
    expect(me.role).toBe('user');
    const s = await json<{ posture: string }>(await call('GET', '/api/subscriptions/chaturbate/private', { token: owner.token }));
    expect(s.posture).toBe('active');
  });
});

describe("a user without a subscription to someone else's source", () => {
  it('does not see it in the list', async () => {
    const list = await json<unknown[]>(await call('GET', '/api/subscriptions', { token: stranger.token }));
    expect(list).toEqual([]);
  });

  it.each(['', '/pause', '/resume', '/archive'])('cannot act on it: POST/GET …private%s → 404', async (suffix) => {
    const res = await call(suffix ? 'POST' : 'GET', `/api/subscriptions/chaturbate/private${suffix}`, { token: stranger.token });
    expect(res.status).toBe(404);
    expect((await json(res)).error).toBe('subscription chaturbate/private not found');
  });

  it('cannot archive it with DELETE, and reset-error answers 409', async () => {
    expect((await call('DELETE', '/api/subscriptions/chaturbate/private', { token: stranger.token })).status).toBe(404);
    const reset = await call('POST', '/api/subscriptions/chaturbate/private/reset-error', { token: stranger.token });
    expect(reset.status).toBe(409);
    expect((await json(reset)).error).toBe('subscription chaturbate/private not found');
  });

  it.each(['events', 'logs', 'files'])('cannot read its %s (404 like an unknown source)', async (what) => {
    const res = await call('GET', `/api/sources/chaturbate/private/${what}`, { token: stranger.token });
    expect(res.status).toBe(404);
    expect((await json(res)).error).toBe('source chaturbate/private not found');
  });

  it('gets 403 forbidden from filestat (contract order of checks)', async () => {
    const res = await call('GET', '/api/sources/chaturbate/private/filestat?path=', { token: stranger.token });
    expect(res.status).toBe(403);
    expect((await json(res)).error).toBe('forbidden');
  });

  it.each(['/media/subscriptions/chaturbate/private/', '/media/subscriptions/chaturbate/private/s1/a.ts', '/thumbnails/chaturbate/private.jpg'])(
    'cannot fetch %s (404)',
    async (path) => {
      const res = await call('GET', path, { token: stranger.token });
      expect(res.status).toBe(404);
    },
  );

  it('can read everything once subscribed, in any posture', async () => {
    await call('POST', '/api/subscriptions', { token: stranger.token, body: { driver: 'chaturbate', username: 'private' } });
    await call('POST', '/api/subscriptions/chaturbate/private/archive', { token: stranger.token });
    for (const path of ['/api/sources/chaturbate/private/logs', '/media/subscriptions/chaturbate/private/', '/thumbnails/chaturbate/private.jpg']) {
      expect((await call('GET', path, { token: stranger.token })).status).toBe(200);
    }
  });

  it('admins read any source without a subscription', async () => {
    for (const path of ['/api/sources/chaturbate/private/events', '/media/subscriptions/chaturbate/private/s1/a.ts', '/api/sources/chaturbate/private/filestat?path=s1']) {
      expect((await call('GET', path, { token: admin.token })).status).toBe(200);
    }
  });
});

describe('cookie sessions', () => {
  it('refuse a cross-site state change (CSRF)', async () => {
    const res = await call('POST', '/api/subscriptions/chaturbate/private/pause', { cookie: owner.cookie, headers: { 'Sec-Fetch-Site': 'cross-site' } });
    expect(res.status).toBe(403);
    const same = await call('POST', '/api/subscriptions/chaturbate/private/pause', { cookie: owner.cookie, headers: { 'Sec-Fetch-Site': 'same-origin' } });
    expect(same.status).toBe(200);
  });
});
