// `npm start` on another PORT: the Worker's CORS_ORIGINS and DASHBOARD_ORIGINS name that port
// (tools/stack.mjs `workerVars` with `localOrigins`, which tools/dev.mjs asks for), not
// wrangler.toml's http://localhost:8787; the test stacks (no `localOrigins`) keep wrangler.toml's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localOriginVars, ROOT, workerVars } from '../../tools/stack.mjs';

describe('the local stack’s allowed origins', () => {
  it('follow the port npm start runs on', () => {
    const vars = workerVars({ localOrigins: true }, { port: 9123 });
    expect(vars.CORS_ORIGINS).toBe('http://localhost:9123,http://127.0.0.1:9123');
    expect(vars.DASHBOARD_ORIGINS).toBe('http://localhost:9123,http://127.0.0.1:9123');
    expect(vars.CORS_ORIGINS).not.toContain('8787');
    expect(localOriginVars(8787).CORS_ORIGINS.split(',')[0]).toBe('http://localhost:8787');
  });

  it('give way to origins the caller sets, and stay unset for stacks that do not ask', () => {
    expect(workerVars({ localOrigins: true, vars: { CORS_ORIGINS: 'https://tv.example' } }, { port: 9123 }).CORS_ORIGINS).toBe('https://tv.example');
    const test = workerVars({ vars: { WEBHOOKS_ALLOW_PRIVATE: 'true' } }, { port: 9123 });
    expect(test).not.toHaveProperty('CORS_ORIGINS');
    expect(test).not.toHaveProperty('DASHBOARD_ORIGINS');
    expect(test.WEBHOOKS_ALLOW_PRIVATE).toBe('true');
  });

  it('keep the other local defaults: D1 metrics, a local overseer allowed over ws://', () => {
    const vars = workerVars({ localOrigins: true }, { port: 9123, calm: true, overseerUrl: 'ws://127.0.0.1:4000/ws' });
    expect(vars).toMatchObject({ METRICS_STORE: 'd1', LOG_FORMAT: 'pretty', OVERSEER_URL: 'ws://127.0.0.1:4000/ws', ALLOW_INSECURE_OVERSEER: 'true' });
  });

  it('are asked for by npm start (tools/dev.mjs)', () => {
    const dev = readFileSync(join(ROOT, 'tools', 'dev.mjs'), 'utf8');
    expect(dev).toMatch(/startStack\(\{[^}]*localOrigins: true/);
  });
});
