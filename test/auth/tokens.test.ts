/**
 * The access-token attack list: every forgery is refused (401 on console routes, 403 +
 * X-Redirect-To on DVR routes), never a 500, and an expired token is a 401 on both.
 */
import { env } from 'cloudflare:test';
import { SignJWT, base64url } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http';
import { makeUser, type TestUser } from '../support/users';

let alice: TestUser;
const key = new TextEncoder().encode(env.JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  alice = await makeUser();
});

function claims(over: Record<string, unknown> = {}) {
  return { sub: String(alice.id), sid: alice.sid, role: 'user', iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now(), exp: now() + 600, ...over };
}

async function sign(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }, secret = key) {
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(secret);
}

function forge(header: object, payload: object, signature = ''): string {
  const enc = (o: object) => base64url.encode(JSON.stringify(o));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

async function consoleStatus(token: string) {
  const res = await call('GET', `/users/${alice.id}/settings`, { headers: { Authorization: `Bearer ${token}` } });
  return res;
}
async function dvr(token: string) {
  return call('GET', '/api/me', { cookie: `access_token=${token}` });
}

describe('a valid token', () => {
  it('is accepted from the Authorization header and from the cookie', async () => {
    const token = await sign(claims());
    expect((await call('GET', '/api/me', { token })).status).toBe(200);
    expect((await dvr(token)).status).toBe(200);
  });
});

describe('forged and broken tokens', () => {
  const cases: Array<[string, () => Promise<string>]> = [
    ['alg none', async () => forge({ alg: 'none', typ: 'JWT' }, claims())],
    ['HS384 instead of HS256', () => sign(claims(), { alg: 'HS384', typ: 'JWT' })],
    ['HS512 instead of HS256', () => sign(claims(), { alg: 'HS512', typ: 'JWT' })],
    ['a different key', () => sign(claims(), undefined, new TextEncoder().encode('another-secret-another-secret-another-secret'))],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await sign(claims())).split('.');
        return `${h}.${base64url.encode(JSON.stringify(claims({ role: 'admin' })))}.${s}`;
      },
    ],
    ['a truncated signature', async () => (await sign(claims())).slice(0, -6)],
    ['no exp claim', () => sign(claims({ exp: undefined }))],
    ['the wrong issuer', () => sign(claims({ iss: 'someone-else' }))],
    ['the wrong audience', () => sign(claims({ aud: 'someone-else' }))],
    ['the wrong typ header', () => sign(claims(), { alg: 'HS256', typ: 'at+jwt' })],
    ['a non-numeric subject', () => sign(claims({ sub: 'alice' }))],
    ['an unknown session id', () => sign(claims({ sid: crypto.randomUUID() }))],
    ['garbage', async () => 'not.a.token'],
    ['two parts', async () => 'abc.def'],
  ];

  for (const [name, make] of cases) {
    it(`refuses ${name}: 401 + WWW-Authenticate on console routes, 403 + X-Redirect-To on DVR routes`, async () => {
      const token = await make();
      const c = await consoleStatus(token);
      expect(c.status).toBe(401);
      expect(c.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
      expect(await c.json()).toMatchObject({ code: expect.any(String), error: expect.any(String) });
      const d = await dvr(token);
      expect(d.status).toBe(403);
      expect(d.headers.get('X-Redirect-To')).toBe('/login');
    });
  }

  it('answers an expired but genuine token with 401 on both products (the dashboard refreshes)', async () => {
    const token = await sign(claims({ iat: now() - 3600, exp: now() - 60 }));
    const c = await consoleStatus(token);
    expect(c.status).toBe(401);
    expect(c.headers.get('WWW-Authenticate')).toContain('invalid_token');
    const d = await dvr(token);
    expect(d.status).toBe(401);
    expect(d.headers.get('X-Redirect-To')).toBeNull();
    expect(await d.json()).toMatchObject({ error: 'token expired' });
  });

  for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'bearer', 'Token abc', '', 'Bearer ' + 'x'.repeat(5000)]) {
    it(`refuses the malformed Authorization header ${JSON.stringify(header.slice(0, 20))} without a 500`, async () => {
      const res = await call('GET', '/api/me', { headers: { Authorization: header } });
      expect(res.status).toBe(403);
      const c = await call('GET', `/users/${alice.id}/settings`, { headers: { Authorization: header } });
      expect(c.status).toBe(401);
    });
  }

  it('answers a missing token with 403 + X-Redirect-To on DVR routes and 401 + WWW-Authenticate: Bearer on console routes', async () => {
    const d = await call('GET', '/api/me');
    expect(d.status).toBe(403);
    expect(d.headers.get('X-Redirect-To')).toBe('/login');
    const c = await call('POST', '/auth/logout');
    expect(c.status).toBe(401);
    expect(c.headers.get('WWW-Authenticate')).toBe('Bearer');
  });
});

describe('identity comes from the token only', () => {
  it('ignores spoofed X-User-Id and X-User-Role headers', async () => {
    const admin = await makeUser({ role: 'admin' });
    const anonymous = await call('GET', '/api/me', { headers: { 'X-User-Id': String(admin.id), 'X-User-Role': 'admin' } });
    expect(anonymous.status).toBe(403);
    const asAlice = await call('GET', '/api/me', { token: alice.token, headers: { 'X-User-Id': String(admin.id), 'X-User-Role': 'admin' } });
    expect(await asAlice.json()).toMatchObject({ id: alice.id, role: 'user' });
  });

  it('reads the role from D1, not from the token claim', async () => {
    const forged = await sign(claims({ role: 'admin' }));
    const res = await call('GET', '/api/me', { token: forged });
    expect(await res.json()).toMatchObject({ id: alice.id, role: 'user' });
  });
});
