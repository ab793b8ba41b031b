// Every page in both themes (and the phone width) into test-output/screenshots/, with no CSP
// violation or script error on any of them; plus the first-page weight budget (JS + CSS < 60 KB).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, newPage, shot } from '../support/browser.mjs';
import { authedPage, createUser, eventually, go, seriousErrors, settle, signIn } from './helpers.mjs';

const stack = inject('stack');
let browser;

const PAGES = [
  ['', 'dashboard'], ['subscriptions', 'subscriptions'], ['source/chaturbate/alice', 'source'], ['profile', 'profile'],
  ['admin/config', 'admin-config'], ['admin/users', 'admin-users'], ['admin/users/2/subscriptions', 'admin-user-subs'],
  ['admin/sources', 'admin-sources'], ['admin/diagnostics', 'admin-diagnostics'],
  ['console/orgs', 'console-orgs'], ['console/games', 'console-games'], ['console/apps', 'console-apps'], ['console/nodes', 'console-nodes'],
  ['console/sessions', 'console-sessions'], ['console/charts', 'console-charts'], ['console/audit', 'console-audit'],
];

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

describe('screenshots', () => {
  for (const theme of ['light', 'dark']) {
    it(`renders every page in the ${theme} theme without errors`, { timeout: 300_000 }, async () => {
      const page = await newPage(browser, { width: 1280, height: 860, theme });
      await page.goto(`${stack.url}/#/login`);
      await page.waitForSelector('.login-card');
      await shot(page, `dashboard-login-${theme}`);
      await signIn(page, stack.url, stack.credentials.admin);
      for (const [hash, name] of PAGES) {
        await go(page, stack.url, hash);
        // The seeded node and its sessions live in the default org.
        if (hash === 'console/nodes' || hash === 'console/sessions') {
          await page.getByLabel('Organization').selectOption({ label: 'CouchSuite Default (default)' }).catch(() => {});
        }
        await settle(page);
        await shot(page, `dashboard-${name}-${theme}`);
      }
      expect(seriousErrors(page)).toEqual([]);
    });
  }

  it('works at 360 px: navigation behind a menu button that opens and closes with the keyboard', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { width: 360, height: 740, theme: 'dark' });
    for (const [hash, name] of [['', 'dashboard'], ['subscriptions', 'subscriptions'], ['source/chaturbate/alice', 'source'], ['console/nodes', 'console-nodes']]) {
      await go(page, stack.url, hash);
      await settle(page);
      await shot(page, `dashboard-${name}-phone`);
      // Nothing is wider than the screen.
      const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > 361 && !el.closest('.sidebar, .table-wrap'))
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}`).slice(0, 5));
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `${name}: ${wide.join(', ')}`).toBeLessThanOrEqual(360);
    }
    const menu = page.getByRole('button', { name: 'Open navigation' });
    expect(await page.locator('#sidebar').evaluate((el) => el.getBoundingClientRect().right <= 0)).toBe(true);
    await menu.focus();
    await page.keyboard.press('Enter');
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    await shot(page, 'dashboard-menu-phone');
    await page.keyboard.press('Escape');
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
  });

  it('a user sees the recorder pages only (light and dark)', async () => {
    const admin = await authedPage(browser, stack.url, stack.credentials.admin);
    const user = await createUser(admin);
    for (const theme of ['light', 'dark']) {
      const page = await newPage(browser, { theme });
      await signIn(page, stack.url, user);
      await go(page, stack.url, 'subscriptions');
      await settle(page);
      await shot(page, `dashboard-user-subscriptions-${theme}`);
      expect(await page.locator('.sidebar [data-admin]').first().isVisible()).toBe(false);
    }
  });

  it('keeps the first page under 60 KB of JavaScript and CSS', async () => {
    const page = await newPage(browser);
    const sizes = new Map();
    const bodies = [];
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (/\.(js|css)$/.test(u.pathname)) bodies.push(r.body().then((b) => sizes.set(u.pathname, b.length)));
    });
    await page.goto(`${stack.url}/#/login`);
    // The sign-in form is drawn by the last module the first page loads (app.js imports it): by then
    // every script and stylesheet has answered; their bodies are read here rather than after a pause.
    await page.waitForSelector('.login-card');
    await page.waitForLoadState('load');
    await Promise.all(bodies);
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    expect(total, JSON.stringify([...sizes])).toBeLessThan(60 * 1024);
  });
});
