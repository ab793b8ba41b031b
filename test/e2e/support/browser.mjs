// Debian's Chromium through playwright-core, with the flags this machine needs (no sandbox as
// root, no GPU, no background networking: the machine has no internet).
//
//   const browser = await launch();
//   const page = await newPage(browser, { width: 1280, height: 800, theme: 'dark' });
//   await shot(page, 'dashboard-subscriptions-dark');   // → test-output/screenshots/...png
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from '../../../tools/stack.mjs';

export const SHOTS = join(ROOT, 'test-output', 'screenshots');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

export async function newPage(browser, { width = 1280, height = 800, theme } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: theme ?? 'light' });
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
