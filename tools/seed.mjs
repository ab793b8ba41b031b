// Seeds the account-bound demo data through the public API, as real clients would: the first
// admin (its password printed once), a demo member, org memberships, game covers (our own
// generated art), a cluster node (its token kept for the local node agent), a verified library and
// a few DVR subscriptions. Every step is idempotent; state is kept next to the local database in
// `demo-credentials.json` (local development only).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coverPng } from './png.mjs';

const WORDS = ['amber', 'brisk', 'cobalt', 'delta', 'ember', 'fjord', 'glade', 'harbor', 'ivory', 'juniper', 'kelp', 'lumen', 'maple', 'nova', 'opal', 'pixel', 'quartz', 'raven', 'sable', 'tundra'];
const passphrase = () => Array.from(randomBytes(4), (b) => WORDS[b % WORDS.length]).join('-') + '-' + randomBytes(2).toString('hex');

/** One JSON call to the local API: `{ status, ok, data }` (data null for an empty or non-JSON body). */
export async function api(url, method, path, { token, body, raw, contentType } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (contentType) headers['Content-Type'] = contentType;
  const res = await fetch(url + path, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, ok: res.ok, data };
}

export async function seedDemo({ url, persistTo, adminPassword, log = console.log }) {
  const file = join(persistTo, 'demo-credentials.json');
  const creds = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const save = () => writeFileSync(file, JSON.stringify(creds, null, 2), { mode: 0o600 });
  const warn = (step, r) => log(`seed: ${step} answered ${r.status} ${r.data?.error ?? ''} (skipped)`);

  const exists = await api(url, 'GET', '/users/exists');
  if (!exists.data?.has_users) {
    const password = adminPassword ?? passphrase();
    const r = await api(url, 'POST', '/users', { body: { username: 'admin', password } });
    if (!r.ok) throw new Error(`creating the first admin failed: ${r.status} ${JSON.stringify(r.data)}`);
    creds.admin = { username: 'admin', password };
    save();
    console.log(`\n  ┌─ Demo admin account (shown once) ───────────────\n  │ username: admin\n  │ password: ${password}\n  └─────────────────────────────────────────────────\n`);
  } else if (!creds.admin) {
    log('seed: accounts already exist and their passwords are not known here; skipping account-bound demo data');
    return null;
  }
  const login = async (who) => (await api(url, 'POST', '/auth/login', { body: { username: who.username, password: who.password } })).data;
  const admin = await login(creds.admin);
  if (!admin?.token) throw new Error('the demo admin could not sign in (was its password changed?)');
  const token = admin.token;

  if (!creds.player) {
    const player = { username: 'player1', password: passphrase() };
    const r = await api(url, 'POST', '/users', { token, body: player });
    if (r.ok) {
      creds.player = player;
      save();
      console.log(`  Demo member account: player1 / ${player.password}\n`);
    } else warn('creating player1', r);
  }
  const player = creds.player ? await login(creds.player) : null;

  // Orgs and memberships.
  const orgs = await api(url, 'GET', '/orgs', { token });
  const bySlug = Object.fromEntries((Array.isArray(orgs.data) ? orgs.data : []).map((o) => [o.slug, o.id]));
  const defaultOrg = bySlug.default;
  if (defaultOrg) {
    for (const [orgSlug, userId, role] of [
      ['default', admin.user_id, 'owner'],
      ['acme', admin.user_id, 'owner'],
      ['default', player?.user_id, 'member'],
    ]) {
      if (!userId || !bySlug[orgSlug]) continue;
      const r = await api(url, 'POST', `/orgs/${bySlug[orgSlug]}/members`, { token, body: { user_id: userId, role } });
      if (!r.ok && r.status !== 409) warn(`adding user ${userId} to ${orgSlug}`, r);
    }
  } else warn('listing orgs', orgs);

  // Covers: generated art, uploaded through the real cover route.
  const games = await api(url, 'GET', '/games?limit=100', { token });
  const list = Array.isArray(games.data) ? games.data : (games.data?.items ?? games.data?.games ?? []);
  for (const g of list) {
    if (g.cover_url) continue;
    const r = await api(url, 'PUT', `/games/${g.id}/cover`, { token, raw: coverPng(g.slug), contentType: 'image/png' });
    if (!r.ok) warn(`uploading the cover of ${g.slug}`, r);
  }

  // A cluster node for the default org; its token is shown once, so it is kept for the agent.
  if (defaultOrg && !creds.node) {
    const r = await api(url, 'POST', `/orgs/${defaultOrg}/nodes`, {
      token,
      body: { name: 'living-room-rig', region: 'us-east', capacity: 4, stream_base_url: 'https://stream.localhost/' },
    });
    if (r.ok && (r.data?.token || r.data?.node_token)) {
      const installsFile = join(persistTo, 'demo-node-installs.json');
      const slugs = ['counter-strike-2', 'dota-2', 'rust', 'baldurs-gate-3', 'helldivers-2', 'steam_big_picture', 'retro_arcade'];
      const installs = list
        .filter((g) => slugs.includes(g.slug))
        .map((g) => ({
          game_id: g.id,
          install_path: `/srv/games/${g.slug}`,
          launcher: 'steam',
          executable: `/srv/games/${g.slug}/${g.slug}.exe`,
          proof: { path: `/srv/games/${g.slug}/${g.slug}.exe`, sha256: randomBytes(32).toString('hex'), size: 1048576 + g.id, mtime: '2026-11-01T10:00:00Z' },
        }));
      writeFileSync(installsFile, JSON.stringify(installs, null, 2));
      creds.node = { id: r.data.id ?? r.data.node?.id, token: r.data.token ?? r.data.node_token, installsFile };
      save();
    } else warn('registering the demo node', r);
  }

  // The member owns a few games (manual receipts, approved by the org admin).
  if (player && defaultOrg && !creds.libraryDone) {
    const owned = list.filter((g) => ['counter-strike-2', 'rust', 'baldurs-gate-3', 'dota-2'].includes(g.slug));
    let ok = owned.length > 0;
    for (const g of owned) {
      const p = await api(url, 'POST', `/users/${player.user_id}/library/proofs`, {
        token: player.token,
        body: { org_id: defaultOrg, game_id: g.id, kind: 'manual', receipt: { store: 'Demo Store', order_id: `DEMO-${g.id}`, purchased_at: '2026-10-01' } },
      });
      const entryId = p.data?.entry_id ?? p.data?.id ?? p.data?.entry?.id;
      if (!p.ok || !entryId) {
        warn(`recording a proof for ${g.slug}`, p);
        ok = false;
        continue;
      }
      const v = await api(url, 'POST', `/orgs/${defaultOrg}/library/${entryId}/verify`, { token, body: { kind: 'manual', note: 'demo receipt' } });
      if (!v.ok) {
        warn(`verifying ${g.slug}`, v);
        ok = false;
      }
    }
    if (ok) {
      creds.libraryDone = true;
      save();
    }
  }

  // DVR subscriptions (re-subscribing is idempotent by contract).
  for (const [who, driver, username] of [
    [admin, 'chaturbate', 'alice'],
    [admin, 'stripchat', 'bella'],
    [player, 'chaturbate', 'alice'],
    [player, 'cam4', 'carol'],
  ]) {
    if (!who) continue;
    const r = await api(url, 'POST', '/api/subscriptions', { token: who.token, body: { driver, username } });
    if (!r.ok) warn(`subscribing to ${driver}/${username}`, r);
  }
  log('demo data ready');
  return creds;
}
