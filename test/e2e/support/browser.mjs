// Debian's Chromium through playwright-core, with the flags this machine needs (no sandbox as
// root, no GPU, no background networking: the machine has no internet).
//
//   const browser = await launch();
//   const page = await newPage(browser, { width: 1280, height: 800, theme: 'dark' });
//   await shot(page, 'dashboard-subscriptions-dark');   // → test-output/screenshots/...png
//
// One Chromium serves the whole browser run: the global setup starts it (`launchServer`) and each
// spec file's `launch()` connects to it. Starting Chromium and its first page cost a file seconds
// (far more on a loaded machine); every file still gets browser contexts of its own, and its
// `browser.close()` only disconnects. Outside the run (no shared server) `launch()` starts one.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { inject } from 'vitest';
import { ROOT } from '../../../tools/stack.mjs';

export const SHOTS = join(ROOT, 'test-output', 'screenshots');

/**
 * Features Chromium 156 runs for every browser context though no test can see them: the omnibox's
 * two WebUI popups (chrome://omnibox-popup.top-chrome/, one renderer process per context), about
 * half of what a new context cost in CPU (~2.6 s → ~1.35 s per context and page on the 2-core
 * machine), and the browser run opens a few hundred. `--disable-features` is read once (the last
 * one given wins), so the list repeats Playwright's own (playwright-core's chromiumSwitches).
 */
const PLAYWRIGHT_DISABLED_FEATURES = [
  'AimEnabled', 'AvoidCorsURLLoaderRestartOnRedirect', 'AvoidUnnecessaryBeforeUnloadCheckSync', 'DestroyProfileOnBrowserClose',
  'HttpsFirstBalancedModeAutoEnable', 'HttpsUpgrades', 'LensOverlay', 'MediaRouter', 'NetworkTimeServiceQuerying', 'OptimizationHints',
  'PaintHolding', 'PreconnectToSearch', 'TcpPortRandomizationWin', 'ThirdPartyStoragePartitioning',
  'msEdgeUpdateLaunchServicesPreferredVersion', 'msForceBrowserSignIn',
];
const DISABLED_FEATURES = [...PLAYWRIGHT_DISABLED_FEATURES, 'WebUIOmniboxPopup', 'WebUIOmniboxAimPopup'];

const options = () => ({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync', `--disable-features=${DISABLED_FEATURES.join(',')}`],
});

/** The global setup's Chromium, for every spec file of the run (closed by its teardown). */
export const launchServer = () => chromium.launchServer(options());

/** The shared server's address, when the global setup started one. */
function sharedEndpoint() {
  try {
    return inject('browserWs');
  } catch {
    return undefined;
  }
}

export async function launch() {
  const ws = sharedEndpoint();
  if (ws) return chromium.connect(ws, { timeout: 60_000 });
  return chromium.launch(options());
}

/**
 * Every context asks for reduced motion: the dashboard's pulsing REC dots and spinners (and the
 * launcher's waiting dots) otherwise repaint at 60 frames a second for as long as a page is open,
 * measured at ~7% of a core per open page on the 2-core machine, and no test is about the motion
 * (the pages honour `prefers-reduced-motion`, a user's setting like any other).
 */
export const CONTEXT = { reducedMotion: 'reduce' };

/**
 * Contexts opened while a test runs (newPage, newContext, the dashboard's authedPage, the
 * launcher's tvPage), closed after it by support/per-test.mjs: an open dashboard keeps polling the
 * stack every 5 s and an open launcher runs its gamepad loop and connectivity probe, for the rest of
 * the file when nobody closes them. Pages made in a `beforeAll` are the file's and stay open; a test
 * handing its page to the next one on purpose says so with `keepPage(page)`. Null between tests.
 */
let testContexts = null;
export const collectTestContexts = () => {
  testContexts = new Set();
};
export async function closeTestContexts() {
  const open = testContexts ?? new Set();
  testContexts = null;
  // close() of a context the test already closed (or whose browser disconnected) resolves at once.
  await Promise.all([...open].map((c) => c.close().catch(() => {})));
}
/** Keeps a test's page (its context) open after the test, for a later test of the file. */
export function keepPage(page) {
  testContexts?.delete(page.context());
  return page;
}

/** A browser context with the run's defaults (CONTEXT), closed after the test that opened it. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ ...CONTEXT, ...options });
  testContexts?.add(context);
  return context;
}

export async function newPage(browser, { width = 1280, height = 800, theme } = {}) {
  const context = await newContext(browser, { viewport: { width, height }, colorScheme: theme ?? 'light' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.errors = errors;
  return page;
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}
