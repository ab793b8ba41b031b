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
  await page.waitForFunction(() => !document.querySelector('#main .loading') && document.querySelector('#main h1'), null, { timeout: 60_000 });
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

/** expect.poll with a patience that suits a loaded CI machine (the default is 1 s). */
export const eventually = (fn, o = {}) => expect.poll(fn, { timeout: 20_000, interval: 250, ...o });

/** Creates a user through the admin API from a page signed in as admin; returns the credentials. */
export async function createUser(adminPage, { role = 'user' } = {}) {
  const username = unique(role === 'admin' ? 'e2eadmin' : 'e2euser');
  const password = 'a long enough passphrase 42';
  await adminPage.evaluate(async (b) => {
    const r = await fetch('/api/users', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) });
    if (!r.ok) throw new Error(`creating a user: ${r.status} ${await r.text()}`);
  }, { username, password, role });
  return { username, password };
}
