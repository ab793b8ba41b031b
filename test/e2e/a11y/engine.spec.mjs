// Accessibility (issue 19): axe-core itself runs under the page's own strict CSP and finds a planted
// violation; the sign-in page (with and without an error, light and dark, 1280 and 360 px), a
// dialog and a form with errors pass the WCAG 2.0/2.1 A and AA rules. The route sweeps are in
// admin-*.spec.mjs and member.spec.mjs, the checks no engine makes in by-hand.spec.mjs.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditPage, expectAccessible } from '../support/axe.mjs';
import { launch, newPage } from '../support/browser.mjs';
import { authedPage } from '../dashboard/helpers.mjs';
import { open, SIZES, THEMES } from './sweep.mjs';

const stack = inject('stack');
let browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

describe('axe-core inside the browser tests', () => {
  it('runs under the page’s strict CSP (no bypass) and finds a planted violation', async () => {
    const page = await newPage(browser);
    const res = await page.goto(`${stack.url}/#/login`);
    await page.waitForSelector('.login-card');
    const csp = (await res.allHeaders())['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    // The policy is in force in this page: an inline script does not run.
    const inlineRan = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.head.append(s);
      await new Promise((r) => setTimeout(r, 50));
      return window.__inlineRan === true;
    });
    expect(inlineRan).toBe(false);

    await expectAccessible(page, 'sign-in page');
    // A real engine, not a no-op: an unnamed image button is reported.
    await page.evaluate(() => {
      const b = document.createElement('button');
      b.id = 'planted';
      b.append(Object.assign(document.createElement('img'), { src: 'favicon.svg' }));
      document.querySelector('.login-card').append(b);
    });
    const { version, violations } = await auditPage(page);
    expect(version).toMatch(/^4\./);
    expect(violations.map((v) => v.id)).toEqual(expect.arrayContaining(['button-name']));
    expect(violations.find((v) => v.id === 'button-name').nodes.join()).toContain('#planted');
  });
});

describe('every dashboard route passes the WCAG 2.1 A/AA rules', () => {
  for (const theme of THEMES) {
    for (const [width, height] of SIZES) {
      it(`the sign-in page, with and without an error (${theme}, ${width} px)`, async () => {
        const page = await newPage(browser, { width, height, theme });
        await page.goto(`${stack.url}/#/login`);
        await page.waitForSelector('.login-card');
        expect(await page.locator('h1').textContent()).toBe('Edgeplane');
        await expectAccessible(page, `login ${theme} ${width}`);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForSelector('.login-card .form-error:not(:empty)');
        await expectAccessible(page, `login error ${theme} ${width}`);
      });
    }
  }

  it('dialogs and the editor: the delete confirmation and the new-game form', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.admin, { theme: 'dark' });
    await open(page, stack.url, 'console/games');
    await page.getByRole('button', { name: 'New game' }).click();
    await page.getByRole('button', { name: 'Create game' }).click(); // empty: field errors
    await page.waitForSelector('[aria-invalid="true"]');
    await expectAccessible(page, 'new game form with errors');
    await page.locator('#main tbody .btn.danger').first().click();
    await page.waitForSelector('dialog[open]');
    await expectAccessible(page, 'delete confirmation');
    await page.keyboard.press('Escape');
    await page.context().close();
  });
});

