// The console half in a real browser: create an org, add a member, register a node (the token is
// shown once), upload a cover, and read the audit log of what was just done.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, newPage } from '../support/browser.mjs';
import { authedPage, createUser, eventually, expectNoSeriousErrors, go, signIn, unique } from './helpers.mjs';

const stack = inject('stack');
let browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

// A 2×2 PNG (valid signature, IHDR, IDAT, IEND).
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');

describe('console pages', () => {
  it('creates an org, adds a member and registers a node whose token is shown once', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    const member = await createUser(page);
    await go(page, stack.url, 'console/orgs');
    const name = unique('E2E Org ');
    const form = page.locator('form', { hasText: 'New organization' });
    await form.getByLabel('Name').fill(name);
    await form.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { name: `Members of ${name}` }).waitFor();

    const members = page.locator('section', { hasText: `Members of ${name}` });
    await members.getByLabel('User', { exact: true }).fill(member.username);
    await members.getByLabel('Role', { exact: true }).selectOption('member');
    await members.getByRole('button', { name: 'Add member' }).click();
    const row = members.locator('tbody tr', { hasText: member.username });
    await row.waitFor();
    // Change the member's role in place.
    await row.getByRole('combobox').selectOption('admin');
    await eventually(() => page.locator('.toast').last().textContent()).toMatch(/is now admin/);
    // Unknown users are refused next to the field.
    await members.getByLabel('User', { exact: true }).fill('nobody-by-this-name');
    await members.getByRole('button', { name: 'Add member' }).click();
    await eventually(() => members.locator('.err:not(:empty)').first().textContent()).toMatch(/No user named/);

    await go(page, stack.url, 'console/nodes');
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
    await page.getByLabel('Organization').selectOption({ label: `${name} (${slug})` });
    const reg = page.locator('form', { hasText: 'Register a node' });
    await reg.getByLabel('Name').fill('e2e-rig-1');
    await reg.getByLabel('Region').fill('eu-west');
    await reg.getByLabel('Seats').fill('3');
    await reg.getByLabel('Stream base URL').fill('https://rig1.example.com/stream');
    await reg.getByRole('button', { name: 'Register node' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const token = (await dialog.locator('[data-token]').textContent()).trim();
    expect(token.length).toBeGreaterThan(20);
    await page.keyboard.press('Escape');
    await eventually(() => dialog.count()).toBe(0);
    const nodeRow = page.locator('tbody tr', { hasText: 'e2e-rig-1' });
    await nodeRow.waitFor();
    expect(await nodeRow.textContent()).toContain('0 / 3');
    expect(await nodeRow.textContent()).not.toContain(token);
    // Its installed games open in a dialog (none yet: no agent has reported).
    await nodeRow.getByRole('button', { name: '0 games' }).click();
    await eventually(() => page.locator('dialog').textContent()).toContain('reports no installed games');
    await page.keyboard.press('Escape');
    await eventually(() => dialog.count()).toBe(0);
    expectNoSeriousErrors(page);
  });

  it('uploads a game cover and shows it', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'console/games');
    const row = page.locator('tbody tr').first();
    await row.waitFor();
    const before = await row.locator('img.cover').getAttribute('src');
    await row.locator('input[type="file"]').setInputFiles({ name: 'cover.png', mimeType: 'image/png', buffer: PNG });
    await eventually(() => page.locator('.toast').last().textContent()).toMatch(/Cover of .* updated/);
    await eventually(() => row.locator('img.cover').getAttribute('src')).not.toBe(before);
    await eventually(() => row.locator('img.cover').evaluate((i) => i.complete && i.naturalWidth)).toBe(2);

    // Not an image: the server's refusal is shown as a toast.
    await row.locator('input[type="file"]').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('hello, not an image') });
    await eventually(() => page.locator('.toast.error').last().textContent()).toMatch(/not a PNG/);
    expectNoSeriousErrors(page);
  });

  it('lists the audit log with the org changes just made, filterable by action', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'console/audit');
    await page.getByLabel('Action').fill('org.member.*');
    await page.getByRole('button', { name: 'Filter' }).click();
    await eventually(async () => {
      const actions = await page.locator('tbody tr td:nth-child(3)').allTextContents();
      return actions.length > 0 && actions.every((a) => a.startsWith('org.member.'));
    }).toBe(true);
  });

  it('reorders app tiles and switches one off', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'console/apps');
    const names = () => page.locator('tbody tr .nm').allTextContents();
    await eventually(async () => (await names()).length).toBeGreaterThan(1);
    const [first, second] = await names();
    await page.getByRole('button', { name: `Move ${first} down` }).click();
    await eventually(async () => (await names()).slice(0, 2)).toEqual([second, first]);
    // Focus follows the moved tile, so the keyboard user can keep moving it.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(`Move ${first} down`);
    const sw = page.getByRole('checkbox', { name: `${second} enabled` });
    await sw.uncheck();
    await eventually(() => page.locator('.toast').last().textContent()).toMatch(/disabled/);
    const row = await page.evaluate(async () => (await (await fetch('/apps?chart_date=1970-01-01', { credentials: 'include' })).json()));
    expect(row.find((t) => t.name === second)?.enabled).toBe(false);
  });

  it('shows the Top 10 chart', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(page, stack.url, 'console/charts');
    await eventually(() => page.locator('tbody tr').count()).toBeGreaterThan(0);
  });
});
