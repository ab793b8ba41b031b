/**
 * The launcher's shell is served through the Worker so its CSP names only the configured API
 * origins (issue 11: `?api=` must not be able to send sign-ins anywhere).
 */
import { describe, expect, it } from 'vitest';
import { launcherApiOrigins, launcherCsp } from '../../src/http/launcher-page';
import { call } from '../support/http';

describe('the launcher page CSP', () => {
  it('lets the launcher connect only to its own origin and the configured ones', async () => {
    const res = await call('GET', '/launcher/');
    expect(res.status).toBe(200);
    const csp = res.headers.get('Content-Security-Policy') ?? '';
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/connect-src[^;]*https:(?!\/\/)/);
    expect(csp).not.toContain('localhost');
    expect(csp).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('<meta name="edgeplane-api-origins" content="">');
    expect(html).toContain('js/main.js');
  });

  it('adds LAUNCHER_API_ORIGINS, and local servers only for a page served from localhost', () => {
    const env = { LAUNCHER_API_ORIGINS: 'https://console.example, https://api.example/ , javascript:alert(1)' };
    expect(launcherApiOrigins(env, 'https://tv.example/launcher/')).toEqual(['https://console.example', 'https://api.example']);
    expect(launcherCsp(env, 'https://tv.example/launcher/')).toContain("connect-src 'self' https://console.example https://api.example;");
    expect(launcherApiOrigins({ LAUNCHER_API_ORIGINS: '' }, 'http://localhost:8787/launcher/')).toEqual(['http://localhost:*', 'http://127.0.0.1:*']);
  });
});
