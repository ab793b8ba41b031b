// The launcher on a brand-new server (its own empty stack: no seed, no accounts): the profile
// picker offers only "create account", the first account goes straight to Home, the device then
// remembers the profile and resumes it with the stored refresh token (no password), and sign-out
// forgets the token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startStack } from '../../../tools/stack.mjs';
import { expectAccessible } from '../support/axe.mjs';
import { launch } from '../support/browser.mjs';
import { focused, screen, tvPage } from './support.mjs';

let stack;
let persistTo;
let browser;

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), 'edgeplane-launcher-first-'));
  stack = await startStack({ port: await freePort(), persistTo, quiet: true, seed: false, nodeAgent: false });
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (persistTo) rmSync(persistTo, { recursive: true, force: true });
});

describe('first run on a new server', () => {
  it('creates the first account from the profile picker and lands on Home; the device resumes it later', async () => {
    const page = await tvPage(browser);
    await page.goto(`${stack.url}/launcher/`);
    await page.waitForSelector('.view-connect');
    await screen(page, 'launcher-connect-controller');
    await page.keyboard.press('x'); // any key continues
    await page.waitForSelector('.view-users');

    // Only "+" on a server without accounts, focused.
    expect(await page.locator('.avatar').count()).toBe(1);
    expect((await focused(page)).id).toBe('add-user');
    await expect(page.locator('.view-users .title').textContent()).resolves.toBe('welcome');
    await screen(page, 'launcher-select-user-first-run');

    await page.keyboard.press('Enter');
    await page.waitForSelector('.view-login');
    await expect(page.locator('#login-submit').textContent()).resolves.toBe('create account');
    expect(await page.locator('#login-toggle').isHidden()).toBe(true);

    // Blank fields are refused locally.
    await page.keyboard.press('Enter');
    await expect(page.locator('#login-error').textContent()).resolves.toContain('enter a username');
    await expectAccessible(page, 'launcher sign-in form with an error');

    await page.locator('#login-username').focus();
    await page.keyboard.type('Couch Captain');
    await page.keyboard.press('Tab');
    await page.keyboard.type('first-run-passphrase-2931');
    await screen(page, 'launcher-create-first-account');
    await page.keyboard.press('Enter');

    // Straight to Home (no org picker for the first user), signed in as the new admin.
    await page.waitForSelector('.view-hub[data-tab="home"], #login-error:not(:empty)');
    const refused = (await page.locator('#login-error').count()) ? await page.locator('#login-error').textContent() : '';
    expect(refused).toBe('');
    await expect(page.locator('.header-who .who-user').textContent()).resolves.toBe('Couch Captain');
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes('.refresh.')));
    expect(stored).toHaveLength(1);
    // The access token is never persisted.
    const values = await page.evaluate(() => Object.values(localStorage).join('\n'));
    expect(values).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./);
    await page.waitForSelector('#row-top10:not([aria-busy])');
    await screen(page, 'launcher-home-first-run');

    // A reload starts over; the remembered profile resumes with its refresh token.
    const before = await page.evaluate((k) => localStorage.getItem(k), stored[0]);
    await page.reload();
    await page.waitForSelector('.view-connect');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.view-users .avatar[data-user-id]');
    expect(await page.locator('.avatar[data-user-id] .avatar-name').textContent()).toBe('Couch Captain');
    expect((await focused(page)).text).toContain('Couch Captain');
    await screen(page, 'launcher-select-user');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.view-hub');
    const after = await page.evaluate((k) => localStorage.getItem(k), stored[0]);
    expect(after).not.toBe(before); // rotated and stored again

    // Sign out from the user menu: back to the picker, the token is gone, the profile stays.
    await page.click('#hdr-user');
    await page.waitForSelector('#menu-sign-out');
    await page.locator('#menu-sign-out').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('.view-users');
    expect(await page.evaluate((k) => localStorage.getItem(k), stored[0])).toBeNull();
    await page.keyboard.press('Enter'); // the profile, now without a token → password needed
    await page.waitForSelector('.view-login');
    expect(await page.locator('#login-username').inputValue()).toBe('Couch Captain');
    expect((await focused(page)).id).toBe('login-password');
    expect(page.errors).toEqual([]);
  });
});
