/**
 * The HTTP layer every route shares: one error shape, validation that never echoes input, body
 * limits, security headers, CORS from the configured list, the OpenAPI document, and refusing to
 * serve with a weak signing secret.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { app } from '../../src/app';
import { BASE, call, json } from '../support/http';

describe('errors and validation', () => {
  it('answers malformed JSON with 400 "invalid JSON" in the common shape', async () => {
    const res = await call('POST', '/auth/login', { raw: '{"username": "a", ', headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid JSON', code: 'invalid_json' });
  });

  it('never echoes submitted values (passwords) in validation errors', async () => {
    const res = await call('POST', '/auth/login', { body: { password: 'hunter2-secret-value' } });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    expect(JSON.parse(text)).toMatchObject({ code: 'validation_failed', error: expect.stringContaining('username') });
  });

  it('answers wrong types with 400, not 500', async () => {
    for (const body of [{ username: 5, password: true }, [], 'text', null, { username: ['a'], password: {} }]) {
      const res = await call('POST', '/auth/login', { body });
      expect(res.status).toBe(400);
    }
  });

  it('uses the DVR contract messages on DVR routes', async () => {
    const missing = await call('POST', '/api/auth/login', { body: { username: 'admin' } });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'username and password are required' });
    const bad = await call('POST', '/api/auth/login', { raw: 'not json', headers: { 'Content-Type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid JSON' });
  });

  it('rejects bodies over 64 KiB with 413 before the handler runs', async () => {
    const res = await call('POST', '/auth/login', { body: { username: 'a', password: 'x'.repeat(70 * 1024) } });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'payload_too_large' });
  });
});

describe('response headers', () => {
  it('sets security headers, a request id and no-store on API answers', async () => {
    const res = await call('GET', '/users/exists');
    expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(res.headers.get('X-Frame-Options')).toBe('DENY');
    expect(res.headers.get('Referrer-Policy')).toBe('strict-origin-when-cross-origin');
    expect(res.headers.get('Content-Security-Policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('Cache-Control')).toBe('no-store');
    expect(res.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('lets other origins embed covers, even a missing one, and nothing else', async () => {
    const cover = await call('GET', '/covers/7-0123456789abcdef0123456789abcdef.png');
    expect(cover.status).toBe(404);
    expect(cover.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin');
    const api = await call('GET', '/users/exists');
    expect(api.headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin');
  });

  it('allows CORS only for configured origins, without credentials', async () => {
    const ok = await call('OPTIONS', '/auth/login', { headers: { Origin: 'http://localhost:8787', 'Access-Control-Request-Method': 'POST' } });
    expect(ok.headers.get('Access-Control-Allow-Origin')).toBe('http://localhost:8787');
    expect(ok.headers.get('Access-Control-Allow-Credentials')).toBeNull();
    const evil = await call('OPTIONS', '/auth/login', { headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(evil.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });
});

describe('OpenAPI', () => {
  it('publishes a 3.1 document generated from the route schemas', async () => {
    const doc = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(await call('GET', '/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    for (const [path, method] of [
      ['/health', 'get'],
      ['/auth/login', 'post'],
      ['/auth/refresh', 'post'],
      ['/users', 'post'],
      ['/api/auth/login', 'post'],
      ['/api/me', 'get'],
      ['/api/health', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
  });

  it('publishes regex patterns a client-side validator can use, and where the API lives', async () => {
    const doc = await json<Record<string, unknown> & { servers: Array<{ url: string }> }>(await call('GET', '/openapi.json'));
    const patterns: string[] = [];
    JSON.stringify(doc, (k, v: unknown) => (k === 'pattern' && typeof v === 'string' && patterns.push(v), v));
    expect(patterns.length).toBeGreaterThan(0);
    // A pattern ending in its regex flags (`…$/u`) matches no value at all.
    expect(patterns.filter((p) => /\/[dgimsuvy]+$/.test(p))).toEqual([]);
    const username = patterns.find((p) => p.includes('\\p{L}'));
    expect(username && new RegExp(username, 'u').test('alice')).toBe(true);
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('names, tags and secures the platform operations', async () => {
    const doc = await json<{ paths: Record<string, Record<string, { operationId?: string; tags?: string[]; security?: unknown[] }>> }>(await call('GET', '/openapi.json'));
    for (const [path, id, secured] of [
      ['/health', 'getHealth', false],
      ['/version', 'getVersion', false],
      ['/metrics', 'getPrometheusMetrics', true],
      ['/metrics/series', 'getMetricSeries', true],
      ['/metrics/catalog', 'getMetricCatalog', true],
    ] as const) {
      const op = doc.paths[path]?.get;
      expect(op?.operationId, path).toBe(id);
      expect(op?.tags?.length, path).toBeGreaterThan(0);
      expect(op?.security, path).toEqual(secured ? [{ bearer: [] }, { cookie: [] }] : []);
    }
  });
});

describe('configuration', () => {
  it('refuses to serve when JWT_SECRET is shorter than 32 bytes', async () => {
    const res = await app.fetch(new Request(`${BASE}/health`), { ...env, JWT_SECRET: 'too-short' });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'misconfigured' });
  });

  it.each([
    ['an empty COUCHSUITE_USERNAME_SECRET (usernames keyed by nothing)', { COUCHSUITE_USERNAME_SECRET: '' }, 'COUCHSUITE_USERNAME_SECRET is empty'],
    ['a blank COUCHSUITE_USERNAME_SECRET', { COUCHSUITE_USERNAME_SECRET: '   ' }, 'COUCHSUITE_USERNAME_SECRET is empty'],
    ['a missing SESSION_SIGNING_KEY (a seat reserved, then a 500)', { SESSION_SIGNING_KEY: '' }, 'SESSION_SIGNING_KEY is missing'],
    ['a SESSION_SIGNING_KEY that is not JSON', { SESSION_SIGNING_KEY: 'not-a-jwk' }, 'SESSION_SIGNING_KEY is not a P-256 private JWK'],
    ['a SESSION_SIGNING_KEY without its private part', { SESSION_SIGNING_KEY: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }) }, 'SESSION_SIGNING_KEY is not a P-256 private JWK'],
  ])('refuses to serve with %s, and says which secret in one log line', async (_name, override, problem) => {
    const logged: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: unknown) => void logged.push(String(line)));
    const spyLog = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void logged.push(String(line)));
    try {
      for (const path of ['/health', '/auth/login', '/api/me']) {
        const res = await app.fetch(new Request(`${BASE}${path}`), { ...env, ...override });
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({ error: 'server misconfigured', code: 'misconfigured' });
      }
    } finally {
      spy.mockRestore();
      spyLog.mockRestore();
    }
    const line = logged.find((l) => l.includes('refusing to serve'));
    expect(line).toContain(problem);
    for (const value of Object.values(override)) if (value.trim()) expect(line).not.toContain(value);
  });

  it('publishes the session-token public key without its private part', async () => {
    const res = await call('GET', '/.well-known/jwks.json');
    const body = await json<{ keys: Array<Record<string, string>> }>(res);
    expect(body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(body.keys[0]!.d).toBeUndefined();
  });
});
