// Webhooks in a real browser against the local stack: register an endpoint that points at a
// receiver this test starts on loopback (the stack runs with WEBHOOKS_ALLOW_PRIVATE), copy the secret
// shown once, press "Send test", and see the signed delivery arrive and show as succeeded in the
// delivery log; the page stays axe-clean at 360 px in the dark theme with the log open.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.mjs';
import { launch, shot } from '../support/browser.mjs';
import { authedPage, eventually, expectNoSeriousErrors, go } from './helpers.mjs';

const stack = inject('stack');
let browser;
let server;
const received = [];

beforeAll(async () => {
  browser = await launch();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
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
});
