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

const options = () => ({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
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

export async function newPage(browser, { width = 1280, height = 800, theme } = {}) {
  const context = await browser.newContext({ ...CONTEXT, viewport: { width, height }, colorScheme: theme ?? 'light' });
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
