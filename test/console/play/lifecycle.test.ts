import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { sweepPlaySessions } from '../../../src/console/play/jobs';
import { jobs } from '../../../src/scheduled';
import { call, json } from '../../support/http';
import { allocator, seatsPerNode, heartbeat, install, makeGame, member, onlineNode, own, playWorld, startSession, worldClock, type SessionBody, type World } from './helpers';

const clock = worldClock();
const advance = clock.advance;

async function oneSession(opts: { capacity?: number } = {}) {
  const w = await playWorld();
  const game = await makeGame();
  const alice = await member(w);
  await own(w.org.id, alice.id, game);
  const node = await onlineNode(w, [game], { capacity: opts.capacity ?? 1 });
  const s = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
  return { w, game, alice, node, s };
}

async function d1Status(id: number) {
  return db(env).get<{ status: string; end_reason: string | null }>(sql`SELECT status, end_reason FROM play_sessions WHERE id = ${id}`);
}

async function newcomer(w: World, game: number) {
  const u = await member(w);
  await own(w.org.id, u.id, game);
  return u;
}

describe('node agents and their sessions', () => {
  it('tells the node its assignments in the heartbeat reply and on GET /nodes/sessions', async () => {
    const { node, s, game, alice } = await oneSession();
    const hb = await json<{ sessions: Array<{ id: number; user_id: number; game_id: number; status: string }> }>(await heartbeat(node.token, [install(game)]));
    expect(hb.sessions).toEqual([expect.objectContaining({ id: s.id, user_id: alice.id, game_id: game, status: 'provisioning' })]);
    const list = await json<{ sessions: Array<{ id: number }> }>(await call('GET', '/nodes/sessions', { token: node.token }));
    expect(list.sessions.map((x) => x.id)).toEqual([s.id]);
  });

  it('moves a session to active and then ended on node reports, freeing the seat', async () => {
    const { w, node, s, game, alice } = await oneSession();
    const act = await call('POST', `/nodes/sessions/${s.id}/status`, { token: node.token, body: { status: 'active' } });
    expect(await json(act)).toEqual({ id: s.id, status: 'active' });
    expect((await json<SessionBody>(await call('GET', `/sessions/${s.id}`, { token: alice.token }))).status).toBe('active');
    const bob = await newcomer(w, game);
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(429);
    const hb = await json<{ results: unknown[]; sessions: unknown[] }>(
      await heartbeat(node.token, [install(game)], { sessions: [{ id: s.id, status: 'ended', reason: 'player quit' }] }),
    );
    expect(hb.results).toEqual([{ id: s.id, status: 'ended' }]);
    expect(hb.sessions).toEqual([]);
    expect(await d1Status(s.id)).toEqual({ status: 'ended', end_reason: 'player quit' });
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(201);
  });

  it('never revives an ended session from a late report', async () => {
    const { node, s, alice } = await oneSession();
    await call('DELETE', `/sessions/${s.id}`, { token: alice.token });
    const late = await call('POST', `/nodes/sessions/${s.id}/status`, { token: node.token, body: { status: 'active' } });
    expect(await json(late)).toEqual({ id: s.id, status: 'terminated' });
    expect((await d1Status(s.id))?.status).toBe('terminated');
  });

  it('reports failed sessions with the node’s reason', async () => {
    const { node, s } = await oneSession();
    await call('POST', `/nodes/sessions/${s.id}/status`, { token: node.token, body: { status: 'failed', reason: 'gpu reset' } });
    expect(await d1Status(s.id)).toEqual({ status: 'failed', end_reason: 'gpu reset' });
  });

  it('validates node reports', async () => {
    const { node, s } = await oneSession();
    expect((await call('POST', `/nodes/sessions/${s.id}/status`, { token: node.token, body: { status: 'terminated' } })).status).toBe(400);
    expect((await call('POST', `/nodes/sessions/x/status`, { token: node.token, body: { status: 'active' } })).status).toBe(400);
    expect((await call('POST', `/nodes/sessions/${s.id}/status`, { body: { status: 'active' } })).status).toBe(401);
  });
});

describe('lease reclaim (alarms)', () => {
  it('fails a session nobody vouches for after SESSION_LEASE_SECONDS and frees its seat', async () => {
    const { w, s, game, node } = await oneSession();
    // The node keeps heartbeating (so it is not offline) but never picks the session up.
    advance(100_000);
    await heartbeat(node.token, [install(game)]);
    expect(await runDurableObjectAlarm(allocator(w.org.id))).toBe(true);
    expect((await d1Status(s.id))?.status).toBe('provisioning');
    advance(125_000);
    await heartbeat(node.token, [install(game)]);
    await runDurableObjectAlarm(allocator(w.org.id));
    expect(await d1Status(s.id)).toEqual({ status: 'failed', end_reason: 'lease_expired' });
    const bob = await newcomer(w, game);
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(201);
  });

  it('keeps a session the node reports as running', async () => {
    const { w, s, game, node } = await oneSession();
    for (const t of [25_000, 50_000, 75_000, 100_000, 125_000, 150_000]) {
      advance(t);
      await heartbeat(node.token, [install(game)], { sessions: [{ id: s.id, status: 'active' }] });
    }
    await runDurableObjectAlarm(allocator(w.org.id));
    expect((await d1Status(s.id))?.status).toBe('active');
  });

  it('keeps a provisioning session its owner keeps looking at', async () => {
    const { w, s, game, node, alice } = await oneSession();
    for (const t of [25_000, 50_000, 75_000, 100_000, 125_000, 150_000]) {
      advance(t);
      await heartbeat(node.token, [install(game)]);
      await call('GET', `/sessions/${s.id}`, { token: alice.token });
    }
    await runDurableObjectAlarm(allocator(w.org.id));
    expect((await d1Status(s.id))?.status).toBe('provisioning');
  });

  it('fails the sessions of a node that went offline', async () => {
    const { w, s } = await oneSession();
    advance(31_000);
    await runDurableObjectAlarm(allocator(w.org.id));
    expect(await d1Status(s.id)).toEqual({ status: 'failed', end_reason: 'node_offline' });
  });

  it('re-arms itself while live sessions remain, and a second run changes nothing', async () => {
    const { w, s } = await oneSession();
    const alarmAt = await runInDurableObject(allocator(w.org.id), (_i, state) => state.storage.getAlarm());
    expect(alarmAt).not.toBeNull();
    advance(31_000);
    await runDurableObjectAlarm(allocator(w.org.id));
    await runDurableObjectAlarm(allocator(w.org.id));
    expect((await d1Status(s.id))?.status).toBe('failed');
  });

  it('the 5-minute housekeeping sweep reclaims too, in case an alarm was lost', async () => {
    const { w, s } = await oneSession();
    await runInDurableObject(allocator(w.org.id), (_i, state) => state.storage.deleteAlarm());
    advance(31_000);
    expect(jobs.frequent).toContain(sweepPlaySessions);
    await sweepPlaySessions(env);
    expect(await d1Status(s.id)).toEqual({ status: 'failed', end_reason: 'node_offline' });
  });
});

describe('eviction and rebuild', () => {
  it('keeps every seat across an eviction', async () => {
    const { w, game } = await oneSession({ capacity: 1 });
    await evictDurableObject(allocator(w.org.id));
    const bob = await newcomer(w, game);
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(429);
  });

  it('rebuilds live seats from D1 when its storage is lost', async () => {
    const w = await playWorld();
    const game = await makeGame();
    await onlineNode(w, [game], { capacity: 2 });
    const users = [await newcomer(w, game), await newcomer(w, game), await newcomer(w, game)];
    const a = await json<SessionBody>(await startSession(users[0]!, { org_id: w.org.id, user_id: users[0]!.id, game_id: game }));
    const b = await json<SessionBody>(await startSession(users[1]!, { org_id: w.org.id, user_id: users[1]!.id, game_id: game }));
    await call('DELETE', `/sessions/${b.id}`, { token: users[1]!.token });
    await runInDurableObject(allocator(w.org.id), async (_i, state) => {
      await state.storage.deleteAlarm();
      await state.storage.deleteAll();
    });
    await evictDurableObject(allocator(w.org.id));
    // One live seat (a) comes back from D1; the terminated one (b) does not.
    expect(await seatsPerNode(w.org.id)).toEqual({ [String(a.node_id)]: 1 });
    expect((await startSession(users[2]!, { org_id: w.org.id, user_id: users[2]!.id, game_id: game })).status).toBe(201);
    const d = await newcomer(w, game);
    expect((await startSession(d, { org_id: w.org.id, user_id: d.id, game_id: game })).status).toBe(429);
    // The rebuilt session is still manageable.
    const del = await call('DELETE', `/sessions/${a.id}`, { token: users[0]!.token });
    expect((await json<SessionBody>(del)).status).toBe('terminated');
  });
});
