/**
 * Refresh sessions: rotation on every refresh, replay of a rotated token revokes the whole login,
 * exactly one of two concurrent refreshes wins, logout and password change revoke.
 */
import { describe, expect, it } from 'vitest';
import { call, cookieHeader, cookiesOf, json } from '../support/http';
import { makeUser, PASSWORD } from '../support/users';

async function launcherLogin(username: string, password = PASSWORD) {
  const res = await call('POST', '/auth/login', { body: { username, password } });
  expect(res.status).toBe(200);
  return json<{ token: string; refresh_token: string; user_id: number }>(res);
}

async function refresh(token: string) {
  return call('POST', '/auth/refresh', { body: { refresh_token: token } });
}

describe('launcher refresh (tokens in the body)', () => {
  it('rotates: a refresh returns a new pair and the new access token works', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    const res = await refresh(first.refresh_token);
    expect(res.status).toBe(200);
    const next = await json<{ token: string; refresh_token: string; expires_in: number }>(res);
    expect(next.refresh_token).not.toBe(first.refresh_token);
    expect(next.expires_in).toBe(900);
    expect((await call('GET', '/api/me', { token: next.token })).status).toBe(200);
  });

  it('revokes the whole family when a rotated token is replayed', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    const second = await json<{ token: string; refresh_token: string }>(await refresh(first.refresh_token));
    const replay = await refresh(first.refresh_token);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'invalid or expired refresh token' });
    // The thief's replay also kills the legitimate holder's newer tokens.
    expect((await refresh(second.refresh_token)).status).toBe(401);
    expect((await call('GET', '/api/me', { token: second.token })).status).toBe(403);
  });

  it('lets exactly one of two concurrent refreshes with the same token win', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    const results = await Promise.all([refresh(first.refresh_token), refresh(first.refresh_token), refresh(first.refresh_token)]);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(2);
  });

  it('refuses unknown, malformed and missing refresh tokens without a 500', async () => {
    expect((await refresh('A'.repeat(43))).status).toBe(401);
    expect((await refresh('short')).status).toBe(401);
    expect((await call('POST', '/auth/refresh', { body: {} })).status).toBe(400);
    expect((await call('POST', '/auth/refresh', { raw: '{not json', headers: { 'Content-Type': 'application/json' } })).status).toBe(400);
  });

  it('logout revokes the login: its refresh token and access token stop working', async () => {
    const u = await makeUser();
    const login = await launcherLogin(u.username);
    expect((await call('POST', '/auth/logout', { token: login.token })).status).toBe(204);
    expect((await refresh(login.refresh_token)).status).toBe(401);
    expect((await call('GET', '/api/me', { token: login.token })).status).toBe(403);
  });

  it('logout leaves the user’s other logins alone', async () => {
    const u = await makeUser();
    const a = await launcherLogin(u.username);
    const b = await launcherLogin(u.username);
    await call('POST', '/auth/logout', { token: a.token });
    expect((await refresh(b.refresh_token)).status).toBe(200);
  });
});

describe('dashboard refresh (cookies)', () => {
  async function dashLogin(username: string) {
    const res = await call('POST', '/api/auth/login', { body: { username, password: PASSWORD } });
    expect(res.status).toBe(200);
    return cookiesOf(res);
  }

  it('rotates both cookies and refuses a replay of the first refresh cookie', async () => {
    const u = await makeUser();
    const c1 = await dashLogin(u.username);
    const r = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c1.refresh_token! }) });
    expect(r.status).toBe(200);
    const c2 = cookiesOf(r);
    expect(c2.refresh_token).toBeTruthy();
    expect(c2.refresh_token).not.toBe(c1.refresh_token);
    expect(Object.keys(await r.json())).toEqual(['access_token']);
    const replay = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c1.refresh_token! }) });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'invalid or expired refresh token' });
  });

  it('answers a refresh without the cookie with 401 "missing refresh token"', async () => {
    const r = await call('POST', '/api/auth/refresh');
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ error: 'missing refresh token' });
  });

  it('refuses a cross-site refresh (CSRF) even with a valid cookie', async () => {
    const u = await makeUser();
    const c = await dashLogin(u.username);
    const r = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c.refresh_token! }), headers: { 'Sec-Fetch-Site': 'cross-site' } });
    expect(r.status).toBe(403);
    const same = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c.refresh_token! }), headers: { 'Sec-Fetch-Site': 'same-origin' } });
    expect(same.status).toBe(200);
  });

  it('refuses a cookie-authenticated state change from another origin', async () => {
    const u = await makeUser();
    const c = await dashLogin(u.username);
    const r = await call('POST', '/api/auth/logout', { cookie: cookieHeader(c), headers: { Origin: 'https://evil.example' } });
    expect(r.status).toBe(403);
  });

  it('logout clears both cookies and the old refresh cookie no longer works', async () => {
    const u = await makeUser();
    const c = await dashLogin(u.username);
    const r = await call('POST', '/api/auth/logout', { cookie: cookieHeader(c) });
    expect(r.status).toBe(204);
    const cleared = r.headers.getSetCookie();
    expect(cleared.find((s) => s.startsWith('access_token=;'))).toMatch(/Max-Age=0/);
    expect(cleared.find((s) => s.startsWith('refresh_token=;'))).toMatch(/Max-Age=0/);
    const again = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c.refresh_token! }) });
    expect(again.status).toBe(401);
  });
});

describe('password change', () => {
  it('needs the current password, applies the policy, and revokes the user’s other logins', async () => {
    const u = await makeUser();
    const other = await launcherLogin(u.username);
    const wrong = await call('POST', '/api/me/change-password', { token: u.token, body: { current_password: 'nope nope nope', new_password: 'a brand new passphrase' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'current password is incorrect' });
    const weak = await call('POST', '/api/me/change-password', { token: u.token, body: { current_password: PASSWORD, new_password: 'short' } });
    expect(weak.status).toBe(400);
    const missing = await call('POST', '/api/me/change-password', { token: u.token, body: { current_password: PASSWORD } });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'current_password and new_password are required' });
    const ok = await call('POST', '/api/me/change-password', { token: u.token, body: { current_password: PASSWORD, new_password: 'a brand new passphrase' } });
    expect(ok.status).toBe(204);
    expect((await refresh(other.refresh_token)).status).toBe(401);
    expect((await call('GET', '/api/me', { token: u.token })).status).toBe(200);
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: PASSWORD } })).status).toBe(401);
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: 'a brand new passphrase' } })).status).toBe(200);
  });
});
