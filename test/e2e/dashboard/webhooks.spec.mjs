// Webhooks in a real browser against the local stack: register an endpoint that points at a
// receiver this test starts on loopback (the stack runs with WEBHOOKS_ALLOW_PRIVATE), copy the secret
// shown once, press "Send test", and see the signed delivery arrive and show as succeeded in the
// delivery log; the page stays axe-clean at 360 px in the dark theme with the log open. And a
// delivery that failed for good is sent again with the log's "Retry": pending, then delivered with the
// same webhook-id.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.mjs';
import { launch, shot } from '../support/browser.mjs';
import { apiFrom, authedPage, eventually, expectNoSeriousErrors, go, unique } from './helpers.mjs';

const stack = inject('stack');
let browser;
let server;
const received = [];
/** While true the receiver's `/flaky` path answers 500 (an attempt that fails). */
let flaky = true;

beforeAll(async () => {
  browser = await launch();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body, url: req.url });
      res.writeHead(req.url === '/flaky' && flaky ? 500 : 204).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

/** Standard Webhooks verification, from the spec: HMAC-SHA256 over "id.timestamp.body". */
function verifies(secret, { headers, body }) {
  const key = Buffer.from(secret.split('_')[1], 'base64');
  const expected = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest();
  return String(headers['webhook-signature']).split(' ').some((s) => {
    const [v, sig] = s.split(',');
    const got = Buffer.from(sig ?? '', 'base64');
    return v === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
  });
}

describe('webhooks page', () => {
  it('registers an endpoint, sends a test event and shows the delivery in the log', { timeout: 120_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { width: 360, height: 740, theme: 'dark' });
    await go(page, stack.url, 'webhooks');
    const url = `http://127.0.0.1:${server.address().port}/hook`;
    const form = page.locator('form', { hasText: 'New endpoint' });
    await form.getByLabel('Destination URL').fill(url);
    await form.getByLabel('Description').fill('e2e receiver');
    await form.getByRole('button', { name: 'Add endpoint' }).click();

    const dialog = page.getByRole('dialog');
    const secret = (await dialog.getByTestId('webhook-secret').textContent()).trim();
    expect(secret).toMatch(/^whsec_/);
    await dialog.getByRole('button', { name: 'Close' }).click();

    const row = page.locator('tbody tr', { hasText: url });
    await row.waitFor();
    await row.getByRole('button', { name: 'Send test' }).click();
    const log = page.locator('section', { hasText: 'Delivery log' });
    // The admin subscribes to the seeded sources, so a real DVR event (recording.started…) may reach
    // the new endpoint too while this runs: look for the test delivery, not at whatever came first.
    await eventually(() => log.locator('tbody tr', { hasText: 'webhook.test' }).first().textContent().catch(() => ''), { timeout: 30_000 }).toMatch(/webhook\.test.*succeeded/);

    const tests = received.filter((r) => JSON.parse(r.body).type === 'webhook.test');
    expect(tests).toHaveLength(1);
    expect(received.every((r) => verifies(secret, r))).toBe(true);
    await expectAccessible(page, 'webhooks with the delivery log, dark, 360 px');
    await shot(page, 'webhooks-log-dark-360');

    page.once('dialog', () => {});
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await eventually(() => page.locator('tbody tr', { hasText: url }).count()).toBe(0);
    expectNoSeriousErrors(page);
  });

  it('sends a failed delivery again from the delivery log: pending, then delivered with the same webhook-id', { timeout: 180_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    const call = (method, path, body) => apiFrom(page, method, path, body);
    // A failure for good without eight attempts and an hour of back-off: the first attempt gets a
    // 500, then the endpoint is disabled, so the second attempt (30 s later) records it `failed`.
    // The event: an ownership proof waiting for review in an org of this test's own.
    const me = (await call('GET', '/api/me')).body;
    const slug = unique('wh-retry-');
    const org = await call('POST', '/orgs', { slug, name: `Webhook retry ${slug}`, owner_user_id: me.id });
    expect(org.status).toBe(201);
    const games = (await call('GET', '/games?limit=1')).body;
    const game = (Array.isArray(games) ? games : games.items ?? games.games)[0];
    const url = `http://127.0.0.1:${server.address().port}/flaky`;
    const ep = await call('POST', '/api/webhooks', { url, scope: 'org', org_id: org.body.id, events: ['proof.pending_review'], description: 'e2e retry' });
    expect(ep.status).toBe(201);
    try {
      const proof = await call('POST', `/users/${me.id}/library/proofs`, { kind: 'manual', org_id: org.body.id, game_id: game.id, receipt: { store: 'E2E shop', order_id: 'E2E-RETRY-1', purchased_at: '2026-10-30' } });
      expect(proof.status).toBe(201);
      const ours = () => received.find((r) => r.url === '/flaky' && JSON.parse(r.body).data?.org_id === org.body.id);
      await eventually(() => Boolean(ours()), { timeout: 30_000, interval: 250 }).toBe(true);
      const id = ours().headers['webhook-id'];
      expect((await call('PATCH', `/api/webhooks/${ep.body.id}`, { enabled: false })).status).toBe(200);
      const row = async () => (await call('GET', `/api/webhooks/${ep.body.id}/deliveries?limit=200`)).body.deliveries.find((d) => d.id === id);
      await eventually(async () => (await row())?.status, { timeout: 90_000, interval: 1000 }).toBe('failed');
      expect((await call('PATCH', `/api/webhooks/${ep.body.id}`, { enabled: true })).status).toBe(200);
      flaky = false;

      await go(page, stack.url, 'webhooks');
      await page.locator('tbody tr', { hasText: url }).getByRole('button', { name: 'Deliveries' }).click();
      const tr = page.locator(`section tbody tr[data-key="${id}"]`);
      await eventually(() => tr.locator('td[data-label="Status"]').textContent(), { timeout: 15_000 }).toBe('failed');
      await tr.getByRole('button', { name: /^Retry/ }).click();
      // The page shows it pending again at once (before the queue delivers it)…
      await page.waitForFunction((k) => document.querySelector(`tr[data-key="${k}"] td[data-label="Status"]`)?.textContent === 'pending', id, { polling: 'raf', timeout: 10_000 });
      expect(await tr.getByRole('button', { name: /^Retry/ }).isVisible()).toBe(false);
      // …and succeeded once the receiver took it: the same webhook-id, the same body.
      await eventually(() => tr.locator('td[data-label="Status"]').textContent(), { timeout: 30_000 }).toBe('succeeded');
      const sends = received.filter((r) => r.headers['webhook-id'] === id);
      expect(sends.length).toBeGreaterThanOrEqual(2);
      expect(new Set(sends.map((r) => r.body)).size).toBe(1);
      expectNoSeriousErrors(page);
    } finally {
      await call('DELETE', `/api/webhooks/${ep.body.id}`);
    }
  });
});
