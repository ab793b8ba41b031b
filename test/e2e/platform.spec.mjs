import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, newPage } from './support/browser.mjs';

const stack = inject('stack');
let browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

describe('the local stack as a browser sees it', () => {
  it('serves static pages with a strict CSP and the API on the same origin', async () => {
    const page = await newPage(browser);
    const res = await page.goto(`${stack.url}/`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-security-policy']).toContain("script-src 'self'");
    const health = await page.evaluate(async () => (await fetch('/health')).json());
    expect(health).toEqual({ ok: true });
  });
});
