// The Metrics page in a real browser: a platform admin sees every chart drawn from what the stack
// has done so far (requests, sign-ins, heartbeats of the demo node agent), with the numbers also
// as a table; light, dark and a phone. The page passes the strict CSP (no inline styles in SVG).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, shot } from '../support/browser.mjs';
import { authedPage, eventually, expectNoSeriousErrors, go } from './helpers.mjs';

const stack = inject('stack');
let browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

describe('metrics page', () => {
  it('charts requests by status and node heartbeats, with the data as a table', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin);
    const violations = [];
    page.on('console', (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
    await go(page, stack.url, 'console/metrics');
    const requests = page.locator('section.chart-card', { has: page.getByRole('heading', { name: 'Requests' }) });
    await requests.locator('svg.chart polyline').first().waitFor({ timeout: 30_000 });
    // The stack has served requests already (this page's own included): the total is a number > 0.
    await eventually(async () => Number((await requests.locator('.chart-total').textContent()).replace(/\D/g, ''))).toBeGreaterThan(0);
    expect(await requests.locator('.legend li').first().textContent()).toMatch(/^\d{3} · /);
    const label = await requests.locator('svg.chart').getAttribute('aria-label');
    expect(label).toMatch(/^Requests, 24h: /);
    await requests.getByText('Data').click();
    expect(await requests.locator('.chart-data tbody tr').count()).toBeGreaterThanOrEqual(24);
    const heartbeats = page.locator('section.chart-card', { has: page.getByRole('heading', { name: 'Node heartbeats' }) });
    await heartbeats.locator('svg.chart, p').first().waitFor();
    await shot(page, 'dashboard-metrics-light');
    await page.getByRole('button', { name: '7 days' }).click();
    await eventually(() => requests.locator('svg.chart').getAttribute('aria-label')).toMatch(/^Requests, 7d: /);
    expect(violations).toEqual([]);
    expectNoSeriousErrors(page);
  });

  it('reads on a phone and in the dark theme', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { width: 360, height: 740, theme: 'dark' });
    await go(page, stack.url, 'console/metrics');
    await page.locator('svg.chart polyline').first().waitFor({ timeout: 30_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, 'dashboard-metrics-phone-dark');
    expectNoSeriousErrors(page);
  });
});
