// `npm run setup:cloudflare [-- --env staging] [--dry-run] [--yes]`: everything a new Cloudflare
// account needs before the first `npm run deploy`, done once and safe to repeat.
//
// It reads wrangler.toml (the top level is production; `--env staging` its staging environment),
// prints every wrangler command before it runs it, and:
//   1. checks you are signed in (`wrangler whoami`; CI uses CLOUDFLARE_API_TOKEN);
//   2. creates the D1 database when its `database_id` is still the placeholder, and writes the new
//      id into wrangler.toml (an existing database of that name is found and reused);
//   3. creates the R2 bucket and every queue the config names (existing ones are kept);
//   4. sets every required secret that is not set yet: signing and username secrets are generated
//      here (never printed), the others are asked for. A secret that is already set is never
//      replaced: rotating COUCHSUITE_USERNAME_SECRET would orphan every stored username.
// The rate-limit binding needs no resource: its namespace_id is a number you choose per account.
//
// WRANGLER_BIN points it at another wrangler (the tests use a recording double).
import { spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parse } from 'smol-toml';
import { ROOT } from './stack.mjs';

export const PLACEHOLDER_DB_ID = '00000000-0000-0000-0000-000000000000';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

function parseArgs(argv) {
  const o = { env: null, dryRun: false, yes: false, config: join(ROOT, 'wrangler.toml') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--env') o.env = argv[++i];
    else if (a.startsWith('--env=')) o.env = a.slice(6);
    else if (a === '--config') o.config = resolve(argv[++i]);
    else if (a === '--dry-run') o.dryRun = true;
    else if (a === '--yes' || a === '-y') o.yes = true;
    else throw new Error(`unknown argument ${a} (use --env NAME, --config FILE, --dry-run, --yes)`);
  }
  if (o.env !== null && !/^[a-z][a-z0-9-]*$/.test(o.env)) throw new Error(`invalid environment name ${o.env}`);
  return o;
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/** Values we can make better than a person can type. */
export const GENERATED = {
  JWT_SECRET: async () => b64url(webcrypto.getRandomValues(new Uint8Array(48))),
  COUCHSUITE_USERNAME_SECRET: async () => b64url(webcrypto.getRandomValues(new Uint8Array(48))),
  OVERSEER_TOKEN: async () => b64url(webcrypto.getRandomValues(new Uint8Array(32))),
  SESSION_SIGNING_KEY: async () => {
    const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const jwk = await webcrypto.subtle.exportKey('jwk', pair.privateKey);
    return JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d, kid: `k-${new Date().toISOString().slice(0, 10)}` });
  },
};

/** The effective section for an environment: wrangler does not inherit bindings or vars. */
export function targetSection(config, env) {
  if (!env) return config;
  const section = config.env?.[env];
  if (!section) throw new Error(`wrangler.toml has no [env.${env}] section`);
  return section;
}

/**
 * Writes a D1 database id into the `[[d1_databases]]` block of the right section, leaving every
 * other byte (comments included) as it was. Verified by parsing the result.
 */
export function writeDatabaseId(text, env, databaseName, id) {
  const header = env ? `[[env.${env}.d1_databases]]` : '[[d1_databases]]';
  const start = text.indexOf(header);
  if (start < 0) throw new Error(`no ${header} block in wrangler.toml`);
  const next = text.indexOf('\n[', start + header.length);
  const end = next < 0 ? text.length : next;
  const block = text.slice(start, end);
  if (!block.includes(`database_name = "${databaseName}"`)) throw new Error(`${header} does not name ${databaseName}`);
  const updated = block.replace(/database_id = "[^"]*"/, `database_id = "${id}"`);
  const out = text.slice(0, start) + updated + text.slice(end);
  const check = targetSection(parse(out), env).d1_databases?.find((d) => d.database_name === databaseName);
  if (check?.database_id !== id) throw new Error('could not write the database id into wrangler.toml');
  return out;
}

export async function setup(argv, io = {}) {
  const opts = parseArgs(argv);
  const out = io.log ?? ((m) => console.log(m));
  const ask = io.ask ?? (async (q) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(q);
    } finally {
      rl.close();
    }
  });
  const wranglerBin = process.env.WRANGLER_BIN ?? join(ROOT, 'node_modules', '.bin', 'wrangler');
  const envArgs = ['--config', opts.config, ...(opts.env ? ['--env', opts.env] : [])];

  /** Runs wrangler, printing the command first; `input` goes to stdin (secrets never printed). */
  const wrangler = (args, { input, allowFail = false, mutates = true } = {}) => {
    out(`$ wrangler ${args.join(' ')}`);
    if (opts.dryRun && mutates) return { status: 0, stdout: '', stderr: '' };
    const r = spawnSync(wranglerBin, args, { cwd: ROOT, input, encoding: 'utf8', env: process.env });
    if (r.status !== 0 && !allowFail) throw new Error(`wrangler ${args[0]} ${args[1] ?? ''} failed:\n${r.stderr || r.stdout}`);
    return r;
  };

  let text = readFileSync(opts.config, 'utf8');
  const section = targetSection(parse(text), opts.env);
  const where = opts.env ? `environment "${opts.env}"` : 'production (the top level)';
  out(`Setting up Cloudflare resources for ${where} from ${opts.config}${opts.dryRun ? ' (dry run: nothing is created)' : ''}`);

  const who = wrangler(['whoami'], { allowFail: true, mutates: false });
  if (!opts.dryRun && who.status !== 0) throw new Error('wrangler is not signed in: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)');

  for (const db of section.d1_databases ?? []) {
    if (db.database_id && db.database_id !== PLACEHOLDER_DB_ID) {
      out(`D1 ${db.database_name}: already configured (${db.database_id})`);
      continue;
    }
    let id = null;
    const created = wrangler(['d1', 'create', db.database_name], { allowFail: true });
    id = (created.stdout ?? '').match(new RegExp(`database_id["\\s:=]+"?(${UUID.source})`, 'i'))?.[1] ?? null;
    if (!id && !opts.dryRun) {
      // Already exists (a second run after a crash, or a shared account): find it by name.
      const list = wrangler(['d1', 'list', '--json'], { mutates: false });
      id = JSON.parse(list.stdout).find((d) => d.name === db.database_name)?.uuid ?? null;
      if (!id) throw new Error(`could not create or find the D1 database ${db.database_name}:\n${created.stderr || created.stdout}`);
    }
    if (id) {
      text = writeDatabaseId(text, opts.env, db.database_name, id);
      writeFileSync(opts.config, text);
      out(`D1 ${db.database_name}: ${id} written into ${opts.config}`);
    }
  }

  const exists = (r) => r.status === 0 || /already exists|already taken|10004|11009/i.test(`${r.stdout}${r.stderr}`);
  for (const b of section.r2_buckets ?? []) {
    const r = wrangler(['r2', 'bucket', 'create', b.bucket_name], { allowFail: true });
    if (!exists(r)) throw new Error(`creating the R2 bucket ${b.bucket_name} failed:\n${r.stderr || r.stdout}`);
    out(`R2 ${b.bucket_name}: ready`);
  }
  const queues = new Set([
    ...(section.queues?.producers ?? []).map((q) => q.queue),
    ...(section.queues?.consumers ?? []).flatMap((q) => [q.queue, q.dead_letter_queue].filter(Boolean)),
  ]);
  for (const q of queues) {
    const r = wrangler(['queues', 'create', q], { allowFail: true });
    if (!exists(r)) throw new Error(`creating the queue ${q} failed:\n${r.stderr || r.stdout}`);
    out(`Queue ${q}: ready`);
  }
  for (const rl of section.ratelimits ?? []) out(`Rate limit ${rl.name}: namespace_id ${rl.namespace_id} (no resource to create; keep it unique in the account)`);

  const required = section.secrets?.required ?? parse(text).secrets?.required ?? [];
  let have = new Set();
  if (!opts.dryRun) {
    const listed = wrangler(['secret', 'list', '--format', 'json', ...envArgs], { allowFail: true, mutates: false });
    // A Worker that was never deployed has no secrets yet (and `secret list` fails): all are missing.
    try {
      have = new Set(JSON.parse(listed.stdout).map((s) => s.name));
    } catch {}
  }
  for (const name of required) {
    if (have.has(name)) {
      out(`secret ${name}: already set (kept)`);
      continue;
    }
    let value;
    if (Object.hasOwn(GENERATED, name)) value = await GENERATED[name]();
    else if (opts.yes || opts.dryRun) value = '';
    else value = (await ask(`${name} (empty for none): `)).trim();
    wrangler(['secret', 'put', name, ...envArgs], { input: value });
    out(`secret ${name}: ${Object.hasOwn(GENERATED, name) ? 'generated and set' : value ? 'set' : 'set empty'}`);
  }

  out(`\nDone. Deploy with: ${opts.env ? `npm run deploy -- --env ${opts.env}` : 'npm run deploy'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setup(process.argv.slice(2)).catch((e) => {
    console.error(`setup:cloudflare: ${e.message}`);
    process.exit(1);
  });
}
