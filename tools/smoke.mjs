// `node tools/smoke.mjs BASE_URL [VERSION]`: the post-deploy check. /health must answer 200
// `{ok: true}` and /version must name the expected version (the VERSION file when not given), with
// a few retries while the new deployment propagates. Exit 0 when both hold.
// Calls go through Hono's typed client; the JSDoc type is the Worker's App (src/client.ts), so a
// renamed field fails `npm run typecheck` instead of a deploy.
// @ts-check
import { hc } from 'hono/client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './stack.mjs';

/** @typedef {import('../src/client').Client} Client */

/**
 * @param {string} base @param {string} expected
 * @param {{ attempts?: number, delayMs?: number, log?: (line: string) => void }} [o]
 */
export async function smoke(base, expected, { attempts = 10, delayMs = 3000, log = console.log } = {}) {
  const url = base.replace(/\/+$/, '');
  const api = /** @type {Client} */ (/** @type {unknown} */ (hc(url)));
  let problem = 'not tried';
  for (let i = 1; i <= attempts; i++) {
    try {
      const health = await api.health.$get();
      // A proxy's HTML error page is not JSON: report the status rather than a parse error.
      const h = await health.json().catch(() => null);
      const version = await api.version.$get();
      const v = await version.json().catch(() => null);
      if (health.status !== 200 || !h || !('ok' in h) || h.ok !== true) problem = `/health answered ${health.status} ${JSON.stringify(h)}`;
      else if (version.status !== 200 || v?.server !== expected) problem = `/version answered ${version.status} ${JSON.stringify(v)}, expected ${expected}`;
      else {
        log(`smoke: ${url} is healthy and serves ${expected}`);
        return true;
      }
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e);
    }
    log(`smoke: attempt ${i}/${attempts}: ${problem}`);
    if (i < attempts) await new Promise((r) => setTimeout(r, delayMs));
  }
  return false;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [base, version] = process.argv.slice(2);
  if (!base) {
    console.error('usage: node tools/smoke.mjs BASE_URL [VERSION]');
    process.exit(2);
  }
  const ok = await smoke(base, version || readFileSync(join(ROOT, 'VERSION'), 'utf8').trim());
  process.exit(ok ? 0 : 1);
}
