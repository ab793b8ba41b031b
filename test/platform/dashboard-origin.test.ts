/**
 * The dashboard deployed on a sibling host (DASHBOARD_ORIGINS): credentialed CORS on every path and
 * its cookie-authenticated writes accepted; every other origin still refused.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { BASE, cookieHeader, cookiesOf } from '../support/http';
import { makeUser, PASSWORD } from '../support/users';

const DASH = 'https://dash.edgeplane.test';
const withDash = { ...env, DASHBOARD_ORIGINS: `${DASH}, https://other-dash.edgeplane.test` };

function send(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const headers = new Headers(init.headers);
  headers.set('cf-connecting-ip', '203.0.113.9');
  return app.fetch(new Request(`${BASE}${path}`, { ...init, headers }), withDash);
}

describe('a dashboard on a sibling host', () => {
  it('gets credentialed CORS on DVR and console paths', async () => {
    for (const path of ['/api/auth/login', '/api/subscriptions', '/orgs']) {
      const pre = await send(path, { method: 'OPTIONS', headers: { Origin: DASH, 'Access-Control-Request-Method': 'POST' } });
      expect(pre.headers.get('Access-Control-Allow-Origin'), path).toBe(DASH);
      expect(pre.headers.get('Access-Control-Allow-Credentials'), path).toBe('true');
    }
  });

  it('signs in and changes state with its same-site cookies', async () => {
    const u = await makeUser();
    const login = await send('/api/auth/login', {
      method: 'POST',
      headers: { Origin: DASH, 'Sec-Fetch-Site': 'same-site', 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: u.username, password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    expect(login.headers.get('Access-Control-Allow-Origin')).toBe(DASH);
    const cookies = cookiesOf(login);
    const sub = await send('/api/subscriptions', {
      method: 'POST',
      headers: { Origin: DASH, 'Sec-Fetch-Site': 'same-site', 'Content-Type': 'application/json', Cookie: cookieHeader(cookies) },
      body: JSON.stringify({ driver: 'chaturbate', username: 'sibling' }),
    });
    expect(sub.status).toBe(201);
  });

  it('still refuses cookie writes and CORS for origins that are not listed', async () => {
    const u = await makeUser();
    const evil = 'https://evil.edgeplane.test';
    const pre = await send('/api/subscriptions', { method: 'OPTIONS', headers: { Origin: evil, 'Access-Control-Request-Method': 'POST' } });
    expect(pre.headers.get('Access-Control-Allow-Origin')).toBeNull();
    const res = await send('/api/subscriptions', {
      method: 'POST',
      headers: { Origin: evil, 'Sec-Fetch-Site': 'same-site', 'Content-Type': 'application/json', Cookie: u.cookie },
      body: JSON.stringify({ driver: 'chaturbate', username: 'nope' }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'csrf' });
  });

  it('keeps the DVR API closed to launcher origins (CORS_ORIGINS are console-only, without credentials)', async () => {
    const pre = await send('/api/subscriptions', { method: 'OPTIONS', headers: { Origin: 'http://localhost:8787', 'Access-Control-Request-Method': 'GET' } });
    expect(pre.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });
});

describe('redirects back to the dashboard', () => {
  // `npm start` on PORT 9123 lists both names of the machine (tools/stack.mjs localOriginVars).
  const local = { ...env, DASHBOARD_ORIGINS: 'http://localhost:9123,http://127.0.0.1:9123' };
  const visit = (url: string, headers: Record<string, string> = {}) =>
    app.fetch(new Request(url, { headers: { 'cf-connecting-ip': '203.0.113.9', Accept: 'text/html', ...headers } }), local);

  it('sends the pairing link to the dashboard on the host the person used', async () => {
    expect((await visit('http://127.0.0.1:9123/link?code=bcdfghjk')).headers.get('Location')).toBe('http://127.0.0.1:9123/#/link/BCDF-GHJK');
    expect((await visit('http://localhost:9123/link?code=bcdfghjk')).headers.get('Location')).toBe('http://localhost:9123/#/link/BCDF-GHJK');
  });

  it('sends the Steam link’s return to the dashboard on the host the person used', async () => {
    const res = await visit('http://127.0.0.1:9123/auth/link/steam/callback?state=not-a-state');
    expect(res.status).toBe(303);
    expect(res.headers.get('Location')).toMatch(/^http:\/\/127\.0\.0\.1:9123\/\?steam_link=failed&code=\w+#\/library$/);
  });

  it('follows the listed dashboard page that sent the person to another host', async () => {
    const res = await send('/link', { headers: { Referer: 'https://other-dash.edgeplane.test/#/devices' } });
    expect(res.headers.get('Location')).toBe('https://other-dash.edgeplane.test/#/link');
  });

  it('never redirects to a host that is not listed, whatever the request names: the first listed instead', async () => {
    const evil = 'https://evil.edgeplane.test';
    for (const headers of [{ Origin: evil }, { Referer: `${evil}/page` }, { Host: 'evil.edgeplane.test' }, {}] as Array<Record<string, string>>) {
      expect((await visit('http://api.edgeplane.test/link', headers)).headers.get('Location'), JSON.stringify(headers)).toBe('http://localhost:9123/#/link');
    }
    expect((await visit(`${evil}/auth/link/steam/callback?state=x`, { Referer: `${evil}/` })).headers.get('Location')).toMatch(/^http:\/\/localhost:9123\/\?steam_link=failed/);
  });
});
