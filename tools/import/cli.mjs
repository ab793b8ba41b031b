// `npm run import -- <sticky-dvr|couchserver> <input> [options]`: brings a legacy system's data into
// Edgeplane's D1. Dry run by default: prints what would be created, what already exists and what is
// refused and why; `--apply` writes it, as one D1 batch (all or nothing). Idempotent: rows are
// matched by natural key (username, slug, driver/username, …), so a second run changes nothing.
//
//   npm run import -- couchserver ./couch.db                     # dry run against local D1
//   npm run import -- sticky-dvr ./dump.sql --apply              # into local D1 (.wrangler/state)
//   npm run import -- sticky-dvr postgres://u@host/db --remote --apply --username-secret "$SECRET"
//
// Options: --apply, --remote, --env NAME, --persist-to DIR (local state), --report FILE,
// --username-secret S (Edgeplane's COUCHSUITE_USERNAME_SECRET; local runs read .dev.vars),
// --legacy-secret S (the CouchServer prototype's secret; default: its built-in fallback).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usernameKeys } from '../../src/auth/usernames.ts';
import { ROOT } from '../stack.mjs';
import { planCouchserver } from './couchserver.mjs';
import { wranglerD1 } from './d1.mjs';
import { Plan, report } from './plan.mjs';
import { planStickyDvr } from './sticky-dvr.mjs';

function parseArgs(argv) {
  const [system, input, ...rest] = argv;
  const o = { system, input, apply: false, remote: false, env: undefined, persistTo: undefined, report: undefined, usernameSecret: process.env.COUCHSUITE_USERNAME_SECRET, legacySecret: undefined };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--apply') o.apply = true;
    else if (a === '--remote') o.remote = true;
    else if (a === '--env') o.env = value();
    else if (a === '--persist-to') o.persistTo = value();
    else if (a === '--report') o.report = value();
    else if (a === '--username-secret') o.usernameSecret = value();
    else if (a === '--legacy-secret') o.legacySecret = value();
    else throw new Error(`unknown option ${a}`);
  }
  if (!['sticky-dvr', 'couchserver'].includes(system) || !input) throw new Error('usage: npm run import -- <sticky-dvr|couchserver> <input> [--apply] [--remote] [--env NAME] [--persist-to DIR] [--report FILE] [--username-secret S] [--legacy-secret S]');
  if (system === 'couchserver' && !existsSync(input)) throw new Error(`no such file: ${input}`);
  return o;
}

/** Local runs use the dev stack's secret; a remote run must be told (it must equal the Worker's). */
function usernameSecret(o) {
  if (o.usernameSecret) return o.usernameSecret;
  const devVars = join(ROOT, '.dev.vars');
  if (!o.remote && existsSync(devVars)) {
    const m = readFileSync(devVars, 'utf8').match(/^COUCHSUITE_USERNAME_SECRET\s*=\s*"?([^"\n]+)"?$/m);
    if (m) return m[1];
  }
  throw new Error('the Worker\'s COUCHSUITE_USERNAME_SECRET is needed to store usernames: pass --username-secret (or set it in the environment)');
}

export async function runImport(argv, { log = console.log, target } = {}) {
  const o = parseArgs(argv);
  const keys = await usernameKeys(usernameSecret(o));
  const plan = new Plan();
  if (o.system === 'couchserver') await planCouchserver(plan, { file: o.input, keys, ...(o.legacySecret ? { legacySecret: o.legacySecret } : {}) });
  else await planStickyDvr(plan, { input: o.input, keys });

  const d1 = target ?? wranglerD1({ remote: o.remote, env: o.env, persistTo: o.persistTo ?? (o.remote ? undefined : join(ROOT, '.wrangler', 'state')) });
  const kinds = Object.keys(plan.keyQueries);
  const results = await d1.query(kinds.map((k) => plan.keyQueries[k]));
  const existing = Object.fromEntries(kinds.map((k, i) => [k, new Set((results[i] ?? []).map((r) => String(r.k)))]));
  const resolved = plan.resolve(existing);

  if (o.apply && resolved.sql.length) {
    const dir = mkdtempSync(join(tmpdir(), 'edgeplane-import-'));
    try {
      const file = join(dir, 'import.sql');
      writeFileSync(file, resolved.sql.join('\n') + '\n');
      await d1.executeFile(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const text = report(resolved, { applied: o.apply, source: `${o.system} ${/^postgres/.test(o.input) ? o.input.replace(/\/\/[^@/]*@/, '//…@') : o.input}`, target: d1.where });
  log(text);
  if (o.report) writeFileSync(o.report, text + '\n');
  return resolved;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runImport(process.argv.slice(2)).catch((e) => {
    console.error(`import: ${e.message}`);
    process.exit(1);
  });
}
