/** The post-deploy smoke check, against a local HTTP double of a deployed Worker. */
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { smoke } from '../../tools/smoke.mjs';

let server;
async function serve(handler) {
  server = createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${server.address().port}/`;
}
afterEach(() => new Promise((r) => (server ? server.close(r) : r())));

const json = (res, status, body) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('smoke check', () => {
  it('passes a healthy deployment that serves the expected version', async () => {
    const url = await serve((req, res) => (req.url === '/health' ? json(res, 200, { ok: true }) : json(res, 200, { server: '1.2.3' })));
    expect(await smoke(url, '1.2.3', { attempts: 1, log: () => {} })).toBe(true);
  });

  it('fails a deployment still serving the previous version', async () => {
    const lines = [];
    const url = await serve((req, res) => (req.url === '/health' ? json(res, 200, { ok: true }) : json(res, 200, { server: '1.2.2' })));
    expect(await smoke(url, '1.2.3', { attempts: 2, delayMs: 10, log: (l) => lines.push(l) })).toBe(false);
    expect(lines.join('\n')).toContain('expected 1.2.3');
  });

  it('fails an unhealthy deployment (misconfigured: 503)', async () => {
    const url = await serve((req, res) => json(res, 503, { error: 'server misconfigured', code: 'misconfigured' }));
    expect(await smoke(url, '1.2.3', { attempts: 1, log: () => {} })).toBe(false);
  });

  it('retries while the old deployment is still answering, then passes', async () => {
    let versionCalls = 0;
    const url = await serve((req, res) => {
      if (req.url === '/health') return json(res, 200, { ok: true });
      versionCalls++;
      json(res, 200, { server: versionCalls === 1 ? '1.2.2' : '1.2.3' });
    });
    expect(await smoke(url, '1.2.3', { attempts: 3, delayMs: 10, log: () => {} })).toBe(true);
    expect(versionCalls).toBe(2);
  });
});
