/**
 * `GET /api/admin/diagnostics`: the optional converter and thumbnailer, which this deployment does not
 * configure, say so with `configured: false` beside the contract's keys (the page shows them neutral,
 * not as a fault), while the recorder fleet, which is configured, keeps the plain contract shape.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

type ServiceInfo = { connected: boolean; configured?: boolean; error?: string };
let admin: TestUser;

beforeAll(async () => {
  await useFakeOverseer('diagnostics');
  admin = await makeUser({ role: 'admin' });
});

describe('GET /api/admin/diagnostics optional services', () => {
  it('reports the unconfigured converter and thumbnailer as not configured, keeping the contract error text', async () => {
    const res = await call('GET', '/api/admin/diagnostics', { token: admin.token });
    expect(res.status).toBe(200);
    const body = await json<{ recorder: ServiceInfo; converter: ServiceInfo; thumbnailer: ServiceInfo }>(res);
    expect(body.converter).toEqual({ connected: false, configured: false, error: 'CONVERTER_URL not configured' });
    expect(body.thumbnailer).toEqual({ connected: false, configured: false, error: 'THUMBNAILER_URL not configured' });
    // The recorder is configured: no `configured: false`, so a disconnect there still reads as a fault.
    expect(body.recorder.configured).toBeUndefined();
  });
});
