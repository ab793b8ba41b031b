// Live-data behaviour: polling every 5 s keeps the same DOM rows (no flicker), stops while the
// tab is hidden and resumes when it is shown, and on failures shows one toast with the server's
// message and a Retry, backing off instead of hammering the API.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch } from '../support/browser.mjs';
import { authedPage, eventually, go } from './helpers.mjs';

const stack = inject('stack');
let browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

function countCalls(page, re) {
  const calls = [];
  page.on('request', (r) => re.test(new URL(r.url()).pathname) && calls.push(Date.now()));
  return calls;
}
async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

describe('live data', () => {
  it('updates rows in place across polls (the same elements stay in the page)', { timeout: 60_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'admin/sources');
    await page.locator('tbody tr').first().waitFor();
    const calls = countCalls(page, /^\/api\/subscriptions$/);
    await page.evaluate(() => { for (const tr of document.querySelectorAll('tbody tr')) tr.__mark = true; });
    await eventually(() => calls.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    const kept = await page.evaluate(() => [...document.querySelectorAll('tbody tr')].filter((tr) => tr.__mark).length);
    const total = await page.locator('tbody tr').count();
    expect(kept).toBe(total);
  });

  it('stops polling while the tab is hidden and resumes when it is shown', { timeout: 60_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'subscriptions');
    await page.locator('tbody tr').first().waitFor();
    const calls = countCalls(page, /^\/api\/subscriptions$/);
    await setHidden(page, true);
    const before = calls.length;
    await page.waitForTimeout(11_000);
    expect(calls.length - before).toBeLessThanOrEqual(1); // at most one already in flight
    const hiddenCount = calls.length;
    await setHidden(page, false);
    await eventually(() => calls.length, { timeout: 3000 }).toBeGreaterThan(hiddenCount);
  });

  it('shows one toast with the server’s message and Retry while polls fail, and backs off', { timeout: 90_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'subscriptions');
    await page.locator('tbody tr').first().waitFor();
    let failing = true;
    const calls = [];
    await page.route(/\/api\/subscriptions$/, (route) => {
      calls.push(Date.now());
      if (failing) return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'database is taking a nap', code: 'unavailable' }) });
      return route.continue();
    });
    const toast = page.locator('.toast.error', { hasText: 'database is taking a nap' });
    await toast.waitFor({ timeout: 15_000 });
    await page.waitForTimeout(16_000);
    // Backoff: 5 s, then 10 s, 20 s ... so within ~25 s of failing only a few calls happen.
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(await page.locator('.toast.error').count()).toBe(1);
    failing = false;
    await toast.getByRole('button', { name: 'Retry' }).click();
    await eventually(() => page.locator('.toast.error').count()).toBe(0);
    await page.locator('tbody tr').first().waitFor();
  });
});
