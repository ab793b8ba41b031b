import { describe, expect, it } from 'vitest';
import { call, json } from '../support/http';

describe('system routes', () => {
  it('answers /health with ok after checking D1', async () => {
    const res = await call('GET', '/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('reports the version from the VERSION file', async () => {
    const res = await call('GET', '/version');
    const body = await json<{ server: string }>(res);
    expect(body.server).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('answers unknown paths with the common 404 shape', async () => {
    const res = await call('GET', '/definitely/not/here');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found', code: 'not_found' });
  });
});
