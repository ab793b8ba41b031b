// Helpers for the launcher's browser tests: a simulated standard gamepad (navigator.getGamepads
// stubbed before any page script runs), button presses seen by exactly one of the launcher's polls
// (released inside the page, no sleeps), a small API client for arranging data, 1920×1080 pages,
// and `screen()` (screenshot + accessibility audit of the screen on view).
//
//   const page = await tvPage(browser, { gamepad: true });
//   await pad(page, 'dpadRight');  await pad(page, 'A');  await pad(page, 'RB');
//   const api = apiClient(stack.url);  const admin = await api.login(stack.credentials.admin);

import { expectAccessible } from '../support/axe.mjs';
import { newPage, shot } from '../support/browser.mjs';

export const BUTTON = { A: 0, B: 1, X: 2, Y: 3, LB: 4, RB: 5, LT: 6, RT: 7, back: 8, start: 9, dpadUp: 12, dpadDown: 13, dpadLeft: 14, dpadRight: 15 };

function installGamepadStub() {
  // `buttons`/`axes` are what a held control reads (tests may set them directly); `taps` are
  // presses `pad()` queued, each shown to exactly one read of the launcher's poll loop and released
  // at its next one, inside the page: a press is then seen once however late the loop runs on a
  // busy machine (held across two polls 380 ms apart, a direction would auto-repeat).
  const state = { buttons: new Array(17).fill(0), axes: [0, 0, 0, 0], reads: 0, connected: true, taps: [] };
  window.__pad = state;
  // Only the poll loop (static/launcher/js/input.js `poll`) moves a tap along: the connect
  // screen's pad names and the like read the pads too, and must not use a press up.
  const fromPoll = () => /\bpoll \(\S*\/input\.js:/.test(new Error().stack ?? '');
  state.tap = (control) => new Promise((done) => state.taps.push({ ...control, down: false, done }));
  const snapshot = () => {
    const buttons = state.buttons.slice();
    const axes = state.axes.slice();
    const tap = state.taps[0];
    if (tap && fromPoll()) {
      if (tap.down) {
        state.taps.shift();
        // Resolved after this read returns: the poll that sees the release runs first.
        queueMicrotask(tap.done);
      } else tap.down = true;
    }
    if (tap?.down && state.taps[0] === tap) {
      if (tap.button !== undefined) buttons[tap.button] = 1;
      else axes[tap.axis] = tap.value;
    }
    return {
      id: 'Test Pad (STANDARD GAMEPAD Vendor: 0000 Product: 0000)',
      index: 0,
      connected: true,
      mapping: 'standard',
      timestamp: performance.now(),
      buttons: buttons.map((v) => ({ pressed: v > 0.5, touched: v > 0, value: v })),
      axes,
    };
  };
  Object.defineProperty(Navigator.prototype, 'getGamepads', {
    configurable: true,
    value() {
      state.reads += 1;
      return state.connected ? [snapshot(), null, null, null] : [null, null, null, null];
    },
  });
}

/**
 * A screen of the launcher as the user sees it: a screenshot (test-output/screenshots/NAME.png) and
 * the axe-core audit (WCAG 2.0/2.1 A/AA: no serious or critical violation; issue 19).
 */
export async function screen(page, name) {
  await shot(page, name);
  await expectAccessible(page, name);
}

/** A 1920×1080 page (the TV), optionally with a connected simulated gamepad. */
export async function tvPage(browser, { gamepad = false } = {}) {
  const page = await newPage(browser, { width: 1920, height: 1080 });
  // The machine is shared by several stacks: give slow answers room (these are waits, not assertions on time).
  page.setDefaultTimeout(45_000);
  if (gamepad) await page.addInitScript(installGamepadStub);
  return page;
}

/**
 * Press and release one button (or push and let go the left stick: 'stickLeft' ...). Resolves once
 * the launcher's poll loop has read the control down exactly once and then up: its action has been
 * handled, and it cannot repeat.
 */
export async function pad(page, name) {
  const stick = { stickLeft: [0, -1], stickRight: [0, 1], stickUp: [1, -1], stickDown: [1, 1] }[name];
  const i = BUTTON[name];
  if (!stick && i === undefined) throw new Error(`no button ${name}`);
  const control = stick ? { axis: stick[0], value: stick[1] } : { button: i };
  await page.evaluate((c) => window.__pad.tap(c), control);
}

export async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el ? { id: el.id, gameId: el.dataset?.gameId ?? null, tab: el.dataset?.tab ?? null, text: el.textContent?.trim() ?? '', className: el.className } : null;
  });
}

export function apiClient(url) {
  async function call(method, path, { token, body, headers = {} } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, data };
  }
  return {
    call,
    async login({ username, password }) {
      const r = await call('POST', '/auth/login', { body: { username, password } });
      if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.data)}`);
      return r.data;
    },
  };
}

/** Signs in through the launcher's screens with the keyboard, from a fresh page. */
export async function signInWithKeyboard(page, url, { username, password }) {
  await page.goto(`${url}/launcher/`);
  await page.waitForSelector('.view-connect');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.view-users');
  for (let i = 0; i < 10 && (await focused(page))?.id !== 'add-user'; i++) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  // "+" opens "sign in with your phone" first; its focused action is "use a password instead".
  await page.waitForSelector('.view-pair');
  await page.waitForFunction(() => document.activeElement?.id === 'pair-password');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.view-login');
  await page.waitForFunction(() => document.activeElement?.id === 'login-username');
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}
