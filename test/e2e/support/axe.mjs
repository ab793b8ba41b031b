// axe-core inside the browser tests, under the page's own strict CSP (issue 19). The engine's
// source is evaluated through the DevTools protocol (playwright's page.evaluate → Runtime.evaluate),
// which the page's Content-Security-Policy does not govern, so no `bypassCSP` context and no
// <script> element are needed: the page under test keeps exactly the policy users get.
//
//   import { expectAccessible } from '../support/axe.mjs';
//   await expectAccessible(page, 'pairing at 360 px, dark');            // whole document
//   await expectAccessible(page, 'pair dialog', { include: 'dialog' }); // one part of it
//
// It fails the test with every serious or critical violation of the WCAG 2.0/2.1 A and AA rules
// (one line each: rule, impact, the offending elements), plus the few best-practice rules the
// project holds itself to (BEST_PRACTICE below), at any impact.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'vitest';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/** Best-practice rules the issue named: a page heading, no empty table headers, native roles kept. */
export const BEST_PRACTICE = ['page-has-heading-one', 'empty-table-header', 'aria-allowed-role'];
const BLOCKING = new Set(['serious', 'critical']);

/** Makes `window.axe` exist in the page (again after a navigation); returns its version. */
export async function injectAxe(page) {
  const has = await page.evaluate(() => typeof window.axe?.run === 'function');
  if (!has) await page.evaluate(AXE_SOURCE);
  const version = await page.evaluate(() => window.axe?.version);
  if (!version) throw new Error('axe-core did not load into the page');
  return version;
}

/**
 * Runs axe over the page (or `include`, a CSS selector) and returns { version, violations, passes }
 * where violations are the blocking ones described above. One round trip when the engine is
 * already in the page (a hash route change keeps it), two more to inject it after a load.
 */
export async function auditPage(page, { include, exclude, rules = BEST_PRACTICE } = {}) {
  const run = () => page.evaluate(async ({ include, exclude, tags, rules }) => {
    if (typeof window.axe?.run !== 'function') return null;
    const context = include || exclude ? { include: include ? [include] : undefined, exclude: exclude ? [exclude] : undefined } : document;
    // Best-practice rules outside the WCAG tags and outside `rules` can never fail an audit (see the
    // filter below): not running them saves a good part of every audit's time. Worked out once per
    // document and rule list.
    const key = rules.join();
    if (window.__axeIdle?.key !== key) {
      const wcag = new Set(tags);
      const idle = window.axe.getRules(['best-practice']).filter((r) => !r.tags.some((t) => wcag.has(t)) && !rules.includes(r.ruleId));
      window.__axeIdle = { key, rules: Object.fromEntries(idle.map((r) => [r.ruleId, { enabled: false }])) };
    }
    const r = await window.axe.run(context, {
      runOnly: { type: 'tag', values: [...tags, 'best-practice'] },
      rules: window.__axeIdle.rules,
      resultTypes: ['violations'],
    });
    const pick = (v) => ({
      id: v.id,
      impact: v.impact,
      tags: v.tags,
      help: v.help,
      nodes: v.nodes.slice(0, 6).map((n) => `${n.target.join(' ')} — ${(n.failureSummary || '').split('\n').slice(1, 2).join('').trim()}`),
    });
    return { version: window.axe.version, violations: r.violations.map(pick), passes: r.passes.length };
  }, { include, exclude, tags: WCAG_TAGS, rules });
  let result = await run();
  if (!result) {
    await injectAxe(page);
    result = await run();
  }
  const wcag = new Set(WCAG_TAGS);
  const blocking = result.violations.filter((v) =>
    (v.tags.some((t) => wcag.has(t)) && BLOCKING.has(v.impact)) || rules.includes(v.id));
  return { version: result.version, violations: blocking, all: result.violations, passes: result.passes };
}

/** Formats violations for an assertion message: one rule per line with its elements. */
export function describeViolations(violations) {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
}

/** Fails (with a readable list) when the page has a blocking accessibility violation. */
export async function expectAccessible(page, label, options = {}) {
  expectAudit(await auditPage(page, options), label);
}

/** The assertions of `expectAccessible` over an audit already taken (auditPage's result). */
export function expectAudit({ violations, passes }, label) {
  // An engine that checked nothing would pass everything: it must have evaluated some rules.
  expect(passes, `${label}: axe evaluated no rule`).toBeGreaterThan(0);
  expect(violations.length, `${label}:\n${describeViolations(violations)}`).toBe(0);
}
