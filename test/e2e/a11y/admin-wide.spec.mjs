// Accessibility (issue 19): axe-core's WCAG 2.0/2.1 A and AA rules over every dashboard route as an
// admin at 1280×800, light and dark (no serious or critical violation; support/axe.mjs). The other
// sizes and accounts are in the other a11y/*.spec.mjs files (split so the browser lanes balance).
import { afterAll, beforeAll, describe } from 'vitest';
import { launch } from '../support/browser.mjs';
import { sweepTests } from './sweep.mjs';

let browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

describe('every dashboard route passes the WCAG 2.1 A/AA rules', () => {
  sweepTests(() => browser, 'admin', [1280, 800]);
});
