/**
 * The fair queue (issue 15): `POST /sessions {"queue": true}` waits in the org's FIFO when no seat
 * is free; freed seats go to the earliest waiter whose game is on the freed node; a waiter that
 * stops polling is dropped; one entry per user; DELETE leaves; without `queue` the 429 stays.
 */
import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { QUEUE_KEEPALIVE_SECONDS } from '../../../durable-objects/org-allocator';
import { db } from '../../../src/db/client';
import { call, json } from '../../support/http';
import type { TestUser } from '../../support/users';
import { allocator, seatsPerNode, heartbeat, install, makeGame, member, onlineNode, own, playWorld, quickMembers, startSession, worldClock, type SessionBody, type World } from './helpers';

interface Queued extends SessionBody {
  position: number | null;
  eta_seconds: number | null;
  poll_after_seconds: number | null;
  keepalive_seconds: number | null;
}

const clock = worldClock();

async function players(w: World, n: number, game: number): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (let i = 0; i < n; i++) {
    const u = await member(w);
    await own(w.org.id, u.id, game);
    out.push(u);
  }
  return out;
}

function play(u: Pick<TestUser, 'id' | 'token'>, w: World, game: number, extra: Record<string, unknown> = { queue: true }) {
  return startSession(u, { org_id: w.org.id, user_id: u.id, game_id: game, ...extra });
}

/** One seat, taken; two players waiting behind it (a first, b second). */
async function lineOfTwo() {
  const w = await playWorld();
  const game = await makeGame();
  await onlineNode(w, [game], { capacity: 1 });
  const [holder, a, b] = await players(w, 3, game);
  await play(holder!, w, game);
  const qa = await json<Queued>(await play(a!, w, game));
  const qb = await json<Queued>(await play(b!, w, game));
  return { w, a: a!, b: b!, qa, qb };
}

async function poll(u: Pick<TestUser, 'token'>, id: number): Promise<Queued> {
  const res = await call('GET', `/sessions/${id}`, { token: u.token });
  expect(res.status).toBe(200);
  return json<Queued>(res);
}

describe('POST /sessions with queue: true', () => {
  it('answers 202 queued with position, ETA, poll interval and keep-alive when every seat is taken; without queue the 429 stays', async () => {
    const w = await playWorld();
    const game = await makeGame();
    await onlineNode(w, [game], { capacity: 1 });
    const [a, b, c] = await players(w, 3, game);
    expect((await play(a!, w, game)).status).toBe(201);
    const res = await play(b!, w, game);
    expect(res.status).toBe(202);
    const q = await json<Queued>(res);
    expect(q).toMatchObject({ status: 'queued', position: 1, poll_after_seconds: 5, keepalive_seconds: QUEUE_KEEPALIVE_SECONDS, node_id: null, stream_url: null });
    expect(q.eta_seconds).toBeGreaterThan(0);
    const plain = await play(c!, w, game, {});
    expect(plain.status).toBe(429);
    expect(plain.headers.get('Retry-After')).toBeTruthy();
    expect((await json(plain)).code).toBe('no_free_seat');
    // The waiter's owner can GET its queued session.
    expect(await poll(b!, q.id)).toMatchObject({ id: q.id, status: 'queued', position: 1 });
  });

  it('gives a seat at once when one is free (201, not queued)', async () => {
    const w = await playWorld();
    const game = await makeGame();
    await onlineNode(w, [game], { capacity: 1 });
    const [a] = await players(w, 1, game);
    expect((await play(a!, w, game)).status).toBe(201);
  });

  it('serves waiters first come, first served and moves everyone up as seats free', async () => {
    const w = await playWorld();
    const game = await makeGame();
    await onlineNode(w, [game], { capacity: 1 });
    const [p0, a, b, c] = await players(w, 4, game);
    const seat = await json<SessionBody>(await play(p0!, w, game));
    const qa = await json<Queued>(await play(a!, w, game));
    const qb = await json<Queued>(await play(b!, w, game));
    const qc = await json<Queued>(await play(c!, w, game));
    expect([qa.position, qb.position, qc.position]).toEqual([1, 2, 3]);
    expect(qc.eta_seconds!).toBeGreaterThan(qa.eta_seconds!);
    await call('DELETE', `/sessions/${seat.id}`, { token: p0!.token });
    const sa = await poll(a!, qa.id);
    expect(sa).toMatchObject({ status: 'provisioning', position: null });
    expect(sa.stream_url).toContain(`/sessions/${qa.id}?token=`);
    expect((await poll(b!, qb.id)).position).toBe(1);
    expect((await poll(c!, qc.id)).position).toBe(2);
  });

  it('orders contending waiters: parallel requests get distinct positions, and seats go out in that order', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const node = await onlineNode(w, [game], { capacity: 1 });
    const [holder, ...rest] = await players(w, 13, game);
    const held = await json<SessionBody>(await play(holder!, w, game));
    const answers = await Promise.all(rest.map((u) => play(u, w, game)));
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(202));
    const queued = await Promise.all(answers.map((r) => json<Queued>(r)));
    expect(queued.map((q) => q.position).sort((x, y) => x! - y!)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const byPosition = rest.map((u, i) => ({ u, q: queued[i]! })).sort((x, y) => x.q.position! - y.q.position!);
    // Free the seat again and again (the node reports each session ended): the order holds.
    let current = held.id;
    for (const { u, q } of byPosition) {
      await heartbeat(node.token, [install(game)], { sessions: [{ id: current, status: 'ended' }] });
      expect((await poll(u, q.id)).status).toBe('provisioning');
      current = q.id;
    }
  });

  it('skips waiters whose game is not installed on the freed node', async () => {
    const w = await playWorld();
    const gx = await makeGame();
    const gy = await makeGame();
    const nx = await onlineNode(w, [gx], { capacity: 1 });
    await onlineNode(w, [gy], { capacity: 1 });
    const [hx, hy, wantsY, wantsX] = await players(w, 4, gx);
    for (const u of [hy, wantsY]) await own(w.org.id, u!.id, gy);
    const sx = await json<SessionBody>(await play(hx!, w, gx));
    expect((await play(hy!, w, gy)).status).toBe(201);
    const qy = await json<Queued>(await play(wantsY!, w, gy));
    const qx = await json<Queued>(await play(wantsX!, w, gx));
    expect([qy.position, qx.position]).toEqual([1, 2]);
    // The X node's seat frees: the first waiter wants Y (not on that node), so the second gets it.
    await call('DELETE', `/sessions/${sx.id}`, { token: hx!.token });
    expect(await poll(wantsX!, qx.id)).toMatchObject({ status: 'provisioning', node_id: nx.id });
    expect(await poll(wantsY!, qy.id)).toMatchObject({ status: 'queued', position: 1 });
  });

  it('drops a waiter whose keep-alive lapsed; one that keeps polling stays and moves up', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const node = await onlineNode(w, [game], { capacity: 1 });
    const [holder, quiet, faithful] = await players(w, 3, game);
    const held = await json<SessionBody>(await play(holder!, w, game));
    const base = Date.now();
    const qq = await json<Queued>(await play(quiet!, w, game));
    const qf = await json<Queued>(await play(faithful!, w, game));
    for (const t of [10_000, 20_000, 30_000, 40_000]) {
      clock.freeze(base + t);
      await heartbeat(node.token, [install(game)], { sessions: [{ id: held.id, status: 'active' }] });
      await poll(faithful!, qf.id);
    }
    await runDurableObjectAlarm(allocator(w.org.id));
    const dropped = await poll(quiet!, qq.id);
    expect(dropped).toMatchObject({ status: 'ended', end_reason: 'queue_keepalive_lapsed', position: null });
    expect((await poll(faithful!, qf.id)).position).toBe(1);
    const row = await db(env).get<{ status: string }>(sql`SELECT status FROM play_sessions WHERE id = ${qq.id}`);
    expect(row?.status).toBe('ended');
  });

  it('keeps one queued entry per user: the same game again is the same entry, another game is refused', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const other = await makeGame();
    await onlineNode(w, [game, other], { capacity: 1 });
    const [holder, a] = await players(w, 2, game);
    await own(w.org.id, a!.id, other);
    await play(holder!, w, game);
    const first = await json<Queued>(await play(a!, w, game));
    const again = await play(a!, w, game, { queue: true, region: 'eu-west' });
    expect(again.status).toBe(202);
    expect((await json<Queued>(again)).id).toBe(first.id);
    const keyed = await startSession(a!, { org_id: w.org.id, user_id: a!.id, game_id: game, queue: true }, { 'Idempotency-Key': 'fresh-key' });
    expect((await json<Queued>(keyed)).id).toBe(first.id);
    const elsewhere = await play(a!, w, other);
    expect(elsewhere.status).toBe(409);
    expect(await json(elsewhere)).toMatchObject({ code: 'already_queued', details: { session_id: first.id } });
    expect((await allocator(w.org.id).queueEntries(w.org.id)).map((e) => e.id)).toEqual([first.id]);
  });

  it('DELETE leaves the queue and the others move up', async () => {
    const { a, b, qa, qb } = await lineOfTwo();
    const left = await call('DELETE', `/sessions/${qa.id}`, { token: a.token });
    expect(await json(left)).toMatchObject({ status: 'terminated', end_reason: 'left_queue', position: null });
    expect((await poll(b, qb.id)).position).toBe(1);
  });

  it('shows org admins the queue in order with names; refuses plain members', async () => {
    const { w, a, b, qa, qb } = await lineOfTwo();
    const res = await call('GET', `/orgs/${w.org.id}/queue`, { token: w.admin.token });
    expect(res.status).toBe(200);
    const list = await json<Array<{ id: number; username: string; position: number; game_name: string }>>(res);
    expect(list.map((e) => [e.id, e.username, e.position])).toEqual([
      [qa.id, a.username, 1],
      [qb.id, b.username, 2],
    ]);
    expect(list[0]!.game_name).toMatch(/^Game /);
    expect((await call('GET', `/orgs/${w.org.id}/queue`, { token: a.token })).status).toBe(403);
    const queuedList = await json<Array<{ id: number }>>(await call('GET', `/orgs/${w.org.id}/sessions?status=queued`, { token: w.admin.token }));
    expect(queuedList.map((s) => s.id).sort()).toEqual([qa.id, qb.id].sort());
    expect(await json(await call('GET', `/orgs/${w.org.id}/sessions?status=ended`, { token: w.admin.token }))).toEqual([]);
  });

  it('drains a burst of 200 queued players exactly once each, never over capacity', async () => {
    const w = await playWorld({ maxPerUser: 1 });
    const game = await makeGame();
    const crowd = await quickMembers(w, 200, game);
    const nodes = [await onlineNode(w, [game], { capacity: 2 }), await onlineNode(w, [game], { capacity: 3 })];
    const capacity = 5;
    clock.freeze(Date.now());
    const answers = await Promise.all(crowd.map((u) => play(u, w, game)));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(capacity);
    expect(answers.filter((r) => r.status === 202)).toHaveLength(200 - capacity);
    const bodies = await Promise.all(answers.map((r) => json<Queued>(r)));
    const positions = bodies.filter((b) => b.status === 'queued').map((b) => b.position!);
    expect(new Set(positions).size).toBe(200 - capacity);
    const ownerOf = new Map(bodies.map((b, i) => [b.id, crowd[i]!]));
    const served = new Map<number, number>();
    for (let round = 0; round < 100; round++) {
      const live = await db(env).all<{ id: number; user_id: number }>(
        sql`SELECT id, user_id FROM play_sessions WHERE org_id = ${w.org.id} AND status = 'provisioning'`,
      );
      const load = await seatsPerNode(w.org.id);
      expect(Object.values(load).reduce((s, n) => s + n, 0)).toBeLessThanOrEqual(capacity);
      for (const n of nodes) expect(load[String(n.id)] ?? 0).toBeLessThanOrEqual(n.capacity);
      if (live.length === 0) break;
      for (const s of live) served.set(s.user_id, (served.get(s.user_id) ?? 0) + 1);
      await Promise.all(live.map((s) => call('DELETE', `/sessions/${s.id}`, { token: ownerOf.get(s.id)!.token })));
    }
    expect(served.size).toBe(200);
    expect([...served.values()].every((n) => n === 1)).toBe(true);
    expect(await allocator(w.org.id).queueEntries(w.org.id)).toEqual([]);
    const rows = await db(env).all<{ n: number }>(sql`SELECT COUNT(*) AS n FROM play_sessions WHERE org_id = ${w.org.id} GROUP BY user_id`);
    expect(rows).toHaveLength(200);
    expect(rows.every((r) => r.n === 1)).toBe(true);
  }, 300_000);
});
