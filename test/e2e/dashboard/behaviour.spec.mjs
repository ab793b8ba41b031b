// Live-data behaviour: polling every 5 s keeps the same DOM rows (no flicker), stops while the
// tab is hidden and resumes when it is shown, and on failures shows one toast with the server's
// message and a Retry, backing off instead of hammering the API.
// The pages run on Playwright's clock: the seconds the polls and their back-off are about pass at
// once (`passTime`) instead of being slept through, and the requests are counted as before.
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
/**
 * Moves the page's clock on by `ms`, one second at a time so every timer fires when it falls due.
 * After each second a request of our own goes through the page's network stack: the requests a
 * timer started before it have been seen by then (the events come in order).
 */
async function passTime(page, ms) {
  for (let done = 0; done < ms; done += 1000) {
    await page.clock.runFor(Math.min(1000, ms - done));
    await page.evaluate(() => fetch('/health').then((r) => r.arrayBuffer()));
  }
}
/** Waits for `calls` to reach `n`, moving the page's clock on a second at each look. */
const pollsReach = (page, calls, n, timeout) =>
  eventually(async () => {
    await passTime(page, 1000);
    return calls.length;
  }, { timeout }).toBeGreaterThanOrEqual(n);

async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

describe('live data', () => {
  it('updates rows in place across polls (the same elements stay in the page)', { timeout: 60_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { clock: true });
    await go(page, stack.url, 'admin/sources');
    await page.locator('tbody tr').first().waitFor();
    const calls = countCalls(page, /^\/api\/subscriptions$/);
    await page.evaluate(() => { for (const tr of document.querySelectorAll('tbody tr')) tr.__mark = true; });
    await pollsReach(page, calls, 2, 15_000);
    const kept = await page.evaluate(() => [...document.querySelectorAll('tbody tr')].filter((tr) => tr.__mark).length);
    const total = await page.locator('tbody tr').count();
    expect(kept).toBe(total);
  });

  it('stops polling while the tab is hidden and resumes when it is shown', { timeout: 60_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { clock: true });
    await go(page, stack.url, 'subscriptions');
    await page.locator('tbody tr').first().waitFor();
    const calls = countCalls(page, /^\/api\/subscriptions$/);
    await setHidden(page, true);
    const before = calls.length;
    await passTime(page, 11_000);
    expect(calls.length - before).toBeLessThanOrEqual(1); // at most one already in flight
    const hiddenCount = calls.length;
    await setHidden(page, false);
    await eventually(() => calls.length, { timeout: 3000 }).toBeGreaterThan(hiddenCount);
  });

  it('shows one toast with the server’s message and Retry while polls fail, and backs off', { timeout: 90_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { clock: true });
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
    await pollsReach(page, calls, 1, 15_000);
    await toast.waitFor({ timeout: 15_000 });
    await passTime(page, 16_000);
    // Backoff: 5 s, then 10 s, 20 s ... so within ~25 s of failing only a few calls happen.
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(await page.locator('.toast.error').count()).toBe(1);
    failing = false;
    await toast.getByRole('button', { name: 'Retry' }).click();
    await eventually(() => page.locator('.toast.error').count()).toBe(0);
    await page.locator('tbody tr').first().waitFor();
  });
});
