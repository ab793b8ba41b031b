import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it, onTestFinished } from 'vitest';
import { db } from '../../../src/db/client';
import { setWorld } from '../../../src/world';
import { makeGame, seatsPerNode, member, mirrorDrained, onlineNode, own, playWorld, quickMembers, startSession, type SessionBody } from './helpers';

describe('allocation under real concurrency', () => {
  it('gives exactly the free seats to hundreds of parallel requests and never overfills a node', async () => {
    const w = await playWorld({ policy: 'spread', maxPerUser: 1 });
    const game = await makeGame();
    const users = await quickMembers(w, 200, game);
    // Nodes last, so they are freshly online when the burst arrives.
    const nodes = [
      await onlineNode(w, [game], { capacity: 2, region: 'eu-west' }),
      await onlineNode(w, [game], { capacity: 3, region: 'eu-west' }),
      await onlineNode(w, [game], { capacity: 1, region: 'us-east' }),
    ];
    const seats = nodes.reduce((n, x) => n + x.capacity, 0);
    // A frozen clock: on a busy machine the burst may outlast NODE_OFFLINE_AFTER_SECONDS, and
    // this test is about seats, not liveness.
    const frozen = Date.now();
    const restore = setWorld({ now: () => frozen });
    onTestFinished(restore);
    const results = await Promise.all(
      users.map((u, i) => startSession(u, { org_id: w.org.id, user_id: u.id, game_id: game, ...(i % 2 ? { region: 'us-east' } : {}) })),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(seats);
    expect(refused).toHaveLength(200 - seats);
    for (const r of refused) expect(r.headers.get('Retry-After')).toBeTruthy();
    const sessions = await Promise.all(ok.map((r) => r.json() as Promise<SessionBody>));
    const perNode = new Map<number, number>();
    for (const s of sessions) perNode.set(s.node_id!, (perNode.get(s.node_id!) ?? 0) + 1);
    for (const n of nodes) expect(perNode.get(n.id), `node ${n.name}`).toBe(n.capacity);
    // D1 history agrees with the allocator, once its mirror (written after each answer) has caught up.
    await mirrorDrained(w.org.id);
    const live = await db(env).all<{ node_id: number; n: number }>(
      sql`SELECT node_id, COUNT(*) AS n FROM play_sessions WHERE org_id = ${w.org.id} AND status = 'provisioning' GROUP BY node_id`,
    );
    for (const row of live) expect(row.n).toBeLessThanOrEqual(nodes.find((n) => n.id === row.node_id)!.capacity);
    expect(live.reduce((s, r) => s + r.n, 0)).toBe(seats);
    expect(await seatsPerNode(w.org.id)).toEqual(
      Object.fromEntries(nodes.map((n) => [String(n.id), n.capacity])),
    );
  }, 120_000);

  it('never lets one user exceed the per-user limit, whatever the parallelism', async () => {
    const w = await playWorld({ maxPerUser: 2 });
    const alice = await member(w);
    const games: number[] = [];
    for (let i = 0; i < 30; i++) {
      const g = await makeGame();
      await own(w.org.id, alice.id, g);
      games.push(g);
    }
    await onlineNode(w, games, { capacity: 50 });
    const results = await Promise.all(games.map((g) => startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: g })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(2);
    expect(results.filter((r) => r.status === 429)).toHaveLength(28);
  });

  it('keeps orgs independent: a full org does not block another', async () => {
    const a = await playWorld();
    const b = await playWorld();
    const game = await makeGame();
    await onlineNode(a, [game], { capacity: 1 });
    await onlineNode(b, [game], { capacity: 1 });
    const ua = [await member(a), await member(a)];
    const ub = await member(b);
    for (const u of ua) await own(a.org.id, u.id, game);
    await own(b.org.id, ub.id, game);
    const [r1, r2, r3] = await Promise.all([
      startSession(ua[0]!, { org_id: a.org.id, user_id: ua[0]!.id, game_id: game }),
      startSession(ua[1]!, { org_id: a.org.id, user_id: ua[1]!.id, game_id: game }),
      startSession(ub, { org_id: b.org.id, user_id: ub.id, game_id: game }),
    ]);
    expect([r1!.status, r2!.status].sort()).toEqual([201, 429]);
    expect(r3!.status).toBe(201);
  });
});
