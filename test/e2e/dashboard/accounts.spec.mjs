// Accounts in a real browser: an admin creates a user, the user signs in and sees no admin pages
// (navigation hidden, direct URLs refused by the page and by the API), and changes their password.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, newPage } from '../support/browser.mjs';
import { authedPage, createUser, eventually, expectNoSeriousErrors, go, signIn, unique } from './helpers.mjs';

const stack = inject('stack');
let browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

describe('users', () => {
  it('creates a user who can sign in and sees no admin pages', async () => {
    const admin = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(admin, stack.url, 'admin/users');
    const username = unique('e2euser');
    const password = 'a long enough passphrase 42';
    const form = admin.locator('form', { hasText: 'New user' });
    await form.getByLabel('Username').fill(username);
    await form.getByLabel('Password').fill(password);
    await form.getByRole('button', { name: 'Create user' }).click();
    // Password hashing is deliberately slow; on a loaded machine creation can take a while. An
    // error toast ends the wait early and shows what the server said.
    await eventually(async () => {
      const errors = await admin.locator('.toast.error').allTextContents();
      return errors.length ? errors.join(' | ') : admin.locator('tbody tr', { hasText: username }).count();
    }, { timeout: 60_000 }).toBe(1);

    // A duplicate is refused with the server's message next to the field.
    await form.getByLabel('Username').fill(username);
    await form.getByLabel('Password').fill(password);
    await form.getByRole('button', { name: 'Create user' }).click();
    await eventually(() => form.locator('.err:not(:empty)').first().textContent()).toMatch(/exists|taken/i);
    expectNoSeriousErrors(admin);

    const page = await newPage(browser);
    await signIn(page, stack.url, { username, password });
    await eventually(() => page.textContent('#main h1')).toBe('Dashboard');
    expect(await page.locator('.sidebar a[href="#/admin/users"]').isVisible()).toBe(false);
    expect(await page.locator('.sidebar a[href="#/admin/config"]').isVisible()).toBe(false);
    expect(await page.locator('.sidebar a[href="#/console/games"]').isVisible()).toBe(false);
    expect(await page.textContent('#who')).not.toContain('admin');
    await go(page, stack.url, 'admin/config');
    expect(await page.textContent('#main h1')).toBe('Not available');
    // The API refuses too, whatever the page shows.
    const status = await page.evaluate(async () => (await fetch('/api/config', { credentials: 'include' })).status);
    expect(status).toBe(403);

    // The user changes their password and can sign in with the new one.
    await go(page, stack.url, 'profile');
    await page.getByLabel('Current password').fill(password);
    await page.getByLabel('New password', { exact: true }).fill('another long passphrase 43');
    await page.getByLabel('Repeat the new password').fill('another long passphrase 43');
    await page.getByRole('button', { name: 'Change password' }).click();
    await eventually(() => page.locator('.toast').last().textContent()).toMatch(/Password changed/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/#\/login$/);
    await signIn(page, stack.url, { username, password: 'another long passphrase 43' });
    expectNoSeriousErrors(page);
  });

  it('shows an org admin the console pages of their org, and not the platform-admin ones', async () => {
    const admin = await authedPage(browser, stack.url, stack.credentials.admin);
    const user = await createUser(admin);
    const orgName = unique('Tenant ');
    await admin.evaluate(async ({ username, orgName }) => {
      const j = (r) => (r.ok ? r.json() : r.text().then((t) => Promise.reject(new Error(t))));
      const users = await j(await fetch('/api/users', { credentials: 'include' }));
      const id = users.find((u) => u.username === username).id;
      const slug = orgName.toLowerCase().replace(/[^a-z0-9]+/g, '-');
      const org = await j(await fetch('/orgs', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ slug, name: orgName }) }));
      await j(await fetch(`/orgs/${org.id}/members`, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user_id: id, role: 'admin' }) }));
    }, { username: user.username, orgName });

    const page = await newPage(browser);
    await signIn(page, stack.url, user);
    expect(await page.locator('.sidebar a[href="#/console/orgs"]').isVisible()).toBe(true);
    expect(await page.locator('.sidebar a[href="#/console/nodes"]').isVisible()).toBe(true);
    expect(await page.locator('.sidebar a[href="#/console/games"]').isVisible()).toBe(false);
    expect(await page.locator('.sidebar a[href="#/admin/users"]').isVisible()).toBe(false);
    await go(page, stack.url, 'console/orgs');
    await page.getByRole('heading', { name: `Members of ${orgName}` }).waitFor();
    expect(await page.locator('form', { hasText: 'New organization' }).isVisible()).toBe(false);
    await go(page, stack.url, 'console/games');
    expect(await page.textContent('#main h1')).toBe('Not available');
    expectNoSeriousErrors(page);
  });

  it('refreshes once for concurrent 401s and retries the calls (expired access token)', async () => {
    const page = await newPage(browser);
    // Its own session: this test rotates the refresh token.
    await signIn(page, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'profile');
    // The server answers 401 only for an expired token (15 min); simulate expiry at the network:
    // the first calls of each kind get the edge's 401, later ones pass through.
    let expired = 0;
    await page.route(/\/api\/(subscriptions|users)$/, async (route) => {
      if (expired < 2) {
        expired += 1;
        return route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ error: 'token expired', code: 'token_expired' }) });
      }
      return route.continue();
    });
    const refreshes = [];
    page.on('request', (r) => r.url().endsWith('/api/auth/refresh') && refreshes.push(r.url()));
    await go(page, stack.url, 'admin/sources');
    await page.locator('tbody tr').first().waitFor();
    expect(expired).toBe(2);
    expect(refreshes.length).toBe(1);
    expectNoSeriousErrors(page);
  });

  it('sends the user to the login page when the session is gone', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await page.context().clearCookies();
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${stack.url}/#/subscriptions`);
    await page.reload();
    await page.waitForURL(/#\/login$/, { timeout: 15_000 });
  });
});
