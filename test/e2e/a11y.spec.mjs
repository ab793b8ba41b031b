// Accessibility of the dashboard (issue 19): axe-core's WCAG 2.0/2.1 A and AA rules over every
// route, as an admin and as a member, light and dark, 1280×800 and 360×740 (no serious or critical
// violation; support/axe.mjs), with the engine injected under the page's own strict CSP; and the
// things no engine sees, checked by hand in the browser: the skip link lands on <main>, focus stays
// on the row's button through Pause/Resume, no Tab stop hides off screen at 360 px, form errors are
// announced and focused, control borders reach 3:1, the theme button says which theme is on.
// The launcher's screens are audited inside the launcher specs (launcher/support.mjs `screen()`).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditPage, expectAccessible, expectAudit } from './support/axe.mjs';
import { launch, newPage } from './support/browser.mjs';
import { authedPage, createUser, eventually, go, settle, unique } from './dashboard/helpers.mjs';

const stack = inject('stack');
let browser;

const USER_ROUTES = ['', 'subscriptions', 'source/chaturbate/alice', 'profile', 'library', 'link', 'webhooks', 'no/such/page'];
const ADMIN_ROUTES = [
  ...USER_ROUTES,
  'admin/config', 'admin/users', 'admin/users/2/subscriptions', 'admin/sources', 'admin/diagnostics',
  'console/orgs', 'console/games', 'console/apps', 'console/nodes', 'console/sessions', 'console/charts', 'console/audit',
  'console/metrics', 'review',
];
const SIZES = [[1280, 800], [360, 740]];

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

/** Route → page ready: the module rendered (go) and its first poll painted (no "Loading…" left). */
async function open(page, route) {
  if (route === 'no/such/page') {
    await page.goto(`${stack.url}/#/${route}`);
    await page.waitForFunction(() => document.querySelector('#main h1')?.textContent === 'Page not found');
    return;
  }
  await go(page, stack.url, route);
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
function sweep(who, width, height) {
  const key = `${who} ${width}`;
  if (!sweeps.has(key)) sweeps.set(key, runSweep(who, width, height));
  return sweeps.get(key);
}
async function runSweep(who, width, height) {
  const routes = who === 'admin' ? ADMIN_ROUTES : [...USER_ROUTES, 'admin/config'];
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
    for (const route of routes) {
      await open(page, route);
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

describe('axe-core inside the browser tests', () => {
  it('runs under the page’s strict CSP (no bypass) and finds a planted violation', async () => {
    const page = await newPage(browser);
    const res = await page.goto(`${stack.url}/#/login`);
    await page.waitForSelector('.login-card');
    const csp = (await res.allHeaders())['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    // The policy is in force in this page: an inline script does not run.
    const inlineRan = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.head.append(s);
      await new Promise((r) => setTimeout(r, 50));
      return window.__inlineRan === true;
    });
    expect(inlineRan).toBe(false);

    await expectAccessible(page, 'sign-in page');
    // A real engine, not a no-op: an unnamed image button is reported.
    await page.evaluate(() => {
      const b = document.createElement('button');
      b.id = 'planted';
      b.append(Object.assign(document.createElement('img'), { src: 'favicon.svg' }));
      document.querySelector('.login-card').append(b);
    });
    const { version, violations } = await auditPage(page);
    expect(version).toMatch(/^4\./);
    expect(violations.map((v) => v.id)).toEqual(expect.arrayContaining(['button-name']));
    expect(violations.find((v) => v.id === 'button-name').nodes.join()).toContain('#planted');
  });
});

describe('every dashboard route passes the WCAG 2.1 A/AA rules', () => {
  for (const theme of ['light', 'dark']) {
    for (const [width, height] of SIZES) {
      it(`the sign-in page, with and without an error (${theme}, ${width} px)`, async () => {
        const page = await newPage(browser, { width, height, theme });
        await page.goto(`${stack.url}/#/login`);
        await page.waitForSelector('.login-card');
        expect(await page.locator('h1').textContent()).toBe('Edgeplane');
        await expectAccessible(page, `login ${theme} ${width}`);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForSelector('.login-card .form-error:not(:empty)');
        await expectAccessible(page, `login error ${theme} ${width}`);
      });

      for (const who of ['admin', 'member']) {
        const routes = who === 'admin' ? ADMIN_ROUTES : [...USER_ROUTES, 'admin/config'];
        // The first of the light/dark pair runs the size's whole sweep (both themes): room for a busy machine.
        it(`${who}: ${routes.length} routes (${theme}, ${width}×${height})`, { timeout: 600_000 }, async () => {
          for (const { label, audit, tables } of (await sweep(who, width, height))[theme]) {
            expectAudit(audit, label);
            if (tables) expectNoClippedTables(tables, label);
          }
        });
      }
    }
  }

  it('dialogs and the editor: the delete confirmation and the new-game form', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { theme: 'dark' });
    await open(page, 'console/games');
    await page.getByRole('button', { name: 'New game' }).click();
    await page.getByRole('button', { name: 'Create game' }).click(); // empty: field errors
    await page.waitForSelector('[aria-invalid="true"]');
    await expectAccessible(page, 'new game form with errors');
    await page.locator('#main tbody .btn.danger').first().click();
    await page.waitForSelector('dialog[open]');
    await expectAccessible(page, 'delete confirmation');
    await page.keyboard.press('Escape');
    await page.context().close();
  });
});

describe('what the engine cannot see', () => {
  it('the skip link lands on <main> without going through the router', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await open(page, 'subscriptions');
    // It is the first Tab stop of the document, and visible when focused.
    expect(await page.evaluate(() => document.querySelector('a[href], button, input, select, textarea, [tabindex="0"]')?.textContent)).toBe('Skip to content');
    await page.locator('.skip').focus();
    const box = await page.locator('.skip').boundingBox();
    expect(box.x).toBeGreaterThanOrEqual(0); // visible when focused
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect(await page.evaluate(() => location.hash)).toBe('#/subscriptions');
    expect(await page.locator('#main h1').textContent()).toBe('Subscriptions');
    // The next Tab is inside the page content, not back in the navigation.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.getElementById('main').contains(document.activeElement))).toBe(true);

    // The anchor as an address: within the page it stays on the page; a fresh load shows the
    // dashboard — never "Page not found".
    await page.goto(`${stack.url}/#main`);
    expect(await page.evaluate(() => location.hash)).toBe('#/subscriptions');
    expect(await page.locator('#main h1').textContent()).toBe('Subscriptions');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.goto('about:blank');
    await page.goto(`${stack.url}/#main`);
    await page.waitForFunction(() => document.querySelector('#main h1') && !document.querySelector('#main .loading'));
    expect(await page.locator('#main h1').textContent()).toBe('Dashboard');
    expect(await page.evaluate(() => location.hash)).toBe('#/');

    // On the sign-in page the skip link goes to the sign-in form's <main>.
    const anon = await newPage(browser);
    await anon.goto(`${stack.url}/#/login`);
    await anon.waitForSelector('.login-card');
    await anon.locator('.skip').focus();
    await anon.keyboard.press('Enter');
    expect(await anon.evaluate(() => document.activeElement?.id)).toBe('login-root');
    expect(await anon.evaluate(() => location.hash)).toBe('#/login');
    await page.context().close();
    await anon.context().close();
  });

  it('focus stays on the row’s button through Pause and Resume (never falls to <body>)', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    const name = unique('focus');
    await page.evaluate(async (username) => {
      const r = await fetch('/api/subscriptions', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ driver: 'stripchat', username }) });
      if (!r.ok) throw new Error(`subscribe: ${r.status}`);
    }, name);
    await open(page, 'subscriptions');
    const row = page.locator('#main tbody tr', { has: page.getByRole('link', { name, exact: true }) });
    await row.getByRole('button', { name: 'Pause' }).waitFor();
    // Watch every frame for focus on <body> while the action runs and the row is repainted.
    await page.evaluate(() => {
      window.__bodyFocus = 0;
      const tick = () => { if (document.activeElement === document.body) window.__bodyFocus += 1; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    });
    await row.getByRole('button', { name: 'Pause' }).focus();
    await page.keyboard.press('Enter');
    await row.getByRole('button', { name: 'Resume' }).waitFor();
    await eventually(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Resume');
    expect(await page.evaluate((n) => document.activeElement.closest('tr')?.querySelector('a.name')?.textContent, name)).toBe(name);

    await page.keyboard.press('Enter');
    await row.getByRole('button', { name: 'Pause' }).waitFor();
    await eventually(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Pause');
    expect(await page.evaluate(() => document.activeElement.closest('tr')?.querySelector('a.name')?.textContent)).toBe(name);
    expect(await page.evaluate(() => window.__bodyFocus)).toBe(0);
    await page.context().close();
  });

  it('deleting a row moves the focus to the row in its place, not to <body>', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    const gone = await createUser(page);
    await open(page, 'admin/users');
    const row = page.locator('#main tbody tr', { has: page.getByRole('link', { name: gone.username, exact: true }) });
    await row.getByRole('button', { name: 'Delete' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    await page.getByRole('button', { name: 'Delete user' }).focus();
    await page.keyboard.press('Enter');
    await row.waitFor({ state: 'detached' });
    const where = await page.evaluate(() => ({ tag: document.activeElement?.tagName, inTable: Boolean(document.activeElement?.closest('#main tbody tr')) }));
    expect(where).toEqual({ tag: expect.stringMatching(/^(A|BUTTON|SELECT)$/), inTable: true });
    await page.context().close();
  });

  it('at 360 px no Tab stop is off screen: the closed menu is out of the Tab order', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { width: 360, height: 740 });
    await open(page, 'subscriptions');
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    const stops = [];
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      stops.push(await page.evaluate(() => {
        const el = document.activeElement;
        const r = el.getBoundingClientRect();
        const onScreen = r.right > 0 && r.left < innerWidth && r.width > 0 && r.height > 0 && el.checkVisibility({ visibilityProperty: true });
        return { what: `${el.tagName.toLowerCase()} ${el.textContent.trim().slice(0, 30)}`, onScreen, inMenu: Boolean(el.closest('#sidebar')) };
      }));
    }
    expect(stops.filter((s) => !s.onScreen || s.inMenu)).toEqual([]);
    // Opened, the menu's links are reachable and on screen.
    await page.getByRole('button', { name: 'Open navigation' }).focus();
    await page.keyboard.press('Enter');
    await eventually(() => page.evaluate(() => {
      const el = document.activeElement;
      const r = el.getBoundingClientRect();
      return Boolean(el.closest('#sidebar')) && r.left >= 0 && r.right <= innerWidth;
    })).toBe(true);
    await page.keyboard.press('Escape');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('menu-btn');
    await page.context().close();
  });

  it('form errors are announced (an alert region already in the page) and focused', { timeout: 180_000 }, async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await open(page, 'subscriptions');
    const input = page.locator('#main form').getByLabel('Username');
    const errId = (await input.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-err'));
    // A live region must exist (rendered, empty) before the message arrives for it to be spoken.
    const region = page.locator(`#${errId}`);
    expect(await region.getAttribute('role')).toBe('alert');
    expect(await region.evaluate((el) => getComputedStyle(el).display)).not.toBe('none');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await expect(region.textContent()).resolves.toBe('Enter the source’s username.');
    expect(await input.getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.name)).toBe('username');

    // A server-side refusal (a wrong current password, tried by a user of its own so that no shared
    // account collects failures): the message goes into the field's alert and the focus to the field.
    const someone = await authedPage(browser, stack.url, await createUser(page));
    await page.context().close();
    await wrongCurrentPassword(someone);
  });
  async function wrongCurrentPassword(page) {
    await open(page, 'profile');
    const cur = page.getByLabel('Current password');
    await cur.fill('not the current password 1');
    await page.getByLabel('New password', { exact: true }).fill('a brand new passphrase 77');
    await page.getByLabel('Repeat the new password').fill('a brand new passphrase 77');
    const save = page.locator('#main form button[type="submit"]');
    await save.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#main [aria-invalid="true"]');
    const focused = await page.evaluate(() => ({ invalid: document.activeElement?.getAttribute('aria-invalid'), err: document.getElementById(`${document.activeElement?.id}-err`)?.textContent, role: document.getElementById(`${document.activeElement?.id}-err`)?.getAttribute('role') }));
    expect(focused.invalid).toBe('true');
    expect(focused.role).toBe('alert');
    expect(focused.err).toMatch(/current password/);
    await page.context().close();
  }

  it('input, select and secondary-button borders reach 3:1 against their surroundings in both themes', async () => {
    for (const theme of ['light', 'dark']) {
      const page = await authedPage(browser, stack.url, stack.credentials.admin, { theme });
      await open(page, 'subscriptions');
      await page.waitForSelector('#main tbody .btn');
      const ratios = await page.evaluate(() => {
        const rgb = (c) => (c.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
          .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
        const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
        const surface = (el) => { for (let p = el.parentElement; p; p = p.parentElement) { const c = getComputedStyle(p).backgroundColor; if (!/rgba\(.*, 0\)|transparent/.test(c)) return rgb(c); } return [255, 255, 255]; };
        const pick = [document.querySelector('#main form input'), document.querySelector('#main form select'), document.querySelector('#main .btn:not(.primary)'), document.querySelector('#main input[type="search"]'), document.querySelector('#main .seg')];
        return pick.filter(Boolean).map((el) => ({ el: `${el.tagName.toLowerCase()}.${el.className}`, ratio: Math.round(ratio(rgb(getComputedStyle(el).borderTopColor), surface(el)) * 100) / 100 }));
      });
      expect(ratios.length).toBe(5);
      for (const r of ratios) expect(r.ratio, `${theme} ${r.el}`).toBeGreaterThanOrEqual(3);
      await page.context().close();
    }
  });

  it('the theme button says which theme is on (aria-pressed) and switches it', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { theme: 'light' });
    const btn = page.getByRole('button', { name: 'Dark theme' });
    expect(await btn.getAttribute('aria-pressed')).toBe('false');
    await btn.click();
    expect(await btn.getAttribute('aria-pressed')).toBe('true');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.reload();
    await page.waitForSelector('#shell:not([hidden])');
    expect(await page.getByRole('button', { name: 'Dark theme' }).getAttribute('aria-pressed')).toBe('true');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await page.getByRole('button', { name: 'Dark theme' }).getAttribute('aria-pressed')).toBe('false');
    await page.context().close();
  });
});
