/**
 * `npm run setup:cloudflare` against a recording double of wrangler (the only outside party): it
 * creates what is missing, writes the new D1 id into the config without touching anything else,
 * generates secrets it can make and never replaces one that is set, and a second run creates nothing.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PLACEHOLDER_DB_ID, setup } from '../../tools/setup-cloudflare.mjs';
import { ROOT } from '../../tools/stack.mjs';

const NEW_ID = '4b9a1c1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b';
let dir, config, calls, state;

// The double answers like wrangler 4 does and keeps its "account" in a JSON file.
const DOUBLE = `#!/usr/bin/env node
const fs = require('node:fs');
const [calls, state] = [process.env.DOUBLE_CALLS, process.env.DOUBLE_STATE];
const s = JSON.parse(fs.readFileSync(state, 'utf8'));
const args = process.argv.slice(2);
let input = '';
try { input = fs.readFileSync(0, 'utf8'); } catch {}
fs.appendFileSync(calls, JSON.stringify({ args, input }) + '\\n');
const save = () => fs.writeFileSync(state, JSON.stringify(s));
const [a, b, c] = args;
if (a === 'whoami') { console.log('You are logged in with an API Token.'); process.exit(0); }
if (a === 'd1' && b === 'create') {
  if (s.d1[c]) { console.error('✘ [ERROR] A database with that name already exists [code: 7502]'); process.exit(1); }
  s.d1[c] = '${NEW_ID}'; save();
  console.log("✅ Successfully created DB '" + c + "' in region WEUR\\n[[d1_databases]]\\nbinding = \\"DB\\"\\ndatabase_name = \\"" + c + "\\"\\ndatabase_id = \\"${NEW_ID}\\"");
  process.exit(0);
}
if (a === 'd1' && b === 'list') { console.log(JSON.stringify(Object.entries(s.d1).map(([name, uuid]) => ({ name, uuid })))); process.exit(0); }
if (a === 'r2' && b === 'bucket' && c === 'create') {
  const name = args[3];
  if (s.r2.includes(name)) { console.error('✘ [ERROR] The bucket you tried to create already exists, and you own it. [code: 10004]'); process.exit(1); }
  s.r2.push(name); save(); console.log("✅ Created bucket '" + name + "'"); process.exit(0);
}
if (a === 'queues' && b === 'create') {
  if (s.queues.includes(c)) { console.error('✘ [ERROR] A request to the Cloudflare API failed. Queue name already taken [code: 11009]'); process.exit(1); }
  s.queues.push(c); save(); console.log("✅ Created queue '" + c + "'"); process.exit(0);
}
if (a === 'secret' && b === 'list') { console.log(JSON.stringify(Object.keys(s.secrets).map((name) => ({ name, type: 'secret_text' })))); process.exit(0); }
if (a === 'secret' && b === 'put') { s.secrets[c] = input; save(); console.log('✨ Success! Uploaded secret ' + c); process.exit(0); }
console.error('unexpected call: ' + args.join(' ')); process.exit(3);
`;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'setup-cf-'));
  config = join(dir, 'wrangler.toml');
  copyFileSync(join(ROOT, 'wrangler.toml'), config);
  calls = join(dir, 'calls.jsonl');
  state = join(dir, 'account.json');
  writeFileSync(state, JSON.stringify({ d1: {}, r2: [], queues: [], secrets: { STEAM_API_KEY: 'existing-steam-key' } }));
  const bin = join(dir, 'wrangler');
  writeFileSync(bin, DOUBLE);
  chmodSync(bin, 0o755);
  Object.assign(process.env, { WRANGLER_BIN: bin, DOUBLE_CALLS: calls, DOUBLE_STATE: state });
});
afterEach(() => {
  delete process.env.WRANGLER_BIN;
  rmSync(dir, { recursive: true, force: true });
});

const recorded = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []);
const run = (...args) => setup(['--config', config, '--yes', ...args], { log: () => {}, ask: async () => '' });

describe('setup:cloudflare', () => {
  it('creates the database and writes its id into the config, leaving the rest of the file as it was', async () => {
    const before = readFileSync(config, 'utf8');
    await run();
    const after = readFileSync(config, 'utf8');
    expect(parse(after).d1_databases[0].database_id).toBe(NEW_ID);
    expect(after.replace(NEW_ID, PLACEHOLDER_DB_ID)).toBe(before);
    expect(parse(after).env.staging.d1_databases[0].database_id).toBe(PLACEHOLDER_DB_ID);
  });

  it('creates the bucket and sets generated secrets without replacing one already set', async () => {
    await run();
    const account = JSON.parse(readFileSync(state, 'utf8'));
    expect(account.r2).toEqual(['edgeplane']);
    expect(account.secrets.STEAM_API_KEY).toBe('existing-steam-key');
    expect(Buffer.from(account.secrets.JWT_SECRET, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(account.secrets.COUCHSUITE_USERNAME_SECRET).not.toBe(account.secrets.JWT_SECRET);
    expect(JSON.parse(account.secrets.SESSION_SIGNING_KEY)).toMatchObject({ kty: 'EC', crv: 'P-256', d: expect.any(String), kid: expect.any(String) });
    const puts = recorded().filter((c) => c.args[0] === 'secret' && c.args[1] === 'put').map((c) => c.args[2]);
    expect(puts.sort()).toEqual(['COUCHSUITE_USERNAME_SECRET', 'JWT_SECRET', 'OVERSEER_TOKEN', 'SESSION_SIGNING_KEY']);
    expect(account.secrets.OVERSEER_TOKEN.length).toBeGreaterThanOrEqual(32);
    // Every queue the config names (the enrichment queue and its consumer) exists.
    expect(account.queues).toContain('edgeplane-enrichment');
  });

  it('changes nothing on a second run', async () => {
    await run();
    const afterFirst = readFileSync(state, 'utf8');
    writeFileSync(calls, '');
    await run();
    expect(readFileSync(state, 'utf8')).toBe(afterFirst);
    expect(recorded().filter((c) => (c.args[0] === 'd1' && c.args[1] === 'create') || c.args[1] === 'put')).toEqual([]);
  });

  it('reuses a database that already exists under that name', async () => {
    writeFileSync(state, JSON.stringify({ d1: { edgeplane: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }, r2: ['edgeplane'], queues: [], secrets: {} }));
    await run();
    expect(parse(readFileSync(config, 'utf8')).d1_databases[0].database_id).toBe('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
  });

  it('sets up staging in its own section and with --env on every secret', async () => {
    await run('--env', 'staging');
    const after = parse(readFileSync(config, 'utf8'));
    expect(after.env.staging.d1_databases[0].database_id).toBe(NEW_ID);
    expect(after.d1_databases[0].database_id).toBe(PLACEHOLDER_DB_ID);
    expect(JSON.parse(readFileSync(state, 'utf8')).r2).toEqual(['edgeplane-staging']);
    for (const c of recorded().filter((c) => c.args[0] === 'secret')) expect(c.args).toContain('staging');
  });

  it('creates nothing in a dry run', async () => {
    const before = readFileSync(config, 'utf8');
    await run('--dry-run');
    expect(readFileSync(config, 'utf8')).toBe(before);
    expect(recorded().map((c) => c.args[0])).toEqual(['whoami']);
  });
});
