/**
 * The identity operations as published in `/openapi.json` (issue 12 §5): each has an operationId,
 * tags, its declared security (none for the public sign-in routes, bearer for the signed-in ones)
 * and at least one 4xx response, so a client generator and the linter can rely on them.
 */
import { describe, expect, it } from 'vitest';
import { call, json } from '../support/http';

type Operation = { operationId?: string; tags?: string[]; security?: Array<Record<string, string[]>>; responses: Record<string, unknown> };

const identity: Array<[path: string, method: string, operationId: string, security: 'public' | 'bearer' | 'either']> = [
  ['/.well-known/jwks.json', 'get', 'getJwks', 'public'],
  ['/users/exists', 'get', 'getBootstrapState', 'public'],
  ['/users', 'post', 'registerUser', 'either'],
  ['/auth/login', 'post', 'login', 'public'],
  ['/auth/refresh', 'post', 'refreshLogin', 'public'],
  ['/auth/logout', 'post', 'logout', 'bearer'],
  ['/auth/device', 'post', 'startDeviceAuthorization', 'public'],
  ['/auth/device/token', 'post', 'exchangeDeviceCode', 'public'],
  ['/auth/device/{user_code}', 'get', 'getDeviceRequest', 'bearer'],
  ['/auth/device/{user_code}/approve', 'post', 'approveDevice', 'bearer'],
  ['/auth/device/{user_code}/deny', 'post', 'denyDevice', 'bearer'],
  ['/auth/devices', 'get', 'listPairedDevices', 'bearer'],
  ['/auth/devices/{id}', 'delete', 'unpairDevice', 'bearer'],
  ['/link', 'get', 'openPairingPage', 'public'],
];

describe('identity operations in /openapi.json', () => {
  it.each(identity)('%s %s is %s, tagged, with its security and a 4xx answer', async (path, method, operationId, security) => {
    const doc = await json<{ paths: Record<string, Record<string, Operation>> }>(await call('GET', '/openapi.json'));
    const op = doc.paths[path]?.[method];
    expect(op?.operationId).toBe(operationId);
    expect(op?.tags).toContain('identity');
    const expected = { public: [], bearer: [{ bearer: [] }], either: [{}, { bearer: [] }] }[security];
    expect(op?.security).toEqual(expected);
    expect(Object.keys(op?.responses ?? {}).some((s) => /^4\d\d$/.test(s))).toBe(true);
  });

  it('no longer serves the keys from the platform router: one operation for /.well-known/jwks.json', async () => {
    const res = await call('GET', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('Cache-Control')).toBe('public, max-age=300');
    expect((await json<{ keys: unknown[] }>(res)).keys.length).toBeGreaterThan(0);
  });
});
