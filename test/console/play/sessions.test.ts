import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { PLAY_SESSION_TOKEN_AUDIENCE, PLAY_SESSION_TOKEN_TYP } from '../../../src/console/play/stream-tokens';
import { call, json } from '../../support/http';
import { makeUser } from '../../support/users';
import { heartbeat, install, makeGame, member, onlineNode, own, playWorld, startSession, type SessionBody } from './helpers';

async function ready(opts: Parameters<typeof playWorld>[0] = {}) {
  const w = await playWorld(opts);
  const game = await makeGame();
  const alice = await member(w);
  await own(w.org.id, alice.id, game);
  return { w, game, alice };
}

describe('POST /sessions', () => {
  it('allocates a seat on a node that has the game and answers the contract SessionOut', async () => {
    const { w, game, alice } = await ready();
    const node = await onlineNode(w, [game]);
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(201);
    const s = await json<SessionBody>(res);
    expect(s).toMatchObject({ org_id: w.org.id, user_id: alice.id, game_id: game, status: 'provisioning', node_id: node.id, region: 'eu-west', end_reason: null });
    expect(Number.isSafeInteger(s.id) && s.id > 0).toBe(true);
    expect(s.stream_url).toMatch(new RegExp(`^https://${node.name}\\.stream\\.example/sessions/${s.id}\\?token=[A-Za-z0-9_.-]+$`));
    expect(typeof s.created_at).toBe('string');
    const row = await db(env).get<{ status: string; node_id: number }>(sql`SELECT status, node_id FROM play_sessions WHERE id = ${s.id}`);
    expect(row).toEqual({ status: 'provisioning', node_id: node.id });
  });

  it('signs a stream token that verifies offline against the published JWKS', async () => {
    const { w, game, alice } = await ready();
    const node = await onlineNode(w, [game]);
    const s = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
    const jwks = await json<JSONWebKeySet>(await call('GET', '/.well-known/jwks.json'));
    const token = new URL(s.stream_url!).searchParams.get('token')!;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      issuer: env.JWT_ISSUER,
      audience: PLAY_SESSION_TOKEN_AUDIENCE,
      typ: PLAY_SESSION_TOKEN_TYP,
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: String(s.id), node_id: node.id, org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
    // A tampered token does not verify.
    const [h, p, sig] = token.split('.');
    const forged = `${h}.${btoa(JSON.stringify({ ...payload, node_id: 999 })).replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_')}.${sig}`;
    await expect(jwtVerify(forged, createLocalJWKSet(jwks), { algorithms: ['ES256'] })).rejects.toThrow();
    expect(p).toBeTruthy();
  });

  it('refuses anonymous callers with 401', async () => {
    const { w, game, alice } = await ready();
    const res = await call('POST', '/sessions', { body: { org_id: w.org.id, user_id: alice.id, game_id: game } });
    expect(res.status).toBe(401);
  });

  it('refuses a user acting for another user of the org (403)', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game]);
    const bob = await member(w);
    const res = await startSession(bob, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('org_role_required');
  });

  it('lets an org admin start a session for a member', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game]);
    const res = await startSession(w.admin, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(201);
    expect((await json<SessionBody>(res)).user_id).toBe(alice.id);
  });

  it('refuses an admin of another org acting for a member (403)', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game]);
    const other = await playWorld();
    const res = await startSession(other.admin, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('not_org_member');
  });

  it('refuses a user who is not a member of the org (403 not_org_member)', async () => {
    const { w, game } = await ready();
    await onlineNode(w, [game]);
    const stranger = await makeUser();
    const res = await startSession(stranger, { org_id: w.org.id, user_id: stranger.id, game_id: game });
    expect(res.status).toBe(403);
    expect(await json(res)).toMatchObject({ error: 'user not in organization', code: 'not_org_member' });
  });

  it('refuses an org admin acting for someone who is not a member (403 not_org_member)', async () => {
    const { w, game } = await ready();
    const stranger = await makeUser();
    const res = await startSession(w.admin, { org_id: w.org.id, user_id: stranger.id, game_id: game });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('not_org_member');
  });

  it('answers 404 for an unknown game', async () => {
    const { w, alice } = await ready();
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: 987654 });
    expect(res.status).toBe(404);
    expect((await json(res)).code).toBe('game_not_found');
  });

  it('refuses a game the user does not own in the org (403 not_owned)', async () => {
    const { w, alice } = await ready();
    const other = await makeGame();
    await onlineNode(w, [other]);
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: other });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('not_owned');
  });

  it('refuses a library entry that is not verified (403 not_owned)', async () => {
    const { w } = await ready();
    const game = await makeGame();
    const bob = await member(w);
    await own(w.org.id, bob.id, game, false);
    await onlineNode(w, [game]);
    const res = await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('not_owned');
  });

  it('refuses ownership recorded in another org (403 not_owned)', async () => {
    const { w, game, alice } = await ready();
    const other = await playWorld();
    await db(env).run(sql`INSERT INTO memberships (org_id, user_id, role) VALUES (${other.org.id}, ${alice.id}, 'member')`);
    await onlineNode(other, [game]);
    const res = await startSession(alice, { org_id: other.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('not_owned');
    expect(w.org.id).not.toBe(other.org.id);
  });

  it('answers 409 not_installed when no node of the org has the game', async () => {
    const { w, game, alice } = await ready();
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ error: 'game not installed for organization', code: 'not_installed' });
  });

  it('does not count an install on another org’s node', async () => {
    const { w, game, alice } = await ready();
    const other = await playWorld();
    await onlineNode(other, [game]);
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(409);
  });

  it('answers 409 not_installed_in_region when the region is strict and only others have it', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game], { region: 'us-east' });
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game, region: 'eu-west', strict_region: true });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ error: 'game not installed in region', code: 'not_installed_in_region' });
  });

  it('answers 429 with Retry-After when every seat is taken', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game], { capacity: 1 });
    const bob = await member(w);
    await own(w.org.id, bob.id, game);
    expect((await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game })).status).toBe(201);
    const res = await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect((await json(res)).code).toBe('no_free_seat');
  });

  it('holds a user to the org’s per-user limit (429 session_limit)', async () => {
    const { w, game, alice } = await ready();
    const game2 = await makeGame();
    await own(w.org.id, alice.id, game2);
    await onlineNode(w, [game, game2], { capacity: 4 });
    expect((await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game })).status).toBe(201);
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game2 });
    expect(res.status).toBe(429);
    expect((await json(res)).code).toBe('session_limit');
    expect(res.headers.get('Retry-After')).toBeTruthy();
  });

  it('rejects malformed bodies with 400 and never a 500', async () => {
    const { w, alice } = await ready();
    for (const body of [
      {},
      { org_id: 'x', user_id: alice.id, game_id: 1 },
      { org_id: w.org.id, user_id: alice.id, game_id: 1.5 },
      { org_id: w.org.id, user_id: alice.id, game_id: -1 },
      { org_id: w.org.id, user_id: alice.id, game_id: 1, region: 'EU WEST' },
      { org_id: 2 ** 60, user_id: alice.id, game_id: 1 },
    ]) {
      const res = await startSession(alice, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    const raw = await call('POST', '/sessions', { token: alice.token, raw: '{not json', headers: { 'Content-Type': 'application/json' } });
    expect(raw.status).toBe(400);
    const badKey = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: 1 }, { 'Idempotency-Key': 'has space' });
    expect(badKey.status).toBe(400);
  });
});

describe('idempotency', () => {
  it('returns the same session for a repeat of the same request (launcher retries)', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game], { capacity: 4 });
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const first = await startSession(alice, body);
    const second = await startSession(alice, body);
    const third = await startSession(alice, body);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(third.status).toBe(200);
    expect(second.headers.get('Idempotent-Replayed')).toBe('true');
    const ids = await Promise.all([first, second, third].map(async (r) => (await json<SessionBody>(r)).id));
    expect(new Set(ids).size).toBe(1);
    const count = await db(env).get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM play_sessions WHERE user_id = ${alice.id}`);
    expect(count?.n).toBe(1);
  });

  it('returns the same session for parallel duplicates', async () => {
    const { w, game, alice } = await ready({ maxPerUser: 5 });
    await onlineNode(w, [game], { capacity: 5 });
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const all = await Promise.all(Array.from({ length: 10 }, () => startSession(alice, body)));
    expect(all.filter((r) => r.status === 201)).toHaveLength(1);
    expect(all.filter((r) => r.status === 200)).toHaveLength(9);
    const ids = new Set(await Promise.all(all.map(async (r) => (await json<SessionBody>(r)).id)));
    expect(ids.size).toBe(1);
  });

  it('honours Idempotency-Key: same key, same session, even after it ended', async () => {
    const { w, game, alice } = await ready({ maxPerUser: 3 });
    await onlineNode(w, [game], { capacity: 4 });
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const first = await json<SessionBody>(await startSession(alice, body, { 'Idempotency-Key': 'launch-1' }));
    await call('DELETE', `/sessions/${first.id}`, { token: alice.token });
    const again = await startSession(alice, body, { 'Idempotency-Key': 'launch-1' });
    expect(again.status).toBe(200);
    expect(await json<SessionBody>(again)).toMatchObject({ id: first.id, status: 'terminated', stream_url: null });
    const fresh = await startSession(alice, body, { 'Idempotency-Key': 'launch-2' });
    expect(fresh.status).toBe(201);
    expect((await json<SessionBody>(fresh)).id).not.toBe(first.id);
  });

  it('treats a new Idempotency-Key as a new request, even for the same game', async () => {
    const { w, game, alice } = await ready({ maxPerUser: 2 });
    await onlineNode(w, [game], { capacity: 4 });
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const a = await startSession(alice, body, { 'Idempotency-Key': 'tv-1' });
    const b = await startSession(alice, body, { 'Idempotency-Key': 'tv-2' });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect((await json<SessionBody>(a)).id).not.toBe((await json<SessionBody>(b)).id);
    const c = await startSession(alice, body, { 'Idempotency-Key': 'tv-3' });
    expect(c.status).toBe(429);
  });

  it('refuses an Idempotency-Key reused for another game (409)', async () => {
    const { w, game, alice } = await ready({ maxPerUser: 3 });
    const game2 = await makeGame();
    await own(w.org.id, alice.id, game2);
    await onlineNode(w, [game, game2], { capacity: 4 });
    await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }, { 'Idempotency-Key': 'k' });
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game2 }, { 'Idempotency-Key': 'k' });
    expect(res.status).toBe(409);
    expect((await json(res)).code).toBe('idempotency_key_reused');
  });

  it('allocates anew once the earlier session was deleted (no key)', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game], { capacity: 4 });
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const first = await json<SessionBody>(await startSession(alice, body));
    await call('DELETE', `/sessions/${first.id}`, { token: alice.token });
    const second = await startSession(alice, body);
    expect(second.status).toBe(201);
    expect((await json<SessionBody>(second)).id).not.toBe(first.id);
  });
});

describe('node choice', () => {
  it('prefers the requested region, then falls back to the org’s other regions', async () => {
    const { w, game, alice } = await ready({ maxPerUser: 5 });
    const us = await onlineNode(w, [game], { region: 'us-east', capacity: 5, name: 'a-us' });
    const eu = await onlineNode(w, [game], { region: 'eu-west', capacity: 1, name: 'b-eu' });
    const games = [game, await makeGame(), await makeGame()];
    for (const g of games.slice(1)) await own(w.org.id, alice.id, g);
    // Reinstall all three games on both nodes.
    for (const n of [us, eu]) await heartbeat(n.token, games.map((g) => install(g)));
    const a = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: games[0], region: 'eu-west' }));
    expect(a.node_id).toBe(eu.id);
    const b = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: games[1], region: 'eu-west' }));
    expect(b.node_id).toBe(us.id);
    expect(b.region).toBe('us-east');
  });

  it('spreads by load and packs by policy, ties broken by node id', async () => {
    for (const policy of ['spread', 'pack'] as const) {
      const w = await playWorld({ policy, maxPerUser: 1 });
      const game = await makeGame();
      const n1 = await onlineNode(w, [game], { capacity: 3 });
      const n2 = await onlineNode(w, [game], { capacity: 3 });
      const placed: number[] = [];
      for (let i = 0; i < 3; i++) {
        const u = await member(w);
        await own(w.org.id, u.id, game);
        const s = await json<SessionBody>(await startSession(u, { org_id: w.org.id, user_id: u.id, game_id: game }));
        placed.push(s.node_id!);
      }
      const [lo, hi] = n1.id < n2.id ? [n1.id, n2.id] : [n2.id, n1.id];
      expect(placed, policy).toEqual(policy === 'spread' ? [lo, hi, lo] : [lo, lo, lo]);
    }
  });

  it('gives no new sessions to a draining node', async () => {
    const { w, game, alice } = await ready();
    const node = await onlineNode(w, [game]);
    await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/drain`, { token: w.admin.token });
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(409);
    await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/activate`, { token: w.admin.token });
    expect((await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game })).status).toBe(201);
  });

  it('gives no new sessions to an offline node', async () => {
    const { w, game, alice } = await ready();
    const node = await onlineNode(w, [game]);
    await db(env).run(sql`UPDATE cluster_nodes SET last_seen = '2020-01-01T00:00:00.000Z' WHERE id = ${node.id}`);
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(409);
    expect((await json(res)).code).toBe('not_installed');
  });

  it('never uses a node with capacity 0 (installed, but no seat: 429)', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game], { capacity: 0 });
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(429);
    expect((await json(res)).code).toBe('no_free_seat');
  });
});

describe('GET and DELETE /sessions/{id}', () => {
  async function withSession() {
    const r = await ready();
    await onlineNode(r.w, [r.game]);
    const s = await json<SessionBody>(await startSession(r.alice, { org_id: r.w.org.id, user_id: r.alice.id, game_id: r.game }));
    return { ...r, s };
  }

  it('shows the session to its owner with a fresh stream URL', async () => {
    const { alice, s } = await withSession();
    const res = await call('GET', `/sessions/${s.id}`, { token: alice.token });
    expect(res.status).toBe(200);
    const got = await json<SessionBody>(res);
    expect(got).toMatchObject({ id: s.id, status: 'provisioning' });
    expect(got.stream_url).toContain(`/sessions/${s.id}?token=`);
  });

  it('shows the session to an org admin', async () => {
    const { w, s } = await withSession();
    expect((await call('GET', `/sessions/${s.id}`, { token: w.admin.token })).status).toBe(200);
  });

  it('stream capability leak: an org admin’s GET of a member’s session carries no signed stream_url', async () => {
    const { w, s } = await withSession();
    const got = await json<SessionBody>(await call('GET', `/sessions/${s.id}`, { token: w.admin.token }));
    expect(got).toMatchObject({ id: s.id, status: 'provisioning', stream_url: null, stream_token_expires_at: null });
    expect(JSON.stringify(got)).not.toContain('token=');
  });

  it('stream capability leak: a platform admin’s GET of another user’s session carries no signed stream_url', async () => {
    const { s } = await withSession();
    const platform = await makeUser({ role: 'admin' });
    const res = await call('GET', `/sessions/${s.id}`, { token: platform.token });
    expect(res.status).toBe(200);
    expect(await json<SessionBody>(res)).toMatchObject({ id: s.id, stream_url: null, stream_token_expires_at: null });
  });

  it('stream capability leak: an org admin starting (or replaying) a session for a member gets no stream_url; the member does', async () => {
    const { w, game, alice } = await ready();
    await onlineNode(w, [game]);
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const first = await startSession(w.admin, body, { 'Idempotency-Key': 'for-alice' });
    expect(first.status).toBe(201);
    const created = await json<SessionBody>(first);
    expect(created.stream_url).toBeNull();
    const replay = await startSession(w.admin, body, { 'Idempotency-Key': 'for-alice' });
    expect(replay.status).toBe(200);
    expect((await json<SessionBody>(replay)).stream_url).toBeNull();
    const mine = await json<SessionBody>(await call('GET', `/sessions/${created.id}`, { token: alice.token }));
    expect(mine.stream_url).toContain(`/sessions/${created.id}?token=`);
  });

  it('hides the session from other members, other orgs and anonymous callers', async () => {
    const { w, s } = await withSession();
    const bob = await member(w);
    const other = await playWorld();
    expect((await call('GET', `/sessions/${s.id}`, { token: bob.token })).status).toBe(404);
    expect((await call('GET', `/sessions/${s.id}`, { token: other.admin.token })).status).toBe(404);
    expect((await call('GET', `/sessions/${s.id}`)).status).toBe(401);
    expect((await call('DELETE', `/sessions/${s.id}`, { token: bob.token })).status).toBe(404);
    expect((await call('DELETE', `/sessions/${s.id}`, { token: other.admin.token })).status).toBe(404);
    expect((await call('DELETE', `/sessions/${s.id}`)).status).toBe(401);
    expect((await call('GET', `/sessions/abc`, { token: bob.token })).status).toBe(400);
    expect((await call('GET', `/sessions/123456789`, { token: bob.token })).status).toBe(404);
  });

  it('terminates on DELETE, frees the seat, and repeats harmlessly', async () => {
    const { w, game, alice, s } = await withSession();
    const bob = await member(w);
    await own(w.org.id, bob.id, game);
    const carol = await member(w);
    await own(w.org.id, carol.id, game);
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(201);
    expect((await startSession(carol, { org_id: w.org.id, user_id: carol.id, game_id: game })).status).toBe(429);
    const del = await call('DELETE', `/sessions/${s.id}`, { token: alice.token });
    expect(del.status).toBe(200);
    expect(await json<SessionBody>(del)).toMatchObject({ id: s.id, status: 'terminated', stream_url: null, end_reason: 'deleted' });
    const again = await call('DELETE', `/sessions/${s.id}`, { token: alice.token });
    expect(again.status).toBe(200);
    expect((await json<SessionBody>(again)).status).toBe('terminated');
    expect((await startSession(carol, { org_id: w.org.id, user_id: carol.id, game_id: game })).status).toBe(201);
    const row = await db(env).get<{ status: string; ended_at: string | null }>(sql`SELECT status, ended_at FROM play_sessions WHERE id = ${s.id}`);
    expect(row?.status).toBe('terminated');
    expect(row?.ended_at).toBeTruthy();
  });

  it('lets an org admin terminate a member’s session', async () => {
    const { w, s } = await withSession();
    const res = await call('DELETE', `/sessions/${s.id}`, { token: w.admin.token });
    expect(res.status).toBe(200);
    expect((await json<SessionBody>(res)).status).toBe('terminated');
  });
});
