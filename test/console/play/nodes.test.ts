import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { sha256Hex } from '../../../src/world';
import { call, json } from '../../support/http';
import { heartbeat, install, makeGame, member, onlineNode, own, playWorld, registerNode, startSession, type SessionBody, playingSession } from './helpers';

interface NodeBody {
  id: number;
  org_id: number;
  name: string;
  region: string;
  capacity: number;
  status: string;
  online: boolean;
  last_seen: string | null;
  agent_status: string | null;
  stream_base_url: string;
  has_token: boolean;
  live_sessions: number;
  installs: number;
}

const nodeBody = { name: 'rack-a-01', region: 'eu-west', capacity: 4, stream_base_url: 'https://a01.stream.example' };

describe('node registration', () => {
  it('registers a node, shows its token once and stores only its hash', async () => {
    const w = await playWorld();
    const res = await call('POST', `/orgs/${w.org.id}/nodes`, { token: w.admin.token, body: nodeBody });
    expect(res.status).toBe(201);
    const body = await json<{ node: NodeBody; token: string }>(res);
    expect(body.token).toMatch(/^epn_[A-Za-z0-9_-]{43}$/);
    expect(body.node).toMatchObject({ ...nodeBody, org_id: w.org.id, status: 'active', online: false, has_token: true, live_sessions: 0, installs: 0 });
    const row = await db(env).get<{ token_hash: string }>(sql`SELECT token_hash FROM cluster_nodes WHERE id = ${body.node.id}`);
    expect(row?.token_hash).toBe(await sha256Hex(body.token));
    const list = await json<NodeBody[]>(await call('GET', `/orgs/${w.org.id}/nodes`, { token: w.admin.token }));
    expect(JSON.stringify(list)).not.toContain(body.token);
    expect(JSON.stringify(list)).not.toContain(row!.token_hash);
  });

  it('refuses a duplicate name in the same org (409) but allows it in another org', async () => {
    const w = await playWorld();
    expect((await call('POST', `/orgs/${w.org.id}/nodes`, { token: w.admin.token, body: nodeBody })).status).toBe(201);
    const dup = await call('POST', `/orgs/${w.org.id}/nodes`, { token: w.admin.token, body: nodeBody });
    expect(dup.status).toBe(409);
    expect((await json(dup)).code).toBe('node_name_taken');
    const other = await playWorld();
    expect((await call('POST', `/orgs/${other.org.id}/nodes`, { token: other.admin.token, body: nodeBody })).status).toBe(201);
  });

  it('refuses anonymous callers, plain members, admins of other orgs', async () => {
    const w = await playWorld();
    const m = await member(w);
    const other = await playWorld();
    expect((await call('POST', `/orgs/${w.org.id}/nodes`, { body: nodeBody })).status).toBe(401);
    expect((await call('POST', `/orgs/${w.org.id}/nodes`, { token: m.token, body: nodeBody })).status).toBe(403);
    expect((await call('POST', `/orgs/${w.org.id}/nodes`, { token: other.admin.token, body: nodeBody })).status).toBe(403);
    expect((await call('GET', `/orgs/${w.org.id}/nodes`, { token: m.token })).status).toBe(403);
    expect((await call('GET', `/orgs/${w.org.id}/nodes`, { token: other.admin.token })).status).toBe(403);
  });

  it('validates the registration body', async () => {
    const w = await playWorld();
    for (const body of [
      { ...nodeBody, name: '' },
      { ...nodeBody, name: 'has space' },
      { ...nodeBody, capacity: -1 },
      { ...nodeBody, capacity: 2.5 },
      { ...nodeBody, stream_base_url: 'ftp://x.example' },
      { ...nodeBody, stream_base_url: 'not a url' },
      { ...nodeBody, stream_base_url: 'https://x.example/?a=1' },
      { ...nodeBody, region: 'EU' },
      { ...nodeBody, token_hash: 'x' },
      { name: 'n' },
    ]) {
      const res = await call('POST', `/orgs/${w.org.id}/nodes`, { token: w.admin.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call('POST', `/orgs/abc/nodes`, { token: w.admin.token, body: nodeBody })).status).toBe(400);
  });
});

describe('node management', () => {
  it('updates, drains, reactivates and lists with liveness', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const node = await onlineNode(w, [game]);
    const patched = await call('PATCH', `/orgs/${w.org.id}/nodes/${node.id}`, { token: w.admin.token, body: { capacity: 8, region: 'us-east' } });
    expect(patched.status).toBe(200);
    expect(await json<NodeBody>(patched)).toMatchObject({ capacity: 8, region: 'us-east', online: true, installs: 1, agent_status: 'ready' });
    const drained = await json<NodeBody>(await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/drain`, { token: w.admin.token }));
    expect(drained.status).toBe('draining');
    const active = await json<NodeBody>(await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/activate`, { token: w.admin.token }));
    expect(active.status).toBe('active');
    const viaPatch = await json<NodeBody>(await call('PATCH', `/orgs/${w.org.id}/nodes/${node.id}`, { token: w.admin.token, body: { status: 'draining' } }));
    expect(viaPatch.status).toBe('draining');
    const got = await json<NodeBody>(await call('GET', `/orgs/${w.org.id}/nodes/${node.id}`, { token: w.admin.token }));
    expect(got.id).toBe(node.id);
  });

  it('refuses empty, unknown-field and invalid updates; rename onto a taken name is 409', async () => {
    const w = await playWorld();
    const a = await registerNode(w, { name: 'a' });
    await registerNode(w, { name: 'b' });
    const url = `/orgs/${w.org.id}/nodes/${a.id}`;
    expect((await call('PATCH', url, { token: w.admin.token, body: {} })).status).toBe(400);
    expect((await call('PATCH', url, { token: w.admin.token, body: { org_id: 99 } })).status).toBe(400);
    expect((await call('PATCH', url, { token: w.admin.token, body: { status: 'offline' } })).status).toBe(400);
    expect((await call('PATCH', url, { token: w.admin.token, body: { name: 'b' } })).status).toBe(409);
  });

  it('changes only the fields an update names', async () => {
    const w = await playWorld();
    const node = await registerNode(w, { name: 'rig-7', region: 'eu-west', capacity: 2, base: 'https://rig-7.stream.example' });
    await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/drain`, { token: w.admin.token });
    const res = await call('PATCH', `/orgs/${w.org.id}/nodes/${node.id}`, { token: w.admin.token, body: { capacity: 6 } });
    expect(res.status).toBe(200);
    expect(await json<NodeBody>(res)).toMatchObject({ name: 'rig-7', region: 'eu-west', capacity: 6, stream_base_url: 'https://rig-7.stream.example', status: 'draining', has_token: true });
  });

  it('leaves a node of another org exactly as it was when an update of it is refused', async () => {
    const w = await playWorld();
    const other = await playWorld();
    const foreign = await registerNode(other, { name: 'theirs', capacity: 3 });
    expect((await call('PATCH', `/orgs/${w.org.id}/nodes/${foreign.id}`, { token: w.admin.token, body: { name: 'mine', capacity: 0 } })).status).toBe(404);
    expect((await call('POST', `/orgs/${w.org.id}/nodes/${foreign.id}/drain`, { token: w.admin.token })).status).toBe(404);
    const theirs = await json<NodeBody>(await call('GET', `/orgs/${other.org.id}/nodes/${foreign.id}`, { token: other.admin.token }));
    expect(theirs).toMatchObject({ name: 'theirs', capacity: 3, status: 'active', has_token: true });
  });

  it('hides nodes of another org behind 404', async () => {
    const w = await playWorld();
    const other = await playWorld();
    const foreign = await registerNode(other);
    for (const [method, suffix] of [
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/drain'],
      ['POST', '/token'],
      ['DELETE', '/token'],
    ] as const) {
      const res = await call(method, `/orgs/${w.org.id}/nodes/${foreign.id}${suffix}`, {
        token: w.admin.token,
        body: method === 'PATCH' ? { capacity: 1 } : undefined,
      });
      expect(res.status, `${method} ${suffix}`).toBe(404);
    }
  });

  it('refuses management by a plain member', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const m = await member(w);
    for (const [method, suffix] of [
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/drain'],
      ['POST', '/activate'],
      ['POST', '/token'],
      ['DELETE', '/token'],
    ] as const) {
      const res = await call(method, `/orgs/${w.org.id}/nodes/${node.id}${suffix}`, { token: m.token, body: method === 'PATCH' ? { capacity: 1 } : undefined });
      expect(res.status, `${method} ${suffix}`).toBe(403);
    }
  });

  it('deletes a node: its live sessions fail, its installs go', async () => {
    const { w, game, alice, node, s } = await playingSession();
    const res = await call('DELETE', `/orgs/${w.org.id}/nodes/${node.id}`, { token: w.admin.token });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ deleted: node.id, failed_sessions: 1 });
    const got = await json<SessionBody>(await call('GET', `/sessions/${s.id}`, { token: alice.token }));
    expect(got).toMatchObject({ status: 'failed', end_reason: 'node_deleted', stream_url: null });
    const installs = await db(env).get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM downloaded_games WHERE node_id = ${node.id}`);
    expect(installs?.n).toBe(0);
    expect((await heartbeat(node.token, [])).status).toBe(401);
  });
});

describe('node tokens', () => {
  it('refuses heartbeats without a token, with a wrong one, or with a user access token', async () => {
    const w = await playWorld();
    await registerNode(w);
    expect((await call('POST', '/nodes/heartbeat', { body: { installs: [] } })).status).toBe(401);
    expect((await heartbeat(`epn_${'A'.repeat(43)}`, [])).status).toBe(401);
    expect((await heartbeat('garbage', [])).status).toBe(401);
    expect((await heartbeat(w.admin.token, [])).status).toBe(401);
    expect((await call('GET', '/nodes/sessions', { token: w.admin.token })).status).toBe(401);
  });

  it('checks the token before the body: an anonymous bad body is 401, not 400', async () => {
    const res = await call('POST', '/nodes/heartbeat', { body: { installs: 'nope' } });
    expect(res.status).toBe(401);
  });

  it('does not accept a node token on user routes', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    expect((await call('GET', `/orgs/${w.org.id}/nodes`, { token: node.token })).status).toBe(401);
  });

  it('rotates: the old token stops working, the new one works', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const res = await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/token`, { token: w.admin.token });
    expect(res.status).toBe(200);
    const { token } = await json<{ token: string }>(res);
    expect(token).not.toBe(node.token);
    expect((await heartbeat(node.token, [])).status).toBe(401);
    expect((await heartbeat(token, [])).status).toBe(200);
  });

  it('revokes: no token works until a new one is issued', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const res = await call('DELETE', `/orgs/${w.org.id}/nodes/${node.id}/token`, { token: w.admin.token });
    expect(res.status).toBe(200);
    expect((await json<NodeBody>(res)).has_token).toBe(false);
    expect((await heartbeat(node.token, [])).status).toBe(401);
    const { token } = await json<{ token: string }>(await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/token`, { token: w.admin.token }));
    expect((await heartbeat(token, [])).status).toBe(200);
  });

  it('refuses a node of org A reporting for org B or for another node (403)', async () => {
    const a = await playWorld();
    const b = await playWorld();
    const nodeA = await registerNode(a);
    const nodeB = await registerNode(b);
    const cross = await heartbeat(nodeA.token, [], { org_id: b.org.id });
    expect(cross.status).toBe(403);
    expect((await json(cross)).code).toBe('node_org_mismatch');
    const other = await heartbeat(nodeA.token, [], { node_id: nodeB.id });
    expect(other.status).toBe(403);
    expect((await heartbeat(nodeA.token, [], { org_id: a.org.id, node_id: nodeA.id })).status).toBe(200);
  });

  it('keeps a node from touching another org’s sessions', async () => {
    const a = await playWorld();
    const b = await playWorld();
    const game = await makeGame();
    const alice = await member(b);
    await own(b.org.id, alice.id, game);
    await onlineNode(b, [game]);
    const s = await json<SessionBody>(await startSession(alice, { org_id: b.org.id, user_id: alice.id, game_id: game }));
    const nodeA = await registerNode(a);
    const hb = await json<{ results: Array<{ id: number; status: string }> }>(await heartbeat(nodeA.token, [], { sessions: [{ id: s.id, status: 'ended' }] }));
    expect(hb.results).toEqual([{ id: s.id, status: 'unknown' }]);
    const rep = await call('POST', `/nodes/sessions/${s.id}/status`, { token: nodeA.token, body: { status: 'failed' } });
    expect(rep.status).toBe(404);
    expect((await json<SessionBody>(await call('GET', `/sessions/${s.id}`, { token: alice.token }))).status).toBe('provisioning');
  });
});

describe('heartbeat installs', () => {
  it('upserts the reported installs with their proof and removes vanished ones', async () => {
    const w = await playWorld();
    const [g1, g2, g3] = [await makeGame(), await makeGame(), await makeGame()];
    const node = await registerNode(w);
    const first = await heartbeat(node.token, [install(g1), install(g2)]);
    expect(first.status).toBe(200);
    expect(await json(first)).toMatchObject({ node_id: node.id, org_id: w.org.id, installs: 2, unknown_game_ids: [], sessions: [] });
    await heartbeat(node.token, [install(g2, { install_path: '/mnt/fast/g2', executable: 'g2.exe' }), install(g3)]);
    const rows = await db(env).all<{ game_id: number; install_path: string; executable: string; proof_json: string; org_id: number }>(
      sql`SELECT game_id, install_path, executable, proof_json, org_id FROM downloaded_games WHERE node_id = ${node.id} ORDER BY game_id`,
    );
    expect(rows.map((r) => r.game_id)).toEqual([g2, g3]);
    expect(rows[0]).toMatchObject({ install_path: '/mnt/fast/g2', executable: 'g2.exe', org_id: w.org.id });
    expect(JSON.parse(rows[0]!.proof_json)).toEqual({ path: '/mnt/fast/g2/g2.exe', sha256: 'a'.repeat(64), size: 123456, mtime: '2026-11-20T10:00:00Z' });
    const lastSeen = await db(env).get<{ last_seen: string; agent_status: string }>(sql`SELECT last_seen, agent_status FROM cluster_nodes WHERE id = ${node.id}`);
    expect(lastSeen?.agent_status).toBe('ready');
    expect(Date.parse(lastSeen!.last_seen)).toBeGreaterThan(Date.now() - 60_000);
    await heartbeat(node.token, []);
    const left = await db(env).get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM downloaded_games WHERE node_id = ${node.id}`);
    expect(left?.n).toBe(0);
  });

  it('ignores unknown games and reports them', async () => {
    const w = await playWorld();
    const g = await makeGame();
    const node = await registerNode(w);
    const res = await json<{ installs: number; unknown_game_ids: number[] }>(await heartbeat(node.token, [install(g), install(99_999_999)]));
    expect(res).toMatchObject({ installs: 1, unknown_game_ids: [99_999_999] });
  });

  it('handles hundreds of installs in one heartbeat', async () => {
    const w = await playWorld();
    const ids: number[] = [];
    for (let i = 0; i < 150; i++) ids.push(await makeGame());
    const node = await registerNode(w);
    const res = await heartbeat(node.token, ids.map((g) => install(g)));
    expect(res.status).toBe(200);
    expect((await json<{ installs: number }>(res)).installs).toBe(150);
  });

  it('rejects malformed installs with 400', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const good = install(1);
    for (const bad of [
      { ...good, game_id: 'x' },
      { ...good, install_path: '' },
      { ...good, proof: { ...good.proof, sha256: 'nothex' } },
      { ...good, proof: { ...good.proof, size: -1 } },
      { ...good, extra: 1 },
    ]) {
      expect((await heartbeat(node.token, [bad])).status, JSON.stringify(bad)).toBe(400);
    }
    expect((await call('POST', '/nodes/heartbeat', { token: node.token, body: { status: 'ready' } })).status).toBe(400);
  });

  it('makes a node offline when it stops heartbeating (install_ready false, no sessions)', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const alice = await member(w);
    await own(w.org.id, alice.id, game);
    const node = await onlineNode(w, [game]);
    const before = await json<{ install_ready: boolean }>(await call('GET', `/games/${game}/availability?org_id=${w.org.id}`, { token: alice.token }));
    expect(before.install_ready).toBe(true);
    await db(env).run(sql`UPDATE cluster_nodes SET last_seen = '2020-01-01T00:00:00.000Z' WHERE id = ${node.id}`);
    const after = await json<{ install_ready: boolean }>(await call('GET', `/games/${game}/availability?org_id=${w.org.id}`, { token: alice.token }));
    expect(after.install_ready).toBe(false);
    const listed = await json<NodeBody[]>(await call('GET', `/orgs/${w.org.id}/nodes`, { token: w.admin.token }));
    expect(listed.find((n) => n.id === node.id)?.online).toBe(false);
    expect((await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game })).status).toBe(409);
  });
});
