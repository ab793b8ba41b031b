import { describe, expect, it } from 'vitest';
import VERSION from '../../VERSION';
import { call, client, json } from '../support/http';

describe('system routes', () => {
  it('answers /health with ok after checking D1', async () => {
    const res = await client().health.$get();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('reports exactly the version in the VERSION file (a stale or hard-coded /version fails)', async () => {
    const res = await client().version.$get();
    expect(res.status).toBe(200);
    const body = await json<{ server: string }>(res);
    expect(VERSION.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(body.server).toBe(VERSION.trim());
  });

  it('answers unknown paths with the common 404 shape', async () => {
    // A path the API does not have: only the raw transport can ask for it.
    const res = await call('GET', '/definitely/not/here');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found', code: 'not_found' });
  });
});
