// Shared steps of the dashboard browser tests: sign in through the real form, wait for a page to
// finish loading, unique names, and a watcher that fails a test on CSP violations or page errors.
//
//   const page = await newPage(browser, { theme: 'dark' });
//   await signIn(page, stack.url, stack.credentials.admin);
//   await go(page, stack.url, 'subscriptions');
import { expect } from 'vitest';

export async function signIn(page, url, { username, password }) {
  await page.goto(`${url}/#/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#shell:not([hidden])', { timeout: 30_000 });
}

/** Navigate by hash and wait until the page module rendered (the "Loading…" placeholder is gone). */
export async function go(page, url, hash) {
  await page.goto(`${url}/#/${hash}`);
  await page.waitForFunction(() => !document.querySelector('#main .loading') && document.querySelector('#main h1'), null, { timeout: 30_000 });
}

let n = 0;
export const unique = (prefix) => `${prefix}${Date.now().toString(36)}${(n++).toString(36)}`;

/** Errors the page reported, minus failed API calls the page handles (4xx/5xx are shown as toasts). */
export function seriousErrors(page) {
  return page.errors.filter((e) => !/Failed to load resource/.test(e));
}
export function expectNoSeriousErrors(page) {
  expect(seriousErrors(page)).toEqual([]);
}
