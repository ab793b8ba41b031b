// TV sign-in with a controller alone (issue 13), in two browser contexts on the seeded stack:
// the TV (launcher at 1920×1080, driven only by a simulated gamepad: any keyboard event on it fails
// the test) and a phone (the dashboard at 360 px). The TV shows a code and a QR code, the phone opens
// the QR code's link, signs in, picks an org and approves, and the TV reaches the hub by itself.
// Then the on-screen keyboard: a password sign-in typed with the D-pad, A, the bumpers and X only.
// Screenshots: test-output/screenshots/launcher-pair*.png, dashboard-link-*.png, launcher-osk*.png.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encode } from 'uqr';
import { expectAccessible } from '../support/axe.mjs';
import { exclusive } from '../support/exclusive.mjs';
import { launch, newPage, shot } from '../support/browser.mjs';
import { apiClient, BUTTON, focused, pad, tvPage } from './support.mjs';

const stack = inject('stack');
// The seeded member's games, seats and line in the default org are arranged by the launcher specs
// and this one too: never beside them (support/exclusive.mjs). Registered first, released last.
let releaseMember;
beforeAll(async () => { releaseMember = await exclusive(stack, 'default-org-member'); }, 900_000);
afterAll(async () => releaseMember?.());
const api = apiClient(stack.url);
let browser;

/** A TV page that counts every keyboard event it ever sees (there must be none). */
async function tv() {
  const page = await tvPage(browser, { gamepad: true });
  await page.addInitScript(() => {
    window.__keys = 0;
    for (const t of ['keydown', 'keyup', 'keypress']) window.addEventListener(t, () => (window.__keys += 1), true);
  });
  return page;
}

/** From the connect screen to the "+" avatar, with the pad. */
async function toNewUser(page) {
  await page.goto(`${stack.url}/launcher/`);
  await page.waitForSelector('.view-connect');
  await pad(page, 'A');
  await page.waitForSelector('.view-users');
  for (let i = 0; i < 10 && (await focused(page))?.id !== 'add-user'; i++) await pad(page, 'dpadRight');
  expect((await focused(page)).id).toBe('add-user');
  await pad(page, 'A');
}

/** The modules drawn on the canvas, sampled at each module's centre. */
async function drawnMatrix(page) {
  return page.evaluate(() => {
    const c = document.querySelector('#pair-qr canvas');
    const n = Number(c.dataset.modules);
    const s = Number(c.dataset.scale);
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const rows = [];
    for (let y = 0; y < n; y++) {
      const row = [];
      for (let x = 0; x < n; x++) row.push(data[((y * s + (s >> 1)) * c.width + x * s + (s >> 1)) * 4] < 128);
      rows.push(row);
    }
    return rows;
  });
}

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

describe('sign in with your phone', () => {
  it('the TV shows a code, the phone approves it, the TV reaches the hub without any keyboard event', async () => {
    const screen = await tv();
    await toNewUser(screen);
    await screen.waitForSelector('.view-pair');
    await screen.waitForFunction(() => /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/.test(document.getElementById('pair-code')?.textContent ?? ''));
    const code = await screen.locator('#pair-code').textContent();
    const link = await screen.locator('#pair-qr').getAttribute('data-text');
    expect(link).toBe(`${stack.url}/link?code=${code}`);
    expect(await screen.locator('#pair-link').textContent()).toBe(`${new URL(stack.url).host}/link`);
    await expect(screen.locator('#pair-status').textContent()).resolves.toMatch(/expires in (10:00|9:\d\d)/);
    await expect(screen.locator('#server-host').textContent()).resolves.toContain(new URL(stack.url).host);
    // The QR code on screen is the pairing link, module for module.
    expect(await drawnMatrix(screen)).toEqual(encode(link, { ecc: 'M', border: 4 }).data);
    await shot(screen, 'launcher-pair');
    await expectAccessible(screen, 'launcher-pair');

    // The phone: the QR code's link → the dashboard's sign-in → back to the code, kept.
    const phone = await newPage(browser, { width: 360, height: 760 });
    await phone.goto(link);
    await phone.waitForSelector('#login-root form');
    await phone.locator('input[name="username"]').fill(stack.credentials.admin.username);
    await phone.locator('input[name="password"]').fill(stack.credentials.admin.password);
    await phone.locator('#login-root button[type="submit"]').click();
    await phone.waitForSelector('#link-approve');
    expect(phone.url()).toContain(`#/link/${code}`);
    await expect(phone.locator('#link-shown-code').textContent()).resolves.toBe(code);
    await expect(phone.locator('#link-client').textContent()).resolves.toMatch(/^TV launcher/);
    // The admin belongs to two orgs: the phone picks the one the TV opens.
    const options = await phone.locator('#link-org option').allTextContents();
    expect(options.length).toBeGreaterThan(1);
    const acme = options.find((o) => /^acme/i.test(o)) ?? options[1];
    await phone.locator('#link-org').selectOption({ label: acme });
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await shot(phone, 'dashboard-link-phone');
    await expectAccessible(phone, 'dashboard-link-phone');
    await phone.locator('#link-approve').click();
    await phone.waitForSelector('#link-result');
    await shot(phone, 'dashboard-link-approved-phone');

    // The TV signs in by itself at its next poll and opens the org chosen on the phone.
    await screen.waitForSelector('.view-hub', { timeout: 30_000 });
    await expect(screen.locator('.header-who .who-user').textContent()).resolves.toBe(stack.credentials.admin.username);
    await expect(screen.locator('.header-who .who-org').textContent()).resolves.toContain(acme.replace(/ \(.*\)$/, ''));
    const stored = await screen.evaluate(() => Object.keys(localStorage).filter((k) => k.includes('.refresh.')));
    expect(stored).toHaveLength(1);
    await shot(screen, 'launcher-pair-signed-in');
    expect(await screen.evaluate(() => window.__keys)).toBe(0);
    // Polls that are still waiting are 400 `authorization_pending` by the RFC: Chromium logs each.
    expect(screen.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);

    // The phone's profile lists the TV as a paired device.
    await phone.goto(`${stack.url}/#/profile`);
    await phone.waitForSelector('#paired-list li[data-device-id]');
    await expect(phone.locator('#paired-list').textContent()).resolves.toContain('TV launcher');
    await phone.locator('#paired-list').scrollIntoViewIfNeeded();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await shot(phone, 'dashboard-profile-paired-phone');
    // The signed-out probe (`/api/me`) is a 401 by design; CSP violations and script errors are not.
    expect(phone.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });

  it('a refused code says so and "new code" gets another, with the pad', async () => {
    const screen = await tv();
    await toNewUser(screen);
    await screen.waitForFunction(() => /^[A-Z]{4}-[A-Z]{4}$/.test(document.getElementById('pair-code')?.textContent ?? ''));
    const code = await screen.locator('#pair-code').textContent();
    const player = await api.login(stack.credentials.player);
    const denied = await api.call('POST', `/auth/device/${code}/deny`, { token: player.token });
    expect(denied.status).toBe(200);
    await screen.waitForSelector('.view-pair.is-ended');
    await expect(screen.locator('#pair-status').textContent()).resolves.toContain('refused');
    expect((await focused(screen)).id).toBe('pair-new');
    await shot(screen, 'launcher-pair-refused');
    await pad(screen, 'A');
    await screen.waitForFunction((old) => {
      const t = document.getElementById('pair-code')?.textContent ?? '';
      return /^[A-Z]{4}-[A-Z]{4}$/.test(t) && t !== old;
    }, code);
    expect(await screen.locator('.view-pair.is-ended').count()).toBe(0);
    expect(await screen.evaluate(() => window.__keys)).toBe(0);
  });

  it('the vendored QR encoder is the pinned uqr package, unchanged', () => {
    const vendored = readFileSync(new URL('../../../static/launcher/js/vendor/uqr.mjs', import.meta.url), 'utf8');
    const upstream = readFileSync(new URL('../../../node_modules/uqr/dist/index.mjs', import.meta.url), 'utf8');
    expect(vendored.endsWith(upstream)).toBe(true);
    expect(vendored.length - upstream.length).toBeLessThan(600); // only the licence header
  });
});

/** Which D-pad press brings the on-screen keyboard's focus closer to `selector`, or null if there. */
async function stepTowards(page, selector) {
  return page.evaluate((sel) => {
    const cur = document.querySelector('#osk .osk-key.is-focus');
    const want = document.querySelector(`#osk ${sel}`);
    if (!cur || !want) throw new Error(`no key ${sel}`);
    if (cur === want) return null;
    const a = cur.getBoundingClientRect();
    const b = want.getBoundingClientRect();
    if (b.top > a.bottom - 2) return 'dpadDown';
    if (b.bottom < a.top + 2) return 'dpadUp';
    return b.left < a.left ? 'dpadLeft' : 'dpadRight';
  }, selector);
}

async function oskPress(page, selector) {
  for (let i = 0; i < 40; i++) {
    const dir = await stepTowards(page, selector);
    if (!dir) return pad(page, 'A');
    await pad(page, dir);
  }
  throw new Error(`could not reach ${selector}`);
}

const oskLayout = (page) => page.locator('#osk').getAttribute('data-layout');

/** Types `text` with the pad alone: RB to the layout that has the character, LB for capitals. */
async function oskType(page, text) {
  for (const ch of text) {
    const layout = /^[a-zA-Z0-9._@-]$/.test(ch) ? 'letters' : 'symbols';
    for (let i = 0; i < 3 && (await oskLayout(page)) !== layout; i++) await pad(page, 'RB');
    const upper = ch !== ch.toLowerCase();
    if (upper && (await page.locator('#osk').getAttribute('data-shift')) === 'off') await pad(page, 'LB');
    await oskPress(page, `[data-key=${JSON.stringify(ch)}]`);
  }
}

describe('the on-screen keyboard', () => {
  it('signs in with a username and password typed with the gamepad alone', async () => {
    const admin = await api.login(stack.credentials.admin);
    const username = `padkid${Math.floor(Math.random() * 90 + 10)}`;
    const password = 'Ytrewq-poiu1';
    const made = await api.call('POST', '/users', { token: admin.token, body: { username, password } });
    expect(made.status).toBe(201);
    const org = admin.orgs.find((o) => o.slug === 'default') ?? admin.orgs[0];
    await api.call('POST', `/orgs/${org.id}/members`, { token: admin.token, body: { user_id: made.data.user_id, role: 'member' } });

    const screen = await tv();
    await toNewUser(screen);
    await screen.waitForSelector('.view-pair');
    expect((await focused(screen)).id).toBe('pair-password');
    await pad(screen, 'A');
    await screen.waitForSelector('.view-login');
    // No physical keyboard was used: the keyboard is open on the username field.
    await screen.waitForSelector('#osk:not([hidden])');
    await expect(screen.locator('#osk-label').textContent()).resolves.toBe('username');
    await expect(screen.locator('#server-host').textContent()).resolves.toContain(new URL(stack.url).host);
    await oskType(screen, username);
    // RB: symbols; X deletes; RB again cycles back to letters.
    await oskType(screen, '!');
    expect(await screen.locator('#login-username').inputValue()).toBe(`${username}!`);
    await shot(screen, 'launcher-osk-symbols');
    await pad(screen, 'X');
    expect(await screen.locator('#login-username').inputValue()).toBe(username);
    // LB: one capital letter, then lower case again.
    await oskType(screen, 'Q');
    expect(await screen.locator('#login-username').inputValue()).toBe(`${username}Q`);
    expect(await screen.locator('#osk').getAttribute('data-shift')).toBe('off');
    await pad(screen, 'X');
    // "next" moves to the password field; the field shows dots, never the letters.
    await oskPress(screen, '[data-osk="enter"]');
    await expect(screen.locator('#osk-label').textContent()).resolves.toBe('password');
    await oskType(screen, password);
    await expect(screen.locator('#osk-preview').textContent()).resolves.toBe('•'.repeat(password.length));
    await shot(screen, 'launcher-osk');
    await expectAccessible(screen, 'launcher-osk');
    // B closes the keyboard (focus back on the field); A on the field opens it again.
    await pad(screen, 'B');
    await screen.waitForSelector('#osk', { state: 'hidden' });
    expect((await focused(screen)).id).toBe('login-password');
    await pad(screen, 'A');
    await screen.waitForSelector('#osk:not([hidden])');
    await oskPress(screen, '[data-osk="enter"]');
    await screen.waitForSelector('.view-hub', { timeout: 30_000 });
    await expect(screen.locator('.header-who .who-user').textContent()).resolves.toBe(username);
    expect(await screen.evaluate(() => window.__keys)).toBe(0);
    expect(screen.errors).toEqual([]);
  });
});

describe('?api= asks first (issue 11)', () => {
  it('shows the host and changes nothing unless confirmed; a host outside the CSP list is only refused', async () => {
    const page = await tv();
    const res = await page.goto(`${stack.url}/launcher/`);
    const csp = res.headers()['content-security-policy'];
    expect(csp).toMatch(/connect-src 'self'( http:\/\/localhost:\*)?( http:\/\/127\.0\.0\.1:\*)?;/);
    await page.waitForSelector('.view-connect');

    // Not a configured origin: it cannot even be chosen.
    await page.goto(`${stack.url}/launcher/?api=${encodeURIComponent('https://elsewhere.example')}`);
    await page.waitForSelector('.view-confirm-api');
    await expect(page.locator('#api-host').textContent()).resolves.toBe('elsewhere.example');
    expect(await page.locator('#api-refused').isVisible()).toBe(true);
    expect(await page.locator('#api-use').isHidden()).toBe(true);
    await shot(page, 'launcher-confirm-api-refused');
    await expectAccessible(page, 'launcher-confirm-api-refused');

    // An allowed one: the host is shown, "keep" is focused, and A keeps the current server.
    await page.goto(`${stack.url}/launcher/?api=${encodeURIComponent('http://localhost:9')}`);
    await page.waitForSelector('.view-confirm-api');
    await expect(page.locator('#api-host').textContent()).resolves.toBe('localhost:9');
    expect(await page.locator('#api-use').isVisible()).toBe(true);
    expect((await focused(page)).id).toBe('api-keep');
    await shot(page, 'launcher-confirm-api');
    // "keep" reloads the launcher without ?api=: press A and wait for that navigation (the gamepad
    // stub starts released on the new page), rather than for polls of a page that is going away.
    await Promise.all([page.waitForURL((u) => u.search === ''), page.evaluate((b) => (window.__pad.buttons[b] = 1), BUTTON.A)]);
    await page.waitForSelector('.view-connect');
    expect(new URL(page.url()).search).toBe('');
    expect(await page.evaluate(() => localStorage.getItem('edgeplane.launcher.api'))).toBeNull();
    expect(await page.evaluate(() => window.__keys)).toBe(0);
  });
});
