/**
 * Refresh sessions: rotation on every refresh, replay of a rotated token revokes the whole login,
 * exactly one of two concurrent refreshes wins, logout and password change revoke.
 */
import { env } from 'cloudflare:test';
import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openSuccessor, sealSuccessor } from '../../src/auth/refresh-seal';
import { db } from '../../src/db/client';
import { refreshSessions } from '../../src/db/schema';
import { setWorld, sha256Hex } from '../../src/world';
import { call, cookieHeader, cookiesOf, json } from '../support/http';
import { makeUser, PASSWORD } from '../support/users';

/** Every row of the login (family) the token belongs to. */
async function familyOf(refreshToken: string) {
  const row = await db(env).select().from(refreshSessions).where(eq(refreshSessions.tokenHash, await sha256Hex(refreshToken))).get();
  return db(env).select().from(refreshSessions).where(eq(refreshSessions.familyId, row!.familyId));
}

let restoreWorld: (() => void) | undefined;
afterEach(() => {
  restoreWorld?.();
  restoreWorld = undefined;
});

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
    const later = Date.now() + 60_000; // past the grace window
    restoreWorld = setWorld({ now: () => later });
    const replay = await refresh(first.refresh_token);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'invalid or expired refresh token' });
    // The thief's replay also kills the legitimate holder's newer tokens.
    expect((await refresh(second.refresh_token)).status).toBe(401);
    expect((await call('GET', '/api/me', { token: second.token })).status).toBe(403);
  });

  it('two concurrent refreshes with the same token yield exactly one new token, which every answer carries', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    const results = await Promise.all([refresh(first.refresh_token), refresh(first.refresh_token), refresh(first.refresh_token)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const tokens = new Set(await Promise.all(results.map(async (r) => (await json<{ refresh_token: string }>(r)).refresh_token)));
    expect(tokens.size).toBe(1);
    const family = await familyOf(first.refresh_token);
    expect(family).toHaveLength(2);
    expect(family.filter((r) => r.revokedAt === null && r.rotatedAt === null)).toHaveLength(1);
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

describe('crash consistency of rotation (issue 20)', () => {
  it('a refresh interrupted between marking the old token rotated and inserting its successor leaves the old token usable', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    // A real D1 failure at the second step of the rotation: inserting this user's successor row aborts.
    await env.DB.prepare(
      `CREATE TRIGGER fail_successor_${u.id} BEFORE INSERT ON auth_sessions WHEN NEW.user_id = ${u.id} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
    ).run();
    try {
      const crashed = await refresh(first.refresh_token);
      expect(crashed.status).toBe(500);
    } finally {
      await env.DB.prepare(`DROP TRIGGER fail_successor_${u.id}`).run();
    }
    const family = await familyOf(first.refresh_token);
    expect(family).toHaveLength(1);
    expect(family[0]!.rotatedAt).toBeNull();
    // The client retries with the token it holds and stays signed in.
    const retry = await refresh(first.refresh_token);
    expect(retry.status).toBe(200);
    const next = await json<{ token: string; refresh_token: string }>(retry);
    expect((await call('GET', '/api/me', { token: next.token })).status).toBe(200);
  });

  it('a retry after a lost refresh answer gets the same successor and the login stays signed in', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    const lost = await refresh(first.refresh_token); // committed, but the answer never reached the TV
    expect(lost.status).toBe(200);
    const lostBody = await json<{ refresh_token: string }>(lost);
    const retry = await refresh(first.refresh_token);
    expect(retry.status).toBe(200);
    const next = await json<{ token: string; refresh_token: string }>(retry);
    expect(next.refresh_token).toBe(lostBody.refresh_token);
    expect((await call('GET', '/api/me', { token: next.token })).status).toBe(200);
    const after = await refresh(next.refresh_token);
    expect(after.status).toBe(200);
    expect(await familyOf(first.refresh_token)).toHaveLength(3);
  });

  it('a replay of the previous token after the grace window revokes the whole login', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    const second = await json<{ token: string; refresh_token: string }>(await refresh(first.refresh_token));
    const later = Date.now() + 31_000;
    restoreWorld = setWorld({ now: () => later });
    const replay = await refresh(first.refresh_token);
    expect(replay.status).toBe(401);
    expect((await refresh(second.refresh_token)).status).toBe(401);
  });

  it('a replay of a token older than the immediately previous one revokes the login even inside the window', async () => {
    const u = await makeUser();
    const t1 = await launcherLogin(u.username);
    const t2 = await json<{ refresh_token: string }>(await refresh(t1.refresh_token));
    const t3 = await json<{ refresh_token: string }>(await refresh(t2.refresh_token));
    // t2 is the immediately previous token: its retry gets t3 again.
    expect((await json<{ refresh_token: string }>(await refresh(t2.refresh_token))).refresh_token).toBe(t3.refresh_token);
    // t1 is older: theft. The whole login ends, t3 included.
    expect((await refresh(t1.refresh_token)).status).toBe(401);
    expect((await refresh(t3.refresh_token)).status).toBe(401);
  });

  it('a retry is refused once the login was revoked (logout) inside the window', async () => {
    const u = await makeUser();
    const first = await launcherLogin(u.username);
    const second = await json<{ token: string }>(await refresh(first.refresh_token));
    expect((await call('POST', '/auth/logout', { token: second.token })).status).toBe(204);
    expect((await refresh(first.refresh_token)).status).toBe(401);
  });

  it('stores the successor only sealed: it opens with the previous token alone', async () => {
    const sealed = await sealSuccessor(env, 'previous-token-previous-token', 'row-1', 'the-successor');
    expect(sealed).not.toContain('the-successor');
    expect(await openSuccessor(env, 'previous-token-previous-token', 'row-1', sealed)).toBe('the-successor');
    expect(await openSuccessor(env, 'another-token-another-token', 'row-1', sealed)).toBeNull();
    expect(await openSuccessor(env, 'previous-token-previous-token', 'row-2', sealed)).toBeNull();
    const row = await db(env).select({ n: sql<number>`count(*)` }).from(refreshSessions).where(eq(refreshSessions.successorSealed, 'the-successor')).get();
    expect(row!.n).toBe(0);
  });
});

describe('dashboard refresh (cookies)', () => {
  async function dashLogin(username: string) {
    const res = await call('POST', '/api/auth/login', { body: { username, password: PASSWORD } });
    expect(res.status).toBe(200);
    return cookiesOf(res);
  }

  it('rotates both cookies; a retry of the first cookie gets the same successor, a late replay is refused', async () => {
    const u = await makeUser();
    const c1 = await dashLogin(u.username);
    const r = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c1.refresh_token! }) });
    expect(r.status).toBe(200);
    const c2 = cookiesOf(r);
    expect(c2.refresh_token).toBeTruthy();
    expect(c2.refresh_token).not.toBe(c1.refresh_token);
    expect(Object.keys(await r.json())).toEqual(['access_token']);
    const replay = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c1.refresh_token! }) });
    // Inside the grace window the previous cookie is a retry: the same successor comes back.
    expect(replay.status).toBe(200);
    expect(cookiesOf(replay).refresh_token).toBe(c2.refresh_token);
    const later = Date.now() + 31_000;
    restoreWorld = setWorld({ now: () => later });
    const late = await call('POST', '/api/auth/refresh', { cookie: cookieHeader({ refresh_token: c1.refresh_token! }) });
    expect(late.status).toBe(401);
    expect(await late.json()).toMatchObject({ error: 'invalid or expired refresh token' });
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
