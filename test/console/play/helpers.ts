/**
 * Builders for the play tests: an org with an admin, games, nodes registered through the API (so
 * the token is real), heartbeats from node agents, and verified library rows seeded straight into
 * D1 (the library API belongs to another area).
 *
 *   const w = await playWorld();                           // org + admin
 *   const game = await makeGame();
 *   const node = await registerNode(w, { region: 'eu-west', capacity: 2 });
 *   await heartbeat(node.token, [install(game)]);
 *   const alice = await member(w); await own(w.org.id, alice.id, game);
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { afterEach, expect, vi } from 'vitest';
import type { OrgAllocator } from '../../../durable-objects/org-allocator';
import { setWorld } from '../../../src/world';
import { db } from '../../../src/db/client';
import { startLogin } from '../../../src/auth/refresh';
import { games, gameExternalIds, memberships, userGameLibrary, users } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../../support/users';

export interface World {
  org: { id: number; slug: string; name: string };
  admin: TestUser;
}

export interface TestNode {
  id: number;
  token: string;
  name: string;
  region: string;
  capacity: number;
}

let seq = 0;

export async function playWorld(opts: { policy?: 'spread' | 'pack'; maxPerUser?: number } = {}): Promise<World> {
  const org = await makeOrg();
  const admin = await makeUser();
  await addMember(org.id, admin.id, 'admin');
  if (opts.policy || opts.maxPerUser) {
    await db(env).run(sql`UPDATE orgs SET allocation_policy = ${opts.policy ?? 'spread'}, max_sessions_per_user = ${opts.maxPerUser ?? 1} WHERE id = ${org.id}`);
  }
  return { org, admin };
}

export async function makeGame(opts: { steamAppid?: string } = {}): Promise<number> {
  seq += 1;
  const slug = `game-${seq}-${crypto.randomUUID().slice(0, 6)}`;
  const row = await db(env).insert(games).values({ slug, name: `Game ${seq}` }).returning().get();
  if (opts.steamAppid) await db(env).insert(gameExternalIds).values({ gameId: row.id, platform: 'steam', externalId: opts.steamAppid }).run();
  return row.id;
}

export async function member(w: World, role: 'member' | 'admin' = 'member'): Promise<TestUser> {
  const u = await makeUser();
  await addMember(w.org.id, u.id, role);
  return u;
}

/**
 * Many members quickly, for load tests: rows inserted straight into D1 (no password hashing; these
 * users never log in with a password) with real access tokens, each owning `gameId`.
 */
export async function quickMembers(w: World, n: number, gameId: number): Promise<Array<{ id: number; token: string }>> {
  const out: Array<{ id: number; token: string }> = [];
  for (let i = 0; i < n; i++) {
    seq += 1;
    const tag = `${seq}-${crypto.randomUUID()}`;
    const row = await db(env).insert(users).values({ usernameDigest: `digest-${tag}`, usernameEnc: `enc-${tag}`, passHash: '!' }).returning().get();
    await db(env).insert(memberships).values({ orgId: w.org.id, userId: row.id, role: 'member' }).run();
    await own(w.org.id, row.id, gameId);
    const login = await startLogin(env, row, 'launcher');
    out.push({ id: row.id, token: login.accessToken });
  }
  return out;
}

/** A verified library entry (or an unverified one with `verified: false`). */
export async function own(orgId: number, userId: number, gameId: number, verified = true): Promise<void> {
  await db(env)
    .insert(userGameLibrary)
    .values({ orgId, userId, gameId, platform: 'steam', ownershipSource: 'steam', verifiedAt: verified ? new Date().toISOString() : null })
    .run();
}

export async function registerNode(w: World, opts: { name?: string; region?: string; capacity?: number; base?: string } = {}): Promise<TestNode> {
  seq += 1;
  const name = opts.name ?? `node-${seq}`;
  const region = opts.region ?? 'eu-west';
  const capacity = opts.capacity ?? 2;
  const res = await call('POST', `/orgs/${w.org.id}/nodes`, {
    token: w.admin.token,
    body: { name, region, capacity, stream_base_url: opts.base ?? `https://${name}.stream.example` },
  });
  if (res.status !== 201) throw new Error(`registerNode: ${res.status} ${await res.text()}`);
  const body = await json<{ node: { id: number }; token: string }>(res);
  return { id: body.node.id, token: body.token, name, region, capacity };
}

export function install(gameId: number, over: Partial<{ install_path: string; launcher: string; executable: string }> = {}) {
  const path = over.install_path ?? `/srv/games/${gameId}`;
  return {
    game_id: gameId,
    install_path: path,
    launcher: over.launcher ?? 'native',
    executable: over.executable ?? 'run.sh',
    proof: { path: `${path}/${over.executable ?? 'run.sh'}`, sha256: 'a'.repeat(64), size: 123_456, mtime: '2026-11-20T10:00:00Z' },
  };
}

export async function heartbeat(token: string, installs: unknown[], extra: Record<string, unknown> = {}): Promise<Response> {
  return call('POST', '/nodes/heartbeat', { token, body: { status: 'ready', installs, ...extra } });
}

/** A node registered, online, with the given games installed. */
export async function onlineNode(w: World, gameIds: number[], opts: Parameters<typeof registerNode>[1] = {}): Promise<TestNode> {
  const node = await registerNode(w, opts);
  const res = await heartbeat(node.token, gameIds.map((g) => install(g)));
  if (res.status !== 200) throw new Error(`heartbeat: ${res.status} ${await res.text()}`);
  return node;
}

export function startSession(user: Pick<TestUser, 'token'>, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return call('POST', '/sessions', { token: user.token, body, headers });
}

export interface SessionBody {
  id: number;
  org_id: number;
  user_id: number;
  game_id: number;
  status: string;
  stream_url: string | null;
  node_id: number | null;
  region: string | null;
  end_reason: string | null;
  created_at: string;
  updated_at: string;
  stream_token_expires_at: string | null;
}

export const allocator = (orgId: number) => env.ORG_ALLOCATOR.getByName(String(orgId));

/**
 * The allocator's live seats per node, read from its own storage (a test's view, not an RPC of the
 * production class). Any RPC first rebuilds lost storage from D1; `get` of an unknown id does
 * exactly that and nothing else.
 */
export function seatsPerNode(orgId: number): Promise<Record<string, number>> {
  return runInDurableObject(allocator(orgId), async (instance: OrgAllocator, state) => {
    await instance.get(orgId, 0);
    const out: Record<string, number> = {};
    for (const r of state.storage.sql.exec<{ node_id: number; n: number }>(
      `SELECT node_id, COUNT(*) AS n FROM seats WHERE status IN ('provisioning', 'active') GROUP BY node_id`,
    )) {
      out[String(r.node_id)] = r.n;
    }
    return out;
  });
}

/**
 * Waits until the allocator's D1 mirror has caught up (its outbox is empty). The allocator answers
 * before D1 has the rows (issue 17), so a test that reads D1 lists right after a decision waits here,
 * as a dashboard that polls would see the row a moment later.
 */
export async function mirrorDrained(orgId: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const pending = await runInDurableObject(allocator(orgId), (_i, state) =>
        state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).one().n,
      );
      expect(pending, 'rows the allocator has not delivered to D1 yet').toBe(0);
    },
    { timeout: 10_000, interval: 25 },
  );
}

/** Wakes the allocator (its constructor runs, as after a restart) without asking it anything. */
export function wakeAllocator(orgId: number): Promise<string> {
  return runInDurableObject(allocator(orgId), () => 'ok');
}

/**
 * The common opening of a play test: an org, a game, a member who owns it, an online node with the
 * game, and that member's play session on it.
 */
export async function playingSession(opts: Parameters<typeof registerNode>[1] = {}) {
  const w = await playWorld();
  const game = await makeGame();
  const alice = await member(w);
  await own(w.org.id, alice.id, game);
  const node = await onlineNode(w, [game], opts);
  const s = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
  return { w, game, alice, node, s };
}

/**
 * The shared clock (Worker and Durable Objects read `world.now()`), moved per test and restored
 * after each. Call once at the top of a test file.
 *
 *   const clock = worldClock();  clock.advance(31_000);  clock.freeze(Date.now());
 */
export function worldClock() {
  let restore: (() => void) | null = null;
  afterEach(() => {
    restore?.();
    restore = null;
  });
  const set = (now: () => number) => {
    restore?.();
    restore = setWorld({ now });
  };
  return {
    /** The clock reads `ms` later than real time from now on. */
    advance(ms: number) {
      const base = Date.now();
      set(() => base + ms);
    },
    /** The clock stands still at `at`. */
    freeze(at: number) {
      set(() => at);
    },
  };
}
