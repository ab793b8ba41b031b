/**
 * The request log a person reads: routine successes stay out of it at `info`, failures and slow
 * requests are one line each, `LOG_LEVEL` silences below itself, and `LOG_FORMAT=pretty` (npm start)
 * prints a compact line instead of JSON.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { app } from '../../src/app';
import { requestLogLevel } from '../../src/http/middleware';

const lines = () => {
  const spy = vi.spyOn(console, 'log');
  const warn = vi.spyOn(console, 'warn');
  const error = vi.spyOn(console, 'error');
  return () => [...spy.mock.calls, ...warn.mock.calls, ...error.mock.calls].map((c) => String(c[0])).filter((l) => l.includes('request'));
};

async function get(path: string, vars: Record<string, string>) {
  const res = await app.request(`https://edgeplane.test${path}`, { headers: { 'cf-connecting-ip': '203.0.113.9' } }, { ...env, ...vars });
  await res.arrayBuffer();
  return res.status;
}

afterEach(() => vi.restoreAllMocks());

describe('request logging', () => {
  it('keeps a successful fast request out of the log at info, and logs a 404 as one JSON line', async () => {
    const logged = lines();
    expect(await get('/health', { LOG_LEVEL: 'info', LOG_FORMAT: 'json' })).toBe(200);
    expect(logged()).toEqual([]);
    expect(await get('/no-such-route', { LOG_LEVEL: 'info', LOG_FORMAT: 'json' })).toBe(404);
    const [line, ...rest] = logged();
    expect(rest).toEqual([]);
    expect(JSON.parse(line!)).toMatchObject({ level: 'info', msg: 'request', method: 'GET', path: '/no-such-route', status: 404 });
  });

  it('logs every request at debug', async () => {
    const logged = lines();
    await get('/health', { LOG_LEVEL: 'debug', LOG_FORMAT: 'json' });
    expect(logged().map((l) => JSON.parse(l))).toMatchObject([{ level: 'debug', path: '/health', status: 200 }]);
  });

  it('silences failed requests below LOG_LEVEL=warn', async () => {
    const logged = lines();
    expect(await get('/no-such-route', { LOG_LEVEL: 'warn', LOG_FORMAT: 'json' })).toBe(404);
    expect(logged()).toEqual([]);
  });

  it('prints one compact human line with LOG_FORMAT=pretty', async () => {
    const logged = lines();
    await get('/no-such-route', { LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' });
    expect(logged()).toEqual([expect.stringMatching(/^INFO {2}request method=GET path=\/no-such-route status=404 ms=\d+$/)]);
  });

  it('rates failures and slow successes above routine ones', () => {
    expect(requestLogLevel(200, 5)).toBe('debug');
    expect(requestLogLevel(304, 5)).toBe('debug');
    expect(requestLogLevel(200, 2500)).toBe('info');
    expect(requestLogLevel(429, 5)).toBe('info');
    expect(requestLogLevel(503, 5)).toBe('error');
  });
});
