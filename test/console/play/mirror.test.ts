/**
 * Crash consistency of the allocator's D1 mirror (issue 20 item 1; issue 17: the D1 write is off
 * the request's critical path). The two-step write (the seat in the allocator's storage, then the
 * row in D1) is interrupted between its steps by making D1 itself refuse writes to `play_sessions`
 * (a trigger, removed to "bring D1 back"), and by evicting the object in between (a restart). Each
 * test proves the repair: the allocator keeps the seat (no over-booking), its outbox delivers the
 * row once D1 is back, the reconcile heals both directions, and a session handed out (first answer
 * or replay) is always one its owner can GET, even before D1 has its row.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { MIRROR_RECONCILE_MS, OUTBOX_ALARM_MS } from '../../../durable-objects/org-allocator';
import { db } from '../../../src/db/client';
import { call, json } from '../../support/http';
import { receiver } from '../../notifications/support';
import { allocator, mirrorDrained, seatsPerNode, wakeAllocator, heartbeat, install, makeGame, member, onlineNode, own, playWorld, quickMembers, startSession, worldClock, type SessionBody, type World } from './helpers';

const clock = worldClock();
const advance = clock.advance;

/** D1 refuses every write to play_sessions until the returned function is called. */
async function breakMirror(): Promise<() => Promise<void>> {
  await env.DB.exec(`CREATE TRIGGER IF NOT EXISTS lost_mirror_insert BEFORE INSERT ON play_sessions BEGIN SELECT RAISE(ABORT, 'injected: D1 write lost'); END;`);
  await env.DB.exec(`CREATE TRIGGER IF NOT EXISTS lost_mirror_update BEFORE UPDATE ON play_sessions BEGIN SELECT RAISE(ABORT, 'injected: D1 write lost'); END;`);
  const heal = async () => {
    await env.DB.exec(`DROP TRIGGER IF EXISTS lost_mirror_insert;`);
    await env.DB.exec(`DROP TRIGGER IF EXISTS lost_mirror_update;`);
  };
  onTestFinished(heal);
  return heal;
}

/**
 * Waits until the allocator has tried to deliver `n` outbox entries and D1 refused them. The attempt
 * runs just after the allocator's answer (off the request's path), so a test that "brings D1 back"
 * waits for it first, or it would be healing D1 before the write it means to interrupt.
 */
async function refused(orgId: number, n: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const tried = await runInDurableObject(allocator(orgId), (_i, state) =>
        state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox WHERE attempts > 0`).one().n,
      );
      expect(tried, 'outbox entries D1 refused').toBe(n);
    },
    { timeout: 20_000, interval: 50 },
  );
}

interface OrgSession {
  id: number;
  status: string;
  node_id: number | null;
  end_reason: string | null;
  mirror_repair: string | null;
  mirror_repaired_at: string | null;
}

async function orgList(w: World, status = 'live'): Promise<OrgSession[]> {
  const res = await call('GET', `/orgs/${w.org.id}/sessions?status=${status}`, { token: w.admin.token });
  expect(res.status).toBe(200);
  return json<OrgSession[]>(res);
}

/** The allocator's seats per node, and D1's live sessions per node (what the org list counts), side by side. */
async function seatsAndList(w: World) {
  const seats = await seatsPerNode(w.org.id);
  const rows = await db(env).all<{ node_id: number; n: number }>(
    sql`SELECT node_id, COUNT(*) AS n FROM play_sessions WHERE org_id = ${w.org.id} AND status IN ('provisioning', 'active') GROUP BY node_id`,
  );
  const list = Object.fromEntries(rows.map((r) => [String(r.node_id), r.n]));
  return { seats, list };
}

async function setup(capacity = 1) {
  const w = await playWorld();
  const game = await makeGame();
  const node = await onlineNode(w, [game], { capacity });
  const alice = await member(w);
  const bob = await member(w);
  await own(w.org.id, alice.id, game);
  await own(w.org.id, bob.id, game);
  return { w, game, node, alice, bob };
}

describe('allocator → D1 mirror: a lost D1 write after the seat decision', () => {
  it('keeps the seat (no over-booking), replays a session its owner can GET, and the outbox delivers it once D1 is back', async () => {
    const { w, game, node, alice, bob } = await setup(1);
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const heal = await breakMirror();

    // The allocator answers once its own storage holds the seat; D1 gets the row after the answer.
    const first = await startSession(alice, body, { 'Idempotency-Key': 'tv-launch-1' });
    expect(first.status).toBe(201);
    const granted = await json<SessionBody>(first);

    // The seat is decided and held: a second player is refused, not given the same seat.
    const other = await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game });
    expect(other.status).toBe(429);
    expect(await seatsPerNode(w.org.id)).toEqual({ [String(node.id)]: 1 });

    // While D1 still lacks the row, a replay is the same session, and its owner can GET it.
    expect(await orgList(w)).toEqual([]);
    const early = await startSession(alice, body, { 'Idempotency-Key': 'tv-launch-1' });
    expect(early.status).toBe(200);
    expect((await json<SessionBody>(early)).id).toBe(granted.id);
    expect((await call('GET', `/sessions/${granted.id}`, { token: alice.token })).status).toBe(200);

    await refused(w.org.id, 1);
    await heal();
    advance(5_000);
    await heartbeat(node.token, [install(game)]);
    await runDurableObjectAlarm(allocator(w.org.id));

    const list = await orgList(w);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ status: 'provisioning', node_id: node.id, mirror_repair: 'retried' });
    expect(list[0]!.mirror_repaired_at).toBeTruthy();

    const replay = await startSession(alice, body, { 'Idempotency-Key': 'tv-launch-1' });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
    const s = await json<SessionBody>(replay);
    expect(s.id).toBe(list[0]!.id);
    const got = await call('GET', `/sessions/${s.id}`, { token: alice.token });
    expect(got.status).toBe(200);
    expect((await json<SessionBody>(got)).stream_url).toContain(`/sessions/${s.id}?token=`);
    const after = await seatsAndList(w);
    expect(after.list).toEqual(after.seats);
  });

  it('a session granted while D1 refuses writes is readable by its owner at once (not by others), and reaches D1 when writes resume', async () => {
    const { w, game, node, alice, bob } = await setup(2);
    const heal = await breakMirror();
    const res = await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game });
    expect(res.status).toBe(201);
    const s = await json<SessionBody>(res);
    expect(await orgList(w)).toEqual([]);

    // D1 misses it: the owner's GET asks the allocator, and gets the live view with a stream URL.
    const got = await call('GET', `/sessions/${s.id}`, { token: alice.token });
    expect(got.status).toBe(200);
    const seen = await json<SessionBody>(got);
    expect(seen).toMatchObject({ id: s.id, status: 'provisioning', node_id: node.id, user_id: alice.id });
    expect(seen.stream_url).toContain(`/sessions/${s.id}?token=`);
    // Another member of the same org cannot see it, D1 or not.
    expect((await call('GET', `/sessions/${s.id}`, { token: bob.token })).status).toBe(404);
    // The org's admin can (without the stream URL): the fallback serves every reader who may see it.
    const admin = await call('GET', `/sessions/${s.id}`, { token: w.admin.token });
    expect(admin.status).toBe(200);
    expect((await json<SessionBody>(admin)).stream_url).toBeNull();

    await refused(w.org.id, 1);
    await heal();
    // The alarm set with the decision re-delivers once the backoff is over: no request needed.
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(allocator(w.org.id));
        expect((await orgList(w)).map((x) => [x.id, x.status, x.mirror_repair])).toEqual([[s.id, 'provisioning', 'retried']]);
      },
      { timeout: 20_000, interval: 300 },
    );
    const { seats, list } = await seatsAndList(w);
    expect(list).toEqual(seats);
  });

  it('once D1 has the row the alarm goes back to the next real deadline (a busy org does not wake every few seconds); while D1 refuses, it is the retry', async () => {
    const { w, game, alice, bob } = await setup(2);
    const alarm = () => runInDurableObject(allocator(w.org.id), (_i, state) => state.storage.getAlarm());
    expect((await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game })).status).toBe(201);
    await mirrorDrained(w.org.id);
    // Delivered: the next deadline is a node's silence, a lease or the reconcile, tens of seconds away.
    await vi.waitFor(async () => expect((await alarm())! - Date.now()).toBeGreaterThan(OUTBOX_ALARM_MS + 10_000), { timeout: 5_000, interval: 50 });

    await breakMirror();
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(201);
    await refused(w.org.id, 1);
    // Undelivered: the alarm is the outbox's retry, a second or two away.
    expect((await alarm())! - Date.now()).toBeLessThanOrEqual(OUTBOX_ALARM_MS + 1_000);
  });

  it('a repeat without a key while D1 refuses writes gets the held session, and D1 gets it once back', async () => {
    const { w, game, alice } = await setup(1);
    const body = { org_id: w.org.id, user_id: alice.id, game_id: game };
    const heal = await breakMirror();
    const first = await startSession(alice, body);
    expect(first.status).toBe(201);
    // The launcher's retry: the same seat, readable by its owner whether or not D1 has it yet.
    const again = await startSession(alice, body);
    expect(again.status).toBe(200);
    const s = await json<SessionBody>(again);
    expect(s.id).toBe((await json<SessionBody>(first)).id);
    expect((await call('GET', `/sessions/${s.id}`, { token: alice.token })).status).toBe(200);
    await refused(w.org.id, 1);
    await heal();
    advance(5_000);
    await runDurableObjectAlarm(allocator(w.org.id));
    expect((await orgList(w)).map((x) => [x.id, x.mirror_repair])).toEqual([[s.id, 'retried']]);
  });

  it('a burst of allocations while D1 refuses writes: after the repair the D1 list and the seats agree, none over-booked', async () => {
    const w = await playWorld({ maxPerUser: 1 });
    const game = await makeGame();
    const players = await quickMembers(w, 30, game);
    const nodes = [await onlineNode(w, [game], { capacity: 3 }), await onlineNode(w, [game], { capacity: 4 })];
    const frozen = Date.now();
    clock.freeze(frozen);
    const heal = await breakMirror();
    const results = await Promise.all(players.map((p) => startSession(p, { org_id: w.org.id, user_id: p.id, game_id: game })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(7);
    expect(results.filter((r) => r.status === 429)).toHaveLength(23);
    expect((await seatsAndList(w)).list).toEqual({});
    await refused(w.org.id, 7);
    await heal();
    clock.freeze(frozen + 5_000);
    for (const n of nodes) await heartbeat(n.token, [install(game)]);
    await runDurableObjectAlarm(allocator(w.org.id));
    const { seats, list } = await seatsAndList(w);
    expect(list).toEqual(seats);
    expect(seats).toEqual({ [String(nodes[0]!.id)]: 3, [String(nodes[1]!.id)]: 4 });
    const marks = await db(env).all<{ mirror_repair: string | null }>(sql`SELECT mirror_repair FROM play_sessions WHERE org_id = ${w.org.id}`);
    expect(marks.map((m) => m.mirror_repair)).toEqual(Array(7).fill('retried'));
  }, 60_000);
});

describe('allocator ↔ D1 reconcile', () => {
  it('after a restart between the two writes, the start-up alarm delivers the row', async () => {
    const { w, game, node, alice } = await setup(2);
    const heal = await breakMirror();
    const r = await allocator(w.org.id).allocate({
      orgId: w.org.id, userId: alice.id, gameId: game, region: null, policy: 'spread', maxPerUser: 1, idempotencyKey: 'k',
      candidates: [{ nodeId: node.id, region: node.region, capacity: 2, streamBaseUrl: 'https://n.stream.example', lastSeen: new Date().toISOString() }],
    });
    // Answered from the allocator's storage alone: D1 refusing the row does not hold the answer back.
    expect(r).toMatchObject({ ok: true, replayed: false });
    await refused(w.org.id, 1);
    await heal();
    // The object restarts (crash, deploy, eviction): its start-up schedules a reconcile within a second.
    await evictDurableObject(allocator(w.org.id));
    expect(await wakeAllocator(w.org.id)).toBe('ok');
    const alarmAt = await runInDurableObject(allocator(w.org.id), (_i, state) => state.storage.getAlarm());
    expect(alarmAt).not.toBeNull();
    expect(alarmAt!).toBeLessThanOrEqual(Date.now() + 1_500);
    advance(3_000);
    await heartbeat(node.token, [install(game)]);
    await runDurableObjectAlarm(allocator(w.org.id));
    const { seats, list } = await seatsAndList(w);
    expect(seats).toEqual({ [String(node.id)]: 1 });
    expect(list).toEqual(seats);
  });

  it('gives a held seat whose D1 row vanished its row back within one reconcile period, marked reconciled', async () => {
    const { w, game, node, alice } = await setup(2);
    const s = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
    // History lost its row with nothing queued to bring it back (e.g. D1 restored from an older point).
    await db(env).run(sql`DELETE FROM play_sessions WHERE id = ${s.id}`);
    expect(await orgList(w)).toEqual([]);
    const alarmAt = await runInDurableObject(allocator(w.org.id), (_i, state) => state.storage.getAlarm());
    expect(alarmAt! - Date.now()).toBeLessThanOrEqual(MIRROR_RECONCILE_MS);
    advance(MIRROR_RECONCILE_MS + 1_000);
    await heartbeat(node.token, [install(game)], { sessions: [{ id: s.id, status: 'provisioning' }] });
    await runDurableObjectAlarm(allocator(w.org.id));
    expect((await orgList(w)).map((x) => [x.id, x.status, x.mirror_repair])).toEqual([[s.id, 'provisioning', 'reconciled']]);
    expect((await call('GET', `/sessions/${s.id}`, { token: alice.token })).status).toBe(200);
  });

  it('ends a D1 live row the allocator does not hold, so it no longer blocks the list', async () => {
    const { w, game, alice, bob } = await setup(2);
    const held = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
    const ghost = 4_000_000_000_123;
    await db(env).run(sql`INSERT INTO play_sessions (id, org_id, user_id, game_id, status) VALUES (${ghost}, ${w.org.id}, ${bob.id}, ${game}, 'active')`);
    expect((await orgList(w)).map((x) => x.id).sort()).toEqual([held.id, ghost].sort());
    await allocator(w.org.id).sweep(w.org.id);
    expect((await orgList(w)).map((x) => x.id)).toEqual([held.id]);
    const ended = await orgList(w, 'ended');
    expect(ended.map((x) => [x.id, x.status, x.end_reason, x.mirror_repair])).toEqual([[ghost, 'failed', 'not_allocated', 'orphan_ended']]);
  });

  it('ends a held seat that D1 history already shows ended (history is never revived)', async () => {
    const { w, game, node, alice, bob } = await setup(1);
    const s = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
    await db(env).run(sql`UPDATE play_sessions SET status = 'ended', end_reason = 'player quit', ended_at = updated_at WHERE id = ${s.id}`);
    await allocator(w.org.id).sweep(w.org.id);
    expect(await seatsPerNode(w.org.id)).toEqual({});
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(201);
    expect(node.capacity).toBe(1);
  });

  it('frees the seat of a player whose account was deleted (their row can no longer be mirrored)', async () => {
    const { w, game, alice, bob } = await setup(1);
    await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
    await db(env).run(sql`DELETE FROM users WHERE id = ${alice.id}`);
    await allocator(w.org.id).sweep(w.org.id);
    expect(await seatsPerNode(w.org.id)).toEqual({});
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(201);
  });
});

describe('webhooks from the allocator’s own transitions', () => {
  it('announces session.started and session.ended once each, though the reconcile re-delivers the row in between', async () => {
    const rx = receiver([200]);
    onTestFinished(() => rx.restore());
    const { w, game, node, alice } = await setup(1);
    const ep = await call('POST', '/api/webhooks', { token: w.admin.token, body: { scope: 'org', org_id: w.org.id, url: 'https://hooks.example.com/play', events: ['session.started', 'session.ended'] } });
    expect(ep.status).toBe(201);
    const endpoint = (await json<{ id: string }>(ep)).id;
    const announced = async () => {
      const rows = await db(env).all<{ event_type: string; n: number }>(
        sql`SELECT event_type, COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ${endpoint} GROUP BY event_type ORDER BY event_type`,
      );
      return Object.fromEntries(rows.map((r) => [r.event_type, r.n]));
    };
    const s = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
    await vi.waitFor(async () => expect(await announced()).toEqual({ 'session.started': 1 }), { timeout: 10_000, interval: 100 });

    // D1 loses the row; the reconcile puts it back (a re-delivery: no second session.started).
    await db(env).run(sql`DELETE FROM play_sessions WHERE id = ${s.id}`);
    advance(MIRROR_RECONCILE_MS + 1_000);
    await heartbeat(node.token, [install(game)], { sessions: [{ id: s.id, status: 'provisioning' }] });
    await runDurableObjectAlarm(allocator(w.org.id));
    expect((await orgList(w)).map((x) => [x.id, x.mirror_repair])).toEqual([[s.id, 'reconciled']]);

    expect((await call('DELETE', `/sessions/${s.id}`, { token: alice.token })).status).toBe(200);
    await vi.waitFor(async () => expect(await announced()).toEqual({ 'session.ended': 1, 'session.started': 1 }), { timeout: 10_000, interval: 100 });
  });
});
