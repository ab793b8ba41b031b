/**
 * The allocation facts the OrgAllocator keeps in memory (src/console/play/facts.ts): every writer
 * that can take a permission away, or change a node or the org's policy, drops them before it
 * answers, so the very next `POST /sessions` refuses. Each test first fills the cache with an
 * allocation (and ends it, freeing the seat), then writes through the API, then asks again.
 */
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { forgetPlayFacts } from '../../../src/console/play/facts';
import { call, json } from '../../support/http';
import { heartbeat, makeGame, member, onlineNode, own, playWorld, startSession, worldClock, type SessionBody } from './helpers';

const clock = worldClock();

async function cached(opts: Parameters<typeof playWorld>[0] = {}) {
  const w = await playWorld(opts);
  const game = await makeGame();
  const alice = await member(w);
  await own(w.org.id, alice.id, game);
  const node = await onlineNode(w, [game]);
  const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
  // Fills the allocator's facts; the seat is handed back so the next request is only about the facts.
  const first = await startSession(alice, body, { 'Idempotency-Key': 'fill' });
  expect(first.status).toBe(201);
  const s = await json<SessionBody>(first);
  expect((await call('DELETE', `/sessions/${s.id}`, { token: alice.token })).status).toBe(200);
  const again = (key: string, who = alice) => startSession(who, body, { 'Idempotency-Key': key });
  return { w, game, alice, node, body, again };
}

describe('POST /sessions after a writer changed the allocation facts', () => {
  it('still allocates from the cached facts when nothing changed', async () => {
    const { again } = await cached();
    expect((await again('second')).status).toBe(201);
  });

  it('refuses a member removed from the org', async () => {
    const { w, alice, again } = await cached();
    expect((await call('DELETE', `/orgs/${w.org.id}/members/${alice.id}`, { token: w.admin.token })).status).toBe(200);
    const res = await again('after-removal');
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('not_org_member');
  });

  // The acting admin's own role is part of the caller check (D1, in the request's batch), not cached.
  it('refuses an admin demoted to member acting for someone else', async () => {
    const { w, alice, body } = await cached();
    const bob = await member(w, 'admin');
    const forAlice = await startSession(bob, body, { 'Idempotency-Key': 'for-alice' });
    expect(forAlice.status).toBe(201);
    expect((await call('DELETE', `/sessions/${(await json<SessionBody>(forAlice)).id}`, { token: alice.token })).status).toBe(200);
    expect((await call('PUT', `/orgs/${w.org.id}/members/${bob.id}`, { token: w.admin.token, body: { role: 'member' } })).status).toBe(200);
    const res = await startSession(bob, body, { 'Idempotency-Key': 'for-alice-2' });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('org_role_required');
  });

  it('refuses a game whose entitlement an admin revoked (proof rejected)', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const alice = await member(w);
    await onlineNode(w, [game]);
    const receipt = { store: 'shop', order_id: 'A-1', purchased_at: '2026-01-02' };
    const entry = await json<{ id: number }>(
      await call('POST', `/users/${alice.id}/library/proofs`, { token: alice.token, body: { kind: 'manual', org_id: w.org.id, game_id: game, receipt } }),
    );
    expect((await call('POST', `/orgs/${w.org.id}/library/${entry.id}/verify`, { token: w.admin.token, body: { kind: 'manual' } })).status).toBe(200);
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const first = await json<SessionBody>(await startSession(alice, body, { 'Idempotency-Key': 'fill' }));
    expect(first.status).toBe('provisioning');
    await call('DELETE', `/sessions/${first.id}`, { token: alice.token });
    expect((await call('POST', `/orgs/${w.org.id}/library/${entry.id}/reject`, { token: w.admin.token, body: { kind: 'manual' } })).status).toBe(200);
    const res = await startSession(alice, body, { 'Idempotency-Key': 'after-reject' });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('not_owned');
  });

  it('refuses a node drained by an admin', async () => {
    const { w, node, again } = await cached();
    expect((await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/drain`, { token: w.admin.token })).status).toBe(200);
    const res = await again('after-drain');
    expect(res.status).toBe(409);
    expect((await json(res)).code).toBe('not_installed');
  });

  it('refuses a node deleted by an admin', async () => {
    const { w, node, again } = await cached();
    expect((await call('DELETE', `/orgs/${w.org.id}/nodes/${node.id}`, { token: w.admin.token })).status).toBe(200);
    expect((await again('after-delete')).status).toBe(409);
  });

  it('refuses a node that stopped heartbeating (offline), and takes it back when it heartbeats again', async () => {
    const { node, game, again } = await cached();
    clock.advance(31_000);
    expect((await again('offline')).status).toBe(409);
    expect((await heartbeat(node.token, [{ game_id: game, install_path: '/g', proof: { path: '/g/run', sha256: 'a'.repeat(64), size: 1, mtime: '2026-11-20T10:00:00Z' } }])).status).toBe(200);
    expect((await again('online-again')).status).toBe(201);
  });

  it('refuses a game the node no longer reports installed', async () => {
    const { node, again } = await cached();
    expect((await heartbeat(node.token, [])).status).toBe(200);
    expect((await again('uninstalled')).status).toBe(409);
  });

  it('applies a per-user limit lowered in the org policy', async () => {
    const { w, again } = await cached({ maxPerUser: 2 });
    expect((await again('one')).status).toBe(201);
    // No API writes the policy yet; whatever does must call forgetPlayFacts before answering.
    await db(env).run(sql`UPDATE orgs SET max_sessions_per_user = 1 WHERE id = ${w.org.id}`);
    await forgetPlayFacts(env, w.org.id);
    const res = await again('two');
    expect(res.status).toBe(429);
    expect((await json(res)).code).toBe('session_limit');
  });
});
