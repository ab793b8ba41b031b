// Shared steps of the accessibility specs (issue 19; a11y/*.spec.mjs): the dashboard's routes, opening
// one until its first polls are answered, the live theme switch, the phone-width table check, and
// the route sweep — every route of one account at one size, opened once and audited in both themes.
// The sweep is split over spec files (by account and size) so that the two browser lanes end
// together instead of one file holding a lane for minutes (vitest.e2e.config.mts).
//
//   import { sweepSpec } from './sweep.mjs';
//   sweepSpec('admin', [[1280, 800]]); // a whole spec file: one test per size and theme
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditPage, expectAudit } from '../support/axe.mjs';
import { launch } from '../support/browser.mjs';
import { authedPage, go, settle } from '../dashboard/helpers.mjs';

export const USER_ROUTES = ['', 'subscriptions', 'source/chaturbate/alice', 'profile', 'library', 'link', 'webhooks', 'no/such/page'];
export const ADMIN_ROUTES = [
  ...USER_ROUTES,
  'admin/config', 'admin/users', 'admin/users/2/subscriptions', 'admin/sources', 'admin/diagnostics',
  'console/orgs', 'console/games', 'console/apps', 'console/nodes', 'console/sessions', 'console/charts', 'console/audit',
  'console/metrics', 'review',
];
export const SIZES = [[1280, 800], [360, 740]];
export const THEMES = ['light', 'dark'];

const routesOf = (who) => (who === 'admin' ? ADMIN_ROUTES : [...USER_ROUTES, 'admin/config']);

/** Route → page ready: the module rendered (go) and its first poll painted (no "Loading…" left). */
export async function open(page, url, route) {
  if (route === 'no/such/page') {
    await page.goto(`${url}/#/${route}`);
    await page.waitForFunction(() => document.querySelector('#main h1')?.textContent === 'Page not found');
    return;
  }
  await go(page, url, route);
  await settle(page);
}

/**
 * Tables never scroll sideways or clip at phone width: every cell fits its wrapper (a wrapper that
 * is itself a focusable, named scroll region, like the metrics data tables, may scroll).
 */
function measureTables(page) {
  return page.evaluate(() => ({
    clipped: [...document.querySelectorAll('#main .table-wrap:not([tabindex="0"])')]
      .filter((w) => w.offsetParent && w.scrollWidth > w.clientWidth + 1)
      .map((w) => `${w.querySelector('caption')?.textContent || 'table'}: ${w.scrollWidth} > ${w.clientWidth}`),
    width: document.documentElement.scrollWidth,
  }));
}
function expectNoClippedTables({ clipped, width }, label) {
  expect(clipped, label).toEqual([]);
  expect(width, label).toBeLessThanOrEqual(360);
}

/**
 * The dashboard follows the OS theme live (no `data-theme` saved: CSS media queries, and the theme
 * button repaints on the change event), so one page switches between light and dark without a
 * reload; the button saying the new theme is the sign the page took it.
 */
async function useTheme(page, theme) {
  await page.emulateMedia({ colorScheme: theme });
  await page.waitForFunction((dark) => document.getElementById('theme-btn')?.getAttribute('aria-pressed') === dark, String(theme === 'dark'));
}

/**
 * Every route of `who` at one size, opened once in one page and audited in both themes (and the open
 * phone menu at 360 px): { light: [...], dark: [...] } of { label, audit, tables }. The light and the
 * dark test of a size share the one sweep (whichever runs first starts it); each asserts its own.
 */
const sweeps = new Map();
function sweep(browser, who, width, height) {
  const key = `${who} ${width}`;
  if (!sweeps.has(key)) sweeps.set(key, runSweep(browser, who, width, height));
  return sweeps.get(key);
}
async function runSweep(browser, who, width, height) {
  const stack = inject('stack');
  const page = await authedPage(browser, stack.url, stack.credentials[who === 'admin' ? 'admin' : 'player'], { width, height, theme: 'light' });
  const results = { light: [], dark: [] };
  let theme = 'light';
  // Each route is audited in the theme the page is in, then in the other: one switch per route.
  const both = async (what) => {
    for (const t of theme === 'light' ? ['light', 'dark'] : ['dark', 'light']) {
      if (t !== theme) await useTheme(page, (theme = t));
      results[t].push(await what(t));
    }
  };
  try {
    for (const route of routesOf(who)) {
      await open(page, stack.url, route);
      await both(async (t) => ({
        label: `${who} #/${route} ${t} ${width}px`,
        audit: await auditPage(page),
        tables: width === 360 ? await measureTables(page) : null,
      }));
    }
    if (width === 360) {
      // The open phone menu too.
      await page.getByRole('button', { name: 'Open navigation' }).click();
      await page.waitForSelector('#sidebar.open');
      await both(async (t) => ({ label: `${who} menu open ${t}`, audit: await auditPage(page), tables: null }));
    }
  } finally {
    await page.context().close();
  }
  return results;
}

/** The sweep's tests for `who` at one size: one per theme, each asserting its theme's audits. */
function sweepTests(browser, who, [width, height]) {
  for (const theme of THEMES) {
    // The first of the light/dark pair runs the size's whole sweep (both themes): room for a busy machine.
    it(`${who}: ${routesOf(who).length} routes (${theme}, ${width}×${height})`, { timeout: 600_000 }, async () => {
      for (const { label, audit, tables } of (await sweep(browser(), who, width, height))[theme]) {
        expectAudit(audit, label);
        if (tables) expectNoClippedTables(tables, label);
      }
    });
  }
}

/** A spec file of sweeps: `who` at each of `sizes`, in the shared Chromium. */
export function sweepSpec(who, sizes) {
  let browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => browser?.close());
  describe('every dashboard route passes the WCAG 2.1 A/AA rules', () => {
    for (const size of sizes) sweepTests(() => browser, who, size);
  });
}
