// The console's org picker and cluster-nodes table in a real browser: the picker starts on the
// first org that has nodes (not the first by name, the demo's empty "Acme Corp") and says so, and
// starts on the org last chosen once one was; its probe's answer is the nodes page's first load and
// the next console page does not probe again; the nodes table shows every action at 1280 px without
// scrolling sideways, and stays usable at 360 px.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.mjs';
import { launch, shot } from '../support/browser.mjs';
import { apiFrom, authedPage, eventually, expectNoSeriousErrors, go, unique } from './helpers.mjs';

const stack = inject('stack');
let browser;
let org; // an org of this spec's own, with one node whose stream URL is long

beforeAll(async () => {
  browser = await launch();
  const page = await authedPage(browser, stack.url, stack.credentials.admin);
  const slug = unique('zz-layout-');
  const made = await apiFrom(page, 'POST', '/orgs', { slug, name: `ZZ Layout ${slug.slice(10)}` });
  expect(made.status).toBe(201);
  org = made.body;
  const node = await apiFrom(page, 'POST', `/orgs/${org.id}/nodes`, { name: 'rack-7-node-12-living-room', region: 'eu-west-2', capacity: 4, stream_base_url: 'https://rack-7-node-12.stream.example.com/edgeplane/stream' });
  expect(node.status).toBe(201);
  await page.context().close();
});
afterAll(async () => browser?.close());

/** A fresh page whose org picker has no remembered choice (localStorage emptied before any script). */
async function freshPage(o) {
  const page = await authedPage(browser, stack.url, stack.credentials.admin, o);
  await page.evaluate(() => localStorage.removeItem('edgeplane-org'));
  return page;
}
const picker = (page) => page.getByLabel('Organization');
const nodeRow = (page) => page.locator('table.nodes tbody tr', { hasText: 'rack-7-node-12-living-room' });

describe('console org picker', () => {
  it('starts on the first org with nodes and says so; then on the org last chosen', { timeout: 120_000 }, async () => {
    const page = await freshPage();
    const orgs = (await apiFrom(page, 'GET', '/orgs')).body;
    expect(orgs.length).toBeGreaterThan(1);
    const counts = await Promise.all(orgs.slice(0, 8).map(async (o) => (await apiFrom(page, 'GET', `/orgs/${o.id}/nodes`)).body.length));
    const expected = orgs[counts.findIndex((n) => n > 0)];
    expect(expected).toBeDefined();

    await go(page, stack.url, 'console/nodes');
    // The select shows the first org before the probe answers; when that is the expected one, only
    // the line under it says the probe has chosen.
    await eventually(() => page.locator('.org-why').textContent()).toBe(`Showing ${expected.name}: the first with cluster nodes.`);
    expect(await picker(page).inputValue()).toBe(String(expected.id));
    await eventually(() => page.locator('table.nodes tbody tr').count()).toBeGreaterThan(0);

    // A choice is remembered: the next console page, and the next visit, start on it.
    await picker(page).selectOption(String(org.id));
    await nodeRow(page).waitFor();
    await go(page, stack.url, 'console/sessions');
    await eventually(() => picker(page).inputValue()).toBe(String(org.id));
    expect(await page.locator('.org-why').textContent()).toBe(`Showing ${org.name}: your last choice.`);
    await page.reload();
    await go(page, stack.url, 'console/nodes');
    await eventually(() => picker(page).inputValue()).toBe(String(org.id));
    expectNoSeriousErrors(page);
  });
  it('holds the register form and the empty state while the picker is still choosing', { timeout: 120_000 }, async () => {
    const page = await freshPage();
    // The probe's answers are held back: the picker stays on "loading" for as long as we like.
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route(/\/orgs\/\d+\/nodes$/, async (route) => { await held; await route.continue(); });
    await go(page, stack.url, 'console/nodes');
    const reg = page.locator('form', { hasText: 'Register a node' });
    const submit = reg.getByRole('button', { name: 'Register node' });
    await eventually(() => reg.getByRole('status').textContent()).toBe('Loading organizations…');
    expect(await submit.isDisabled()).toBe(true);
    expect(await page.locator('.org-why').textContent()).toBe('Loading organizations…');
    const wrap = page.locator('.table-wrap', { has: page.locator('table.nodes') });
    expect(await wrap.getAttribute('aria-busy')).toBe('true');
    expect(await page.getByText('No nodes registered yet.').isVisible()).toBe(false);
    release();
    await eventually(() => submit.isDisabled()).toBe(false);
    await eventually(() => wrap.getAttribute('aria-busy')).toBe(null);
    expect(await reg.getByRole('status').textContent()).toBe('');
    expect(await page.locator('.org-why').textContent()).toMatch(/^Showing /);
    await page.unroute(/\/orgs\/\d+\/nodes$/);
    expectNoSeriousErrors(page);
    await page.context().close();
  });
  it('asks each org about its nodes once on one load of the nodes page, and the next console page not again', { timeout: 120_000 }, async () => {
    // The page's clock stands still: the 5 s poll does not fire while the first load is counted.
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { clock: true });
    await page.evaluate(() => localStorage.removeItem('edgeplane-org'));
    await page.clock.pauseAt(Date.now() + 1000);
    const asked = [];
    page.on('request', (r) => { const m = new URL(r.url()).pathname.match(/^\/orgs\/(\d+)\/nodes$/); if (m && r.method() === 'GET') asked.push(Number(m[1])); });
    await go(page, stack.url, 'console/nodes');
    await eventually(() => page.locator('.org-why').textContent()).toMatch(/^Showing .+: the first with cluster nodes\.$/);
    await eventually(() => page.locator('table.nodes tbody tr').count()).toBeGreaterThan(0);
    await page.waitForTimeout(1500); // (settle() waits on the page's own timers, which stand still)
    const probed = asked.length;
    expect(probed).toBeGreaterThan(1);
    expect(new Set(asked).size, `GET /orgs/N/nodes asked twice for one org: ${asked}`).toBe(probed);

    // The sessions page starts on the same org without probing again.
    await go(page, stack.url, 'console/sessions');
    await eventually(() => page.locator('.org-why').textContent()).toMatch(/^Showing .+: the first with cluster nodes\.$/);
    await page.waitForTimeout(1500);
    expect(asked.length).toBe(probed);

    // The poll still refreshes the list.
    await go(page, stack.url, 'console/nodes');
    await page.waitForTimeout(1500);
    const before = asked.length;
    await page.clock.runFor(6000);
    await eventually(() => asked.length).toBeGreaterThan(before);
    expectNoSeriousErrors(page);
    await page.context().close();
  });
});

describe('cluster nodes table', () => {
  it('shows every action of a node at 1280 px inside the table, with no sideways scroll', { timeout: 120_000 }, async () => {
    for (const theme of ['light', 'dark']) {
      const page = await freshPage({ width: 1280, height: 800, theme });
      await go(page, stack.url, 'console/nodes');
      await picker(page).selectOption(String(org.id));
      const row = nodeRow(page);
      await row.waitFor();
      const wrap = page.locator('.table-wrap', { has: page.locator('table.nodes') });
      const box = await wrap.evaluate((w) => ({ scroll: w.scrollWidth, client: w.clientWidth }));
      expect(box.scroll, 'the nodes table scrolls sideways').toBeLessThanOrEqual(box.client);
      const outer = await wrap.boundingBox();
      const names = ['Drain', 'Enrol', 'Rotate', 'Revoke', 'Delete'];
      for (const name of names) {
        const b = await row.getByRole('button', { name, exact: true }).boundingBox();
        expect(b, name).not.toBeNull();
        expect(b.x, name).toBeGreaterThanOrEqual(outer.x);
        expect(b.x + b.width, name).toBeLessThanOrEqual(outer.x + outer.width + 0.5);
      }
      await shot(page, `console-nodes-actions-${theme}-1280`);
      if (theme === 'light') await expectAccessible(page, 'cluster nodes at 1280 px');
      expectNoSeriousErrors(page);
      await page.context().close();
    }
  });

  it('keeps the actions on screen and usable at 360 px', { timeout: 120_000 }, async () => {
    const page = await freshPage({ width: 360, height: 740, theme: 'dark' });
    await go(page, stack.url, 'console/nodes');
    await picker(page).selectOption(String(org.id));
    const row = nodeRow(page);
    await row.waitFor();
    for (const name of ['Drain', 'Enrol', 'Rotate', 'Revoke', 'Delete']) {
      const b = await row.getByRole('button', { name, exact: true }).boundingBox();
      expect(b.x, name).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width, name).toBeLessThanOrEqual(360);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    // Registered, never enrolled: no heartbeat yet reads "never", not a bare dash.
    expect(await row.locator('.ls').textContent()).toBe('never');
    await shot(page, 'console-nodes-actions-phone');
    await row.getByRole('button', { name: 'Enrol', exact: true }).click();
    await eventually(() => page.getByRole('dialog').locator('[data-code]').textContent()).toMatch(/\S{6,}/);
    await page.keyboard.press('Escape');
    expectNoSeriousErrors(page);
    await page.context().close();
  });

  it('shows a long org name in full in the picker at 360 and 1280 px, light and dark', { timeout: 180_000 }, async () => {
    const admin = await authedPage(browser, stack.url, stack.credentials.admin);
    const slug = unique('zz-northwind-community-gaming-');
    const long = { slug, name: `ZZ Northwind Community Gaming Collective ${slug.slice(-6)}` };
    expect((await apiFrom(admin, 'POST', '/orgs', long)).status).toBe(201);
    await admin.context().close();
    for (const [width, theme] of [[360, 'dark'], [360, 'light'], [1280, 'dark'], [1280, 'light']]) {
      const page = await freshPage({ width, height: 800, theme });
      await go(page, stack.url, 'console/nodes');
      // The options keep "Name (slug)"; the closed picker shows the name, wrapping, and the slug apart.
      await picker(page).selectOption({ label: `${long.name} (${long.slug})` });
      const face = page.locator('.org-face');
      await eventually(() => face.locator('.org-name').textContent()).toBe(long.name);
      expect(await face.locator('.org-slug').textContent()).toBe(long.slug);
      const fit = await page.evaluate(() => {
        const f = document.querySelector('.org-face');
        const s = document.querySelector('.org-box > select');
        const fr = f.getBoundingClientRect();
        const sr = s.getBoundingClientRect();
        return { clipped: [...f.children].some((c) => c.scrollWidth > c.clientWidth + 1), inside: fr.top >= sr.top - 0.5 && fr.bottom <= sr.bottom + 0.5 && sr.right <= innerWidth, doc: document.documentElement.scrollWidth };
      });
      expect(fit, `${width} ${theme}`).toEqual({ clipped: false, inside: true, doc: fit.doc });
      expect(fit.doc).toBeLessThanOrEqual(width);
      await shot(page, `console-org-picker-${width}-${theme}`);
      if (width === 360 && theme === 'dark') await expectAccessible(page, 'org picker at 360 px, dark');
      // The organizations list shows the name on a button: it wraps instead of widening the page
      // (a full run's phone sweep once found #/console/orgs 364 px wide with this org in it).
      await go(page, stack.url, 'console/orgs');
      await page.locator('#main .events .nm', { hasText: long.name }).waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `organizations ${width} ${theme}`).toBeLessThanOrEqual(width);
      expectNoSeriousErrors(page);
      await page.context().close();
    }
  });
});
