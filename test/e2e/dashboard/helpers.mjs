// Shared steps of the dashboard browser tests: sign in through the real form, wait for a page to
// finish loading (and for its first polls to be answered: settle), unique names, and a watcher
// that fails a test on CSP violations or page errors.
//
//   const page = await newPage(browser, { theme: 'dark' });
//   await signIn(page, stack.url, stack.credentials.admin);
//   await go(page, stack.url, 'subscriptions');
import { expect } from 'vitest';
import { newContext, newPage } from '../support/browser.mjs';

export async function signIn(page, url, { username, password }) {
  await page.goto(`${url}/#/login`);
  const form = page.locator('.login-card');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#shell:not([hidden])', { timeout: 60_000 });
}

const states = new Map();
/**
 * A page already signed in as `creds`: the first call signs in through the form and keeps the
 * cookies; later calls reuse them (fewer logins: the API throttles logins per address).
 * `clock: true` installs Playwright's clock before the page's first script: time still flows, and
 * `page.clock.runFor(ms)` moves it on at once (the 5 s polls and their back-off without the wait).
 */
export async function authedPage(browser, url, creds, { width = 1280, height = 800, theme = 'light', clock = false } = {}) {
  if (!states.has(creds.username)) {
    const first = await newPage(browser);
    await signIn(first, url, creds);
    states.set(creds.username, await first.context().storageState());
    await first.context().close();
  }
  const context = await newContext(browser, { viewport: { width, height }, colorScheme: theme, storageState: states.get(creds.username) });
  if (clock) await context.clock.install();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.errors = errors;
  await page.goto(`${url}/#/`);
  await page.waitForSelector('#shell:not([hidden])', { timeout: 60_000 });
  return page;
}

/** Navigate by hash and wait until the page module rendered (the "Loading…" placeholder is gone). */
export async function go(page, url, hash) {
  track(page);
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

/** Requests of the page still waiting for an answer (the routes' first polls). */
const inFlight = new WeakMap();
export function track(page) {
  if (inFlight.has(page)) return;
  const pending = new Set();
  inFlight.set(page, pending);
  page.on('request', (r) => pending.add(r));
  page.on('requestfinished', (r) => pending.delete(r));
  page.on('requestfailed', (r) => pending.delete(r));
}

/**
 * Waits until the page stopped changing (its first polls answered): no request in flight (counted
 * from the page's first `go`) and no DOM change for 200 ms, at most 5 s. Waiting for the answers
 * themselves instead of a fixed pause keeps this short on a fast machine and right on a slow one.
 */
export async function settle(page) {
  track(page);
  const until = Date.now() + 5000;
  for (;;) {
    await page.evaluate(() => new Promise((resolve) => {
      let quiet = setTimeout(done, 200);
      const obs = new MutationObserver(() => { clearTimeout(quiet); quiet = setTimeout(done, 200); });
      const cap = setTimeout(done, 1000);
      function done() { obs.disconnect(); clearTimeout(quiet); clearTimeout(cap); resolve(); }
      obs.observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true });
    }));
    if (inFlight.get(page).size === 0 || Date.now() > until) return;
  }
}

/** Calls the API from a signed-in page (its cookies); resolves to {status, body} (body parsed JSON or null). */
export const apiFrom = (page, method, path, body) =>
  page.evaluate(
    async ({ method, path, body }) => {
      const r = await fetch(path, { method, credentials: 'include', headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    { method, path, body },
  );
