// CouchServer prototype (`couch.db`, SQLite; contract console-api.md §5) → Edgeplane.
//
// Usernames: the prototype's `username_cipher` is the name XORed with SHA-256(secret); it is
// decoded with the prototype's secret (its known fallback `couchsuite-secret` unless given), checked
// against the prototype's own HMAC digest, and stored the Edgeplane way (HMAC digest + AES-GCM).
// Passwords: PBKDF2-SHA256 hashes are kept and upgraded at the next login.
// What the prototype never checked is not trusted: library claims arrive as pending manual proofs
// for an org admin to review, store links are left behind (players link Steam again), nodes come
// without a token (an org admin enrols or rotates them).
import { createHash, createHmac } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { expr, gameId, insert, isoUtc, lit, nodeId, orgId, userId } from './sql.mjs';

export const LEGACY_FALLBACK_SECRET = 'couchsuite-secret';

/** The prototype's username "encryption" undone: XOR with the repeating SHA-256(secret). */
export function decodeLegacyUsername(cipher, secret) {
  const key = createHash('sha256').update(secret, 'utf8').digest();
  const bytes = Buffer.from(cipher, 'base64url');
  return Buffer.from(bytes.map((b, i) => b ^ key[i % key.length])).toString('utf8');
}

export function legacyDigest(username, secret) {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(username.trim().toLowerCase(), 'utf8').digest('base64url') + '=';
}

const SETTINGS_MAX_BYTES = 16 * 1024;
const ROLES = new Set(['owner', 'admin', 'member']);
const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function tableRows(db, table) {
  const exists = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
  return exists ? db.prepare(`SELECT * FROM ${table}`).all() : [];
}

/**
 * @param {import('./plan.mjs').Plan} plan
 * @param {{ file: string, legacySecret?: string, keys: import('../../src/auth/usernames').UsernameKeys }} o
 */
export async function planCouchserver(plan, { file, legacySecret = LEGACY_FALLBACK_SECRET, keys }) {
  const db = new DatabaseSync(file, { readOnly: true });
  const userDigest = new Map();
  const orgSlug = new Map();
  const gameSlug = new Map();
  const nodeKey = new Map();

  for (const u of tableRows(db, 'users')) {
    const name = decodeLegacyUsername(String(u.username_cipher), legacySecret).trim();
    if (legacyDigest(name, legacySecret) !== String(u.username_digest).replace(/=*$/, '=')) {
      plan.refuse('users', `#${u.id}`, 'the username does not decode with the given legacy secret (pass --legacy-secret)');
      continue;
    }
    if (!/^\d+$/.test(String(u.password_iterations)) || !u.password_hash || !u.password_salt) {
      plan.refuse('users', name, 'password hash columns are incomplete');
      continue;
    }
    const digest = await keys.digest(name);
    if ([...userDigest.values()].includes(digest)) {
      plan.refuse('users', name, 'collides with another prototype user after normalisation');
      continue;
    }
    userDigest.set(u.id, digest);
    plan.add({
      kind: 'users',
      key: digest,
      label: name,
      sql: insert('users', {
        username_digest: digest,
        username_enc: await keys.encrypt(name.normalize('NFKC'), digest),
        pass_hash: `$pbkdf2-sha256$i=${u.password_iterations}$${u.password_salt}$${u.password_hash}`,
        role: 'user',
        created_at: isoUtc(u.created_at) ?? new Date().toISOString(),
      }),
    });
  }

  for (const o of tableRows(db, 'orgs')) {
    if (!SLUG.test(String(o.slug))) {
      plan.refuse('orgs', String(o.slug), 'slug is not lowercase letters, digits, "-" or "_" (at most 64)');
      continue;
    }
    orgSlug.set(o.id, o.slug);
    plan.add({ kind: 'orgs', key: o.slug, label: o.slug, sql: insert('orgs', { slug: o.slug, name: String(o.name).slice(0, 200), created_at: isoUtc(o.created_at) }) });
  }

  for (const m of tableRows(db, 'memberships')) {
    const [slug, digest] = [orgSlug.get(m.org_id), userDigest.get(m.user_id)];
    const label = `user #${m.user_id} in org #${m.org_id}`;
    if (!slug || !digest) plan.refuse('memberships', label, 'its org or user is not imported (the prototype kept orphan rows)');
    else if (!ROLES.has(m.role)) plan.refuse('memberships', label, `unknown role "${m.role}"`);
    else plan.add({ kind: 'memberships', key: `${slug}|${digest}`, label, needs: [['orgs', slug], ['users', digest]], sql: insert('memberships', { org_id: expr(orgId(slug)), user_id: expr(userId(digest)), role: m.role }) });
  }

  for (const g of tableRows(db, 'games')) {
    if (!SLUG.test(String(g.slug))) {
      plan.refuse('games', String(g.slug), 'slug is not lowercase letters, digits, "-" or "_"');
      continue;
    }
    gameSlug.set(g.id, g.slug);
    // The prototype's cover URLs point at a placeholder host; covers are uploaded again into R2.
    const cover = typeof g.cover_url === 'string' && /^https:\/\//.test(g.cover_url) && !/\.local(\/|$)/.test(new URL(g.cover_url).host) ? g.cover_url : null;
    plan.add({
      kind: 'games',
      key: g.slug,
      label: g.slug,
      sql: insert('games', { slug: g.slug, name: String(g.name).slice(0, 200), description: g.description ?? null, rating: typeof g.rating === 'number' ? g.rating : null, cover_url: cover, created_at: isoUtc(g.created_at) }),
    });
  }

  for (const x of tableRows(db, 'game_external_ids')) {
    const slug = gameSlug.get(x.game_id);
    const label = `${x.platform}:${x.external_id}`;
    if (!slug) plan.refuse('game_external_ids', label, 'its game is not imported');
    else plan.add({ kind: 'game_external_ids', key: `${x.platform}|${x.external_id}`, label, needs: [['games', slug]], sql: insert('game_external_ids', { game_id: expr(gameId(slug)), platform: x.platform, external_id: String(x.external_id) }) });
  }

  for (const r of tableRows(db, 'game_ratings')) {
    const slug = gameSlug.get(r.game_id);
    if (!slug) continue;
    const key = `${slug}|${r.source ?? ''}`;
    plan.add({
      kind: 'game_ratings',
      key,
      label: key,
      needs: [['games', slug]],
      sql: `INSERT INTO game_ratings (game_id, source, score, details) SELECT ${gameId(slug)}, ${lit(r.source)}, ${lit(r.score)}, ${lit(r.details)} WHERE NOT EXISTS (SELECT 1 FROM game_ratings WHERE game_id = ${gameId(slug)} AND source IS ${lit(r.source)});`,
    });
  }

  for (const a of tableRows(db, 'apps')) {
    plan.add({ kind: 'apps', key: String(a.id), label: String(a.id), sql: insert('apps', { id: String(a.id), name: a.name, moonlight_name: a.moonlight_name, enabled: a.enabled ? 1 : 0, sort_order: Number(a.sort_order ?? 100) }) });
  }
  for (const ua of tableRows(db, 'user_apps')) {
    const digest = userDigest.get(ua.user_id);
    const label = `user #${ua.user_id} app ${ua.app_id}`;
    if (!digest) plan.refuse('user_apps', label, 'its user is not imported');
    else plan.add({ kind: 'user_apps', key: `${digest}|${ua.app_id}`, label, needs: [['users', digest], ['apps', String(ua.app_id)]], sql: insert('user_apps', { user_id: expr(userId(digest)), app_id: String(ua.app_id), installed: ua.installed ? 1 : 0 }) });
  }

  for (const s of tableRows(db, 'user_settings')) {
    const digest = userDigest.get(s.user_id);
    const label = `user #${s.user_id}`;
    let parsed = null;
    try {
      parsed = JSON.parse(s.settings_json);
    } catch {}
    if (!digest) plan.refuse('user_settings', label, 'its user is not imported');
    else if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) plan.refuse('user_settings', label, 'settings are not a JSON object');
    else if (Buffer.byteLength(s.settings_json) > SETTINGS_MAX_BYTES) plan.refuse('user_settings', label, 'settings are larger than 16 KiB');
    else plan.add({ kind: 'user_settings', key: digest, label, needs: [['users', digest]], sql: insert('user_settings', { user_id: expr(userId(digest)), settings_json: JSON.stringify(parsed) }) });
  }

  for (const n of tableRows(db, 'cluster_nodes')) {
    const slug = orgSlug.get(n.org_id);
    const label = `${n.name} (org #${n.org_id})`;
    if (!slug) {
      plan.refuse('cluster_nodes', label, 'its org is not imported');
      continue;
    }
    nodeKey.set(n.id, [slug, n.name]);
    plan.add({
      kind: 'cluster_nodes',
      key: `${slug}|${n.name}`,
      label,
      needs: [['orgs', slug]],
      // No token: the prototype had none. An org admin enrols the node (or rotates its token).
      sql: insert('cluster_nodes', { org_id: expr(orgId(slug)), name: n.name, region: n.region ?? null, capacity: Number.isInteger(n.capacity) ? n.capacity : null, status: n.status === 'draining' ? 'draining' : 'active' }),
    });
  }

  for (const d of tableRows(db, 'downloaded_games')) {
    const node = nodeKey.get(d.node_id);
    const slug = gameSlug.get(d.game_id);
    const label = `game #${d.game_id} on node #${d.node_id}`;
    if (!node || !slug) plan.refuse('installs', label, 'its node or game is not imported');
    else
      plan.add({
        kind: 'installs',
        key: `${node[0]}|${node[1]}|${slug}`,
        label,
        needs: [['cluster_nodes', `${node[0]}|${node[1]}`], ['games', slug]],
        sql: insert('downloaded_games', { org_id: expr(orgId(node[0])), node_id: expr(nodeId(node[0], node[1])), game_id: expr(gameId(slug)), install_path: String(d.install_path), launcher: d.launcher ?? null, executable: d.executable ?? null, last_seen: isoUtc(d.last_seen) }),
      });
  }

  for (const l of tableRows(db, 'user_game_library')) {
    const [slug, digest, game] = [orgSlug.get(l.org_id), userDigest.get(l.user_id), gameSlug.get(l.game_id)];
    const label = `user #${l.user_id} game #${l.game_id} in org #${l.org_id}`;
    if (!slug || !digest || !game) {
      plan.refuse('library', label, 'its org, user or game is not imported');
      continue;
    }
    const now = new Date().toISOString();
    const entry = `(SELECT id FROM user_game_library WHERE org_id = ${orgId(slug)} AND user_id = ${userId(digest)} AND game_id = ${gameId(game)})`;
    const receipt = {
      store: String(l.ownership_source || 'unknown').slice(0, 64),
      order_id: String(l.proof_value || l.external_id || 'legacy import').slice(0, 128),
      purchased_at: (isoUtc(l.verified_at) ?? now).slice(0, 10),
      note: 'Imported from CouchServer, which recorded this claim without checking it.',
    };
    plan.add({
      kind: 'library',
      key: `${slug}|${digest}|${game}`,
      label,
      needs: [['orgs', slug], ['users', digest], ['games', game]],
      sql: [
        insert('user_game_library', { org_id: expr(orgId(slug)), user_id: expr(userId(digest)), game_id: expr(gameId(game)), platform: l.platform ?? null, external_id: l.external_id ?? null, ownership_source: 'manual', created_at: now, updated_at: now }),
        // Pending until an org admin reviews it: the prototype's claims were never verified.
        `INSERT INTO library_proofs (entry_id, kind, proof_json, status, created_at, updated_at) SELECT ${entry}, 'manual', ${lit(JSON.stringify({ receipt }))}, 'pending', ${lit(now)}, ${lit(now)} WHERE ${entry} IS NOT NULL ON CONFLICT DO NOTHING;`,
      ],
    });
  }

  const accounts = tableRows(db, 'user_accounts').length;
  if (accounts) plan.note('user_accounts', `${accounts} row(s)`, 'store links were never verified by the prototype: players link Steam again');
  const sessions = tableRows(db, 'sessions').length;
  if (sessions) plan.note('sessions', `${sessions} row(s)`, 'play sessions are live state, not history');
  const charts = tableRows(db, 'charts_top10').length;
  if (charts) plan.note('charts_top10', `${charts} row(s)`, 'the daily scrape rebuilds the chart');
  db.close();

  plan.keys('users', 'SELECT username_digest AS k FROM users');
  plan.keys('orgs', 'SELECT slug AS k FROM orgs');
  plan.keys('memberships', "SELECT o.slug || '|' || u.username_digest AS k FROM memberships m JOIN orgs o ON o.id = m.org_id JOIN users u ON u.id = m.user_id");
  plan.keys('games', 'SELECT slug AS k FROM games');
  plan.keys('game_external_ids', "SELECT platform || '|' || external_id AS k FROM game_external_ids");
  plan.keys('game_ratings', "SELECT g.slug || '|' || COALESCE(r.source, '') AS k FROM game_ratings r JOIN games g ON g.id = r.game_id");
  plan.keys('apps', 'SELECT id AS k FROM apps');
  plan.keys('user_apps', "SELECT u.username_digest || '|' || a.app_id AS k FROM user_apps a JOIN users u ON u.id = a.user_id");
  plan.keys('user_settings', 'SELECT u.username_digest AS k FROM user_settings s JOIN users u ON u.id = s.user_id');
  plan.keys('cluster_nodes', "SELECT o.slug || '|' || n.name AS k FROM cluster_nodes n JOIN orgs o ON o.id = n.org_id");
  plan.keys('installs', "SELECT o.slug || '|' || n.name || '|' || g.slug AS k FROM downloaded_games d JOIN cluster_nodes n ON n.id = d.node_id JOIN orgs o ON o.id = d.org_id JOIN games g ON g.id = d.game_id");
  plan.keys('library', "SELECT o.slug || '|' || u.username_digest || '|' || g.slug AS k FROM user_game_library l JOIN orgs o ON o.id = l.org_id JOIN users u ON u.id = l.user_id JOIN games g ON g.id = l.game_id");
}
