// Accessibility of the dashboard (issue 19): the things no engine sees, checked by hand in the
// browser: the skip link lands on <main>, focus stays on the row's button through Pause/Resume, no
// Tab stop hides off screen at 360 px, form errors are announced and focused, control borders reach
// 3:1, the theme button says which theme is on. axe-core's audits are in the other a11y/*.spec.mjs
// files; the launcher's screens are audited inside the launcher specs (launcher/support.mjs `screen()`).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, newPage } from '../support/browser.mjs';
import { authedPage, createUser, eventually, unique } from '../dashboard/helpers.mjs';
import { open as openAt } from './sweep.mjs';

const stack = inject('stack');
let browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

const open = (page, route) => openAt(page, stack.url, route);

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
