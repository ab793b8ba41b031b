/**
 * `npm run import`: a real CouchServer `couch.db` (the prototype's schema, rows written the way the
 * prototype writes them) and a real-format sticky-dvr `pg_dump`, imported into a real local D1 that a
 * running Worker (wrangler dev) serves: dry run writes nothing, apply imports what is valid and
 * reports the rest, legacy passwords sign in, a second run changes nothing.
 */
import bcrypt from 'bcryptjs';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../tools/import/cli.mjs';
import { freePort, startStack } from '../../tools/stack.mjs';

const LEGACY = 'couchsuite-secret';
let dir, stack;

/** The prototype's schema (contract console-api.md §5.1). */
const COUCH_SCHEMA = `
CREATE TABLE orgs (id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username_digest TEXT NOT NULL UNIQUE, username_cipher TEXT NOT NULL, password_hash TEXT NOT NULL, password_salt TEXT NOT NULL, password_iterations INTEGER NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE memberships (id INTEGER PRIMARY KEY AUTOINCREMENT, org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, role TEXT NOT NULL DEFAULT 'member', UNIQUE(org_id, user_id));
CREATE TABLE user_accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, org_id INTEGER NOT NULL, user_id INTEGER NOT NULL, platform TEXT NOT NULL, account_id TEXT NOT NULL, display_name TEXT, metadata_json TEXT, UNIQUE(org_id, user_id, platform));
CREATE TABLE games (id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL, description TEXT, rating REAL, cover_url TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE game_external_ids (id INTEGER PRIMARY KEY AUTOINCREMENT, game_id INTEGER NOT NULL, platform TEXT NOT NULL, external_id TEXT NOT NULL, UNIQUE(game_id, platform));
CREATE TABLE game_ratings (id INTEGER PRIMARY KEY AUTOINCREMENT, game_id INTEGER NOT NULL, source TEXT, score REAL, details TEXT);
CREATE TABLE user_game_library (id INTEGER PRIMARY KEY AUTOINCREMENT, org_id INTEGER NOT NULL, user_id INTEGER NOT NULL, game_id INTEGER NOT NULL, platform TEXT, external_id TEXT, ownership_source TEXT NOT NULL, proof_type TEXT, proof_value TEXT, verified_at TEXT, UNIQUE(org_id, user_id, game_id));
CREATE TABLE cluster_nodes (id INTEGER PRIMARY KEY AUTOINCREMENT, org_id INTEGER NOT NULL, name TEXT NOT NULL, region TEXT, capacity INTEGER, status TEXT DEFAULT 'active', UNIQUE(org_id, name));
CREATE TABLE downloaded_games (id INTEGER PRIMARY KEY AUTOINCREMENT, org_id INTEGER NOT NULL, node_id INTEGER NOT NULL, game_id INTEGER NOT NULL, install_path TEXT NOT NULL, launcher TEXT, executable TEXT, last_seen TEXT DEFAULT CURRENT_TIMESTAMP, UNIQUE(org_id, node_id, game_id));
CREATE TABLE charts_top10 (id INTEGER PRIMARY KEY AUTOINCREMENT, chart_date TEXT NOT NULL, rank INTEGER NOT NULL, name TEXT NOT NULL, steam_appid INTEGER, game_id INTEGER, source TEXT NOT NULL DEFAULT 'steamcharts', UNIQUE(chart_date, rank));
CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, org_id INTEGER NOT NULL, user_id INTEGER NOT NULL, game_id INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'provisioning', stream_url TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE apps (id TEXT PRIMARY KEY, name TEXT NOT NULL, moonlight_name TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, sort_order INTEGER NOT NULL DEFAULT 100);
CREATE TABLE user_apps (user_id INTEGER NOT NULL, app_id TEXT NOT NULL, installed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, app_id));
CREATE TABLE user_settings (user_id INTEGER PRIMARY KEY, settings_json TEXT NOT NULL DEFAULT '{}');
`;

/** A user row exactly as the prototype writes it (§5.4). */
function legacyUser(name, password) {
  const b64 = (b) => Buffer.from(b).toString('base64url') + '='.repeat((4 - (Buffer.from(b).toString('base64url').length % 4)) % 4);
  const key = createHash('sha256').update(LEGACY).digest();
  const cipher = Buffer.from(Buffer.from(name.trim(), 'utf8').map((c, i) => c ^ key[i % 32]));
  const salt = randomBytes(16);
  return {
    digest: b64(createHmac('sha256', LEGACY).update(name.trim().toLowerCase()).digest()),
    cipher: b64(cipher),
    hash: b64(pbkdf2Sync(password, salt, 120_000, 32, 'sha256')),
    salt: b64(salt),
  };
}

function writeCouchDb(file) {
  // The prototype never turns foreign keys on (§5.1), so orphan rows exist; node:sqlite would.
  const db = new DatabaseSync(file, { enableForeignKeyConstraints: false });
  db.exec(COUCH_SCHEMA);
  db.exec(`INSERT INTO orgs (id, slug, name) VALUES (1, 'default', 'CouchSuite Default'), (2, 'lan-party', 'LAN Party');
    INSERT INTO games (id, slug, name, description, rating, cover_url) VALUES
      (1, 'steam_big_picture', 'Steam Big Picture', 'Launch your Steam library in Big Picture mode.', 4.5, 'https://cdn.couchsuite.local/steam_big_picture.png'),
      (2, 'retro_arcade', 'Retro Arcade Classics', 'Stream curated retro arcade experiences.', 4.7, NULL);
    INSERT INTO game_external_ids (game_id, platform, external_id) VALUES (1, 'steam', '1593500'), (2, 'arcade', 'arcade-group-2024');
    INSERT INTO cluster_nodes (id, org_id, name, region, capacity, status) VALUES (1, 2, 'lan-rig-a', 'eu-west', 4, 'active');
    INSERT INTO downloaded_games (org_id, node_id, game_id, install_path, launcher, executable) VALUES (2, 1, 2, '/var/couchsuite/retro_arcade', 'retro', 'retro-launcher');
    INSERT INTO apps (id, name, moonlight_name, enabled, sort_order) VALUES ('retro_arcade', 'Retro Arcade', 'Retro Arcade', 1, 3);
    INSERT INTO charts_top10 (chart_date, rank, name, steam_appid, game_id) VALUES ('2024-07-01', 1, 'Steam Big Picture', 1593500, 1);`);
  const insertUser = db.prepare('INSERT INTO users (id, username_digest, username_cipher, password_hash, password_salt, password_iterations) VALUES (?, ?, ?, ?, ?, 120000)');
  for (const [id, name] of [[1, 'Carla'], [2, 'dmitri']]) {
    const u = legacyUser(name, `${name}-couch-password-1`);
    insertUser.run(id, u.digest, u.cipher, u.hash, u.salt);
  }
  db.exec(`INSERT INTO memberships (org_id, user_id, role) VALUES (2, 1, 'owner'), (2, 2, 'member'), (2, 99, 'member'), (1, 2, 'superuser');
    INSERT INTO user_game_library (org_id, user_id, game_id, platform, external_id, ownership_source, proof_type, proof_value, verified_at) VALUES (2, 2, 2, 'arcade', 'arcade-group-2024', 'manual', 'receipt', 'R-123', '2026-11-22T01:58:01.374952');
    INSERT INTO user_settings (user_id, settings_json) VALUES (1, '{"theme":"dark"}'), (2, '[1,2]');
    INSERT INTO user_accounts (org_id, user_id, platform, account_id) VALUES (2, 1, 'steam', '76561197960287930');
    INSERT INTO sessions (org_id, user_id, game_id, status) VALUES (2, 1, 2, 'ready');`);
  db.close();
}

function writeStickyDump(file) {
  const h = (pw) => bcrypt.hashSync(pw, 4);
  writeFileSync(
    file,
    `--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';

COPY public.users (id, username, password_hash, role, created_at, updated_at) FROM stdin;
1\tnadia\t${h('nadia-dvr-password-1')}\tadmin\t2025-03-01 10:00:00.123456+00\t2025-03-01 10:00:00.123456+00
2\tOscar\t${h('oscar-dvr-password-1')}\tuser\t2025-03-02 11:00:00+00\t2025-03-02 11:00:00+00
3\toscar\t${h('second-oscar-password')}\tuser\t2025-03-03 12:00:00+00\t2025-03-03 12:00:00+00
\\.


COPY public.sessions (id, user_id, refresh_token, expires_at, created_at) FROM stdin;
6a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d\t2\tplain-refresh-token\t2025-03-03 11:00:00+00\t2025-03-02 11:00:00+00
\\.


COPY public.sources (id, driver, username, overseer_task_id, created_at) FROM stdin;
1\tchaturbate\talice\tt-1\t2025-03-02 11:05:00+00
2\tstripchat\tbella\t\\N\t2025-03-02 11:06:00+00
3\tchaturbate\t..\t\\N\t2025-03-02 11:07:00+00
\\.


COPY public.subscriptions (id, user_id, source_id, posture, created_at, updated_at) FROM stdin;
1\t2\t1\tactive\t2025-03-02 11:05:00+00\t2025-03-02 11:05:00+00
2\t2\t2\tpaused\t2025-03-02 11:06:00+00\t2025-03-04 09:00:00+00
3\t1\t1\tarchived\t2025-03-02 11:07:00+00\t2025-03-02 11:07:00+00
\\.


COPY public.worker_events (id, source_id, pid, event_type, exit_code, ts) FROM stdin;
1\t1\t4242\texited\t3\t2025-03-02 12:00:00.5+00
2\t1\t4243\tstarted\t\\N\t2025-03-02 12:00:31+00
\\.


COPY public.config (id, data) FROM stdin;
1\t{"resolution": 1080, "error_window": "five minutes", "error_threshold": 3, "bogus": true}
\\.


--
-- PostgreSQL database dump complete
--
`,
  );
}

/** Assertions read the local D1's SQLite file directly: one wrangler process per check would make
 * this file minutes slower. The importer itself goes through wrangler, as an operator's run does. */
function localD1() {
  const base = join(dir, 'state', 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const file = readdirSync(base).find((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  return new DatabaseSync(join(base, file), { readOnly: true });
}
const rows = async (sql) => {
  const db = localD1();
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
};
const count = async (sql) => (await rows(sql))[0].n;
const login = (path, username, password) =>
  fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'cf-connecting-ip': '198.51.100.20' }, body: JSON.stringify({ username, password }) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgeplane-import-test-'));
  writeCouchDb(join(dir, 'couch.db'));
  writeStickyDump(join(dir, 'dump.sql'));
  stack = await startStack({ port: await freePort(), persistTo: join(dir, 'state'), quiet: true, seed: false, nodeAgent: false });
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const args = (system, file, ...more) => [system, join(dir, file), '--persist-to', join(dir, 'state'), ...more];
const quiet = { log: () => {} };

describe('import couchserver', () => {
  it('writes nothing in a dry run, and reports what it would do', async () => {
    const lines = [];
    const r = await runImport(args('couchserver', 'couch.db'), { log: (l) => lines.push(l) });
    expect(await count('SELECT COUNT(*) AS n FROM users')).toBe(0);
    expect(r.create.filter((i) => i.kind === 'users').map((i) => i.label).sort()).toEqual(['Carla', 'dmitri']);
    expect(lines.join('\n')).toMatch(/Dry run/);
  });

  it('imports users, orgs, memberships, games, nodes, installs, apps, settings and pending library proofs', async () => {
    const r = await runImport(args('couchserver', 'couch.db', '--apply'), quiet);
    expect(await count("SELECT COUNT(*) AS n FROM memberships m JOIN orgs o ON o.id = m.org_id WHERE o.slug = 'lan-party'")).toBe(2);
    expect(await count("SELECT COUNT(*) AS n FROM games WHERE slug IN ('steam_big_picture', 'retro_arcade') AND cover_url IS NULL")).toBe(2);
    expect(await count("SELECT COUNT(*) AS n FROM cluster_nodes WHERE name = 'lan-rig-a' AND token_hash IS NULL")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM downloaded_games WHERE install_path = '/var/couchsuite/retro_arcade'")).toBe(1);
    // The prototype's ownership claims were never checked: they wait for an org admin.
    expect(await count("SELECT COUNT(*) AS n FROM library_proofs WHERE status = 'pending' AND kind = 'manual'")).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM user_game_library WHERE verified_at IS NOT NULL')).toBe(0);
    const refused = r.refused.map((i) => `${i.kind} ${i.label}`);
    expect(refused).toEqual(expect.arrayContaining(['memberships user #99 in org #2', 'memberships user #2 in org #1', 'user_settings user #2']));
    expect(r.skipped.map((i) => i.kind).sort()).toEqual(['charts_top10', 'sessions', 'user_accounts']);
  });

  it('lets a prototype user sign in with their old password and shows their name decoded', async () => {
    const res = await login('/auth/login', 'carla', 'Carla-couch-password-1');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.username).toBe('Carla');
    expect(await count("SELECT COUNT(*) AS n FROM users WHERE pass_hash LIKE '$scrypt$%'")).toBe(1);
  });

  it('changes nothing on a second run', async () => {
    const before = await count('SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM memberships) + (SELECT COUNT(*) FROM library_proofs) + (SELECT COUNT(*) FROM downloaded_games) AS n');
    const r = await runImport(args('couchserver', 'couch.db', '--apply'), quiet);
    expect(r.create).toEqual([]);
    expect(await count('SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM memberships) + (SELECT COUNT(*) FROM library_proofs) + (SELECT COUNT(*) FROM downloaded_games) AS n')).toBe(before);
  });

  it('refuses users whose names do not decode with the given legacy secret', async () => {
    const r = await runImport(args('couchserver', 'couch.db', '--legacy-secret', 'not-the-secret'), quiet);
    expect(r.refused.filter((i) => i.kind === 'users')).toHaveLength(2);
    expect(r.refused[0].refused).toMatch(/legacy secret/);
  });
});

describe('import sticky-dvr', () => {
  it('imports users with their bcrypt hashes, sources, subscriptions with posture, events and valid config keys', async () => {
    const r = await runImport(args('sticky-dvr', 'dump.sql', '--apply'), quiet);
    expect(await count("SELECT COUNT(*) AS n FROM sources WHERE driver || '/' || username IN ('chaturbate/alice', 'stripchat/bella')")).toBe(2);
    expect(await count("SELECT COUNT(*) AS n FROM subscriptions WHERE posture = 'paused'")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM worker_events WHERE event_type = 'exited' AND exit_code = 3")).toBe(1);
    const cfg = JSON.parse((await rows('SELECT data FROM config WHERE id = 1'))[0].data);
    expect(cfg).toEqual({ resolution: 1080, error_threshold: 3 });
    const refused = r.refused.map((i) => `${i.kind} ${i.label}: ${i.refused}`);
    expect(refused).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^users oscar: collides with "Oscar"/),
        expect.stringMatching(/^sources chaturbate\/\.\.: /),
        expect.stringMatching(/^config error_window: /),
        'config bogus: unknown key',
      ]),
    );
    expect(r.skipped.map((i) => i.kind)).toEqual(['sessions']);
  });

  it('lets a sticky-dvr admin sign in to the DVR dashboard with their old password, as admin', async () => {
    const res = await login('/api/auth/login', 'nadia', 'nadia-dvr-password-1');
    expect(res.status).toBe(200);
    expect((await res.json()).user).toMatchObject({ username: 'nadia', role: 'admin' });
  });

  it('changes nothing on a second run', async () => {
    const r = await runImport(args('sticky-dvr', 'dump.sql', '--apply'), quiet);
    expect(r.create).toEqual([]);
    expect(await count('SELECT COUNT(*) AS n FROM worker_events')).toBe(2);
  });
});
