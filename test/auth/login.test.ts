import { describe, expect, it } from 'vitest';
import { call, cookiesOf, json } from '../support/http';
import { makeUser, PASSWORD } from '../support/users';

describe('console login', () => {
  it('signs a user in with the contract shape plus real tokens', async () => {
    const u = await makeUser({ username: 'Carol Login' });
    const res = await call('POST', '/auth/login', { body: { username: '  carol login ', password: PASSWORD } });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ user_id: u.id, username: 'Carol Login', settings: {}, orgs: [], token_type: 'Bearer', expires_in: 900 });
    expect(Array.isArray(body.apps)).toBe(true);
    expect(String(body.token).split('.')).toHaveLength(3);
    expect(String(body.refresh_token)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.headers.get('Cache-Control')).toBe('no-store');
  });

  it('gives unknown users and wrong passwords the same 401', async () => {
    await makeUser({ username: 'dave-login' });
    const wrong = await call('POST', '/auth/login', { body: { username: 'dave-login', password: 'not the password at all' } });
    const unknown = await call('POST', '/auth/login', { body: { username: 'nobody-here', password: 'not the password at all' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
  });
});

describe('dashboard login', () => {
  it('sets hardened cookies and returns the DVR user object', async () => {
    const u = await makeUser({ username: 'erin-dash', role: 'admin' });
    const res = await call('POST', '/api/auth/login', { body: { username: 'erin-dash', password: PASSWORD } });
    expect(res.status).toBe(200);
    const body = await json<{ access_token: string; user: Record<string, unknown> }>(res);
    expect(Object.keys(body.user).sort()).toEqual(['created_at', 'id', 'role', 'updated_at', 'username']);
    expect(body.user).toMatchObject({ id: u.id, username: 'erin-dash', role: 'admin' });
    const setCookies = res.headers.getSetCookie();
    const access = setCookies.find((c) => c.startsWith('access_token='))!;
    const refresh = setCookies.find((c) => c.startsWith('refresh_token='))!;
    expect(access).toMatch(/Path=\//);
    expect(access).toMatch(/HttpOnly/);
    expect(access).toMatch(/SameSite=Strict/);
    expect(refresh).toMatch(/Path=\/api\/auth/);
    expect(refresh).toMatch(/Secure/);
    expect(cookiesOf(res).access_token).toBe(body.access_token);
    const me = await call('GET', '/api/me', { cookie: `access_token=${body.access_token}` });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: u.id, username: 'erin-dash' });
  });
});
