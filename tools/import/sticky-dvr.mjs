// sticky-backend 0.3.x (PostgreSQL; contract dvr-api.md) → Edgeplane, from a plain `pg_dump` file
// or straight from a database (a DSN: `pg_dump` is run for you and its output read the same way).
//
// Reads the dump's `COPY ... FROM stdin` blocks (pg_dump's default format). Users keep their bcrypt
// hashes (upgraded at the next login); usernames, case-sensitive there, must stay unique after our
// normalisation. Refresh sessions are left behind (everyone signs in again: the reference stored
// refresh tokens in clear). The config is validated key by key like `PUT /api/config`.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConfigSchema } from '../../src/dvr/settings.ts';
import { SEGMENT } from '../../src/dvr/paths.ts';
import { expr, insert, isoUtc, lit, sourceId, userId } from './sql.mjs';

/** COPY text format: tab-separated, `\N` is NULL, backslash escapes. */
function unescapeCopy(field) {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, c) => ({ t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v', '\\': '\\' })[c] ?? c);
}

/** Every COPY block of a plain-format dump, as rows keyed by column name, by bare table name. */
export function parsePgDump(text) {
  const tables = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^COPY (?:"?[\w]+"?\.)?"?(\w+)"? \(([^)]*)\) FROM stdin;$/);
    if (!m) continue;
    const cols = m[2].split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    const rows = (tables[m[1]] = []);
    for (i++; i < lines.length && lines[i] !== '\\.'; i++) {
      const fields = lines[i].split('\t').map(unescapeCopy);
      if (fields.length !== cols.length) throw new Error(`pg_dump: a ${m[1]} row has ${fields.length} fields, expected ${cols.length}`);
      rows.push(Object.fromEntries(cols.map((c, k) => [c, fields[k]])));
    }
  }
  return tables;
}

/** A DSN (`postgres://…`) is dumped with the machine's pg_dump; anything else is a dump file. */
export function readDump(input) {
  if (/^postgres(ql)?:\/\//.test(input)) {
    const r = spawnSync('pg_dump', ['--data-only', '--no-owner', '--no-privileges', input], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
    if (r.error) throw new Error(`pg_dump is needed to read from a DSN: ${r.error.message} (install postgresql-client, or pass a pg_dump file)`);
    if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr.trim()}`);
    return r.stdout;
  }
  return readFileSync(input, 'utf8');
}

const POSTURES = new Set(['active', 'paused', 'archived']);

/**
 * @param {import('./plan.mjs').Plan} plan
 * @param {{ input: string, keys: import('../../src/auth/usernames').UsernameKeys }} o
 */
export async function planStickyDvr(plan, { input, keys }) {
  const t = parsePgDump(readDump(input));
  const userDigest = new Map();
  const sourceKey = new Map();
  const seen = new Map();

  for (const u of t.users ?? []) {
    const name = String(u.username ?? '').normalize('NFKC').trim();
    if (!name || name.length > 64) {
      plan.refuse('users', `#${u.id}`, 'empty or over-long username');
      continue;
    }
    if (!/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(String(u.password_hash))) {
      plan.refuse('users', name, 'the password hash is not bcrypt');
      continue;
    }
    const digest = await keys.digest(name);
    if (seen.has(digest)) {
      plan.refuse('users', name, `collides with "${seen.get(digest)}": usernames are case-insensitive here`);
      continue;
    }
    seen.set(digest, name);
    userDigest.set(u.id, digest);
    plan.add({
      kind: 'users',
      key: digest,
      label: name,
      sql: insert('users', {
        username_digest: digest,
        username_enc: await keys.encrypt(name, digest),
        pass_hash: u.password_hash,
        role: u.role === 'admin' ? 'admin' : 'user',
        created_at: isoUtc(u.created_at) ?? new Date().toISOString(),
        updated_at: isoUtc(u.updated_at) ?? new Date().toISOString(),
      }),
    });
  }

  for (const s of t.sources ?? []) {
    const label = `${s.driver}/${s.username}`;
    if (!SEGMENT.test(String(s.driver ?? '')) || !SEGMENT.test(String(s.username ?? ''))) {
      plan.refuse('sources', label, 'driver or username is not a valid path segment');
      continue;
    }
    sourceKey.set(s.id, [s.driver, s.username]);
    // The task id is the old backend's; the control plane starts its own recorders.
    plan.add({ kind: 'sources', key: `${s.driver}|${s.username}`, label, sql: insert('sources', { driver: s.driver, username: s.username, created_at: isoUtc(s.created_at) }) });
  }

  for (const s of t.subscriptions ?? []) {
    const [digest, src] = [userDigest.get(s.user_id), sourceKey.get(s.source_id)];
    const label = `#${s.id}`;
    if (!digest || !src) plan.refuse('subscriptions', label, 'its user or source is not imported');
    else if (!POSTURES.has(s.posture)) plan.refuse('subscriptions', label, `unknown posture "${s.posture}"`);
    else
      plan.add({
        kind: 'subscriptions',
        key: `${digest}|${src[0]}|${src[1]}`,
        label: `${seen.get(digest)} → ${src[0]}/${src[1]} (${s.posture})`,
        needs: [['users', digest], ['sources', `${src[0]}|${src[1]}`]],
        sql: insert('subscriptions', { user_id: expr(userId(digest)), source_id: expr(sourceId(src[0], src[1])), posture: s.posture, created_at: isoUtc(s.created_at), updated_at: isoUtc(s.updated_at) }),
      });
  }

  for (const e of t.worker_events ?? []) {
    const src = sourceKey.get(e.source_id);
    if (!src) continue;
    const ts = isoUtc(e.ts);
    const pid = Number(e.pid ?? 0);
    const exit = e.exit_code === null ? null : Number(e.exit_code);
    if (!ts || !Number.isInteger(pid) || (exit !== null && !Number.isInteger(exit)) || !/^(started|exited|stopped)$/.test(String(e.event_type))) {
      plan.refuse('worker_events', `#${e.id}`, 'malformed event');
      continue;
    }
    const key = `${src[0]}|${src[1]}|${ts}|${pid}|${e.event_type}`;
    plan.add({
      kind: 'worker_events',
      key,
      label: key,
      needs: [['sources', `${src[0]}|${src[1]}`]],
      sql: `INSERT INTO worker_events (source_id, pid, event_type, exit_code, ts) SELECT ${sourceId(src[0], src[1])}, ${pid}, ${lit(e.event_type)}, ${lit(exit)}, ${lit(ts)} WHERE NOT EXISTS (SELECT 1 FROM worker_events WHERE source_id = ${sourceId(src[0], src[1])} AND ts = ${lit(ts)} AND pid = ${pid} AND event_type = ${lit(e.event_type)});`,
    });
  }

  const stored = (t.config ?? []).find((c) => String(c.id) === '1');
  if (stored) {
    let data = null;
    try {
      data = JSON.parse(stored.data);
    } catch {}
    if (!data || typeof data !== 'object') plan.refuse('config', 'row 1', 'not a JSON object');
    else {
      // Key by key, like PUT /api/config: a bad value is reported and left at our default.
      const good = {};
      const defaults = ConfigSchema.parse({});
      for (const [k, v] of Object.entries(data)) {
        if (!Object.hasOwn(defaults, k)) {
          plan.refuse('config', k, 'unknown key');
          continue;
        }
        const one = ConfigSchema.safeParse({ [k]: v });
        if (one.success) good[k] = one.data[k];
        else plan.refuse('config', k, one.error.issues[0]?.message ?? 'invalid value');
      }
      plan.add({ kind: 'config', key: '1', label: `${Object.keys(good).length} valid key(s)`, sql: insert('config', { id: 1, data: JSON.stringify(good) }) });
    }
  }

  const sessions = (t.sessions ?? []).length;
  if (sessions) plan.note('sessions', `${sessions} row(s)`, 'refresh sessions are not carried over: everyone signs in again');

  plan.keys('users', 'SELECT username_digest AS k FROM users');
  plan.keys('sources', "SELECT driver || '|' || username AS k FROM sources");
  plan.keys('subscriptions', "SELECT u.username_digest || '|' || s.driver || '|' || s.username AS k FROM subscriptions x JOIN users u ON u.id = x.user_id JOIN sources s ON s.id = x.source_id");
  plan.keys('worker_events', "SELECT s.driver || '|' || s.username || '|' || e.ts || '|' || e.pid || '|' || e.event_type AS k FROM worker_events e JOIN sources s ON s.id = e.source_id");
  plan.keys('config', "SELECT CAST(id AS TEXT) AS k FROM config");
}
