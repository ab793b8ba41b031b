/**
 * Test helpers for libraries: replaying recorded Steam answers through `setWorld({ fetch })`,
 * building OpenID assertions, installing a game on an org's node, and making catalog games.
 *
 *   const steam = fakeSteam({ owned: [ownedGames], checkAuth: [valid] });  // queues; the last repeats
 *   ...; steam.restore();
 */
import { env } from 'cloudflare:test';
import { db } from '../../../src/db/client';
import { clusterNodes, downloadedGames, gameExternalIds, games } from '../../../src/db/schema';
import { setWorld, world } from '../../../src/world';
import assertionTemplate from '../../fixtures/steam/assertion.json';

export interface Recorded {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export function replay(r: Recorded): Response {
  const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  return new Response(body, { status: r.status, headers: r.headers });
}

export interface SteamCall {
  url: string;
  method: string;
  body: string;
}

export function fakeSteam(script: { owned?: Recorded[]; checkAuth?: Recorded[] }) {
  const calls: SteamCall[] = [];
  const queues = { owned: [...(script.owned ?? [])], checkAuth: [...(script.checkAuth ?? [])] };
  const next = (q: Recorded[]) => (q.length > 1 ? q.shift()! : q[0]);
  const restore = setWorld({
    fetch: async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      calls.push({ url, method: init?.method ?? 'GET', body: typeof init?.body === 'string' ? init.body : '' });
      if (url.startsWith('https://api.steampowered.com/IPlayerService/GetOwnedGames/v1/')) {
        const r = next(queues.owned);
        if (r) return replay(r);
      }
      if (url === 'https://steamcommunity.com/openid/login' && init?.method === 'POST') {
        const r = next(queues.checkAuth);
        if (r) return replay(r);
      }
      throw new TypeError(`unexpected outbound fetch in test: ${url}`);
    },
  });
  return { calls, restore };
}

/** A positive assertion as Steam would send it back for `returnTo`, stamped now. */
export function assertion(returnTo: string, overrides: Record<string, string> = {}): Record<string, string> {
  const stamp = new Date(world.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    ...(assertionTemplate as Record<string, string>),
    'openid.return_to': returnTo,
    'openid.response_nonce': `${stamp}${crypto.randomUUID().slice(0, 8)}`,
    ...overrides,
  };
}

let n = 0;
export async function makeGame(opts: { steam?: string; epic?: string; slug?: string; name?: string } = {}) {
  n += 1;
  const slug = opts.slug ?? `game-${n}-${crypto.randomUUID().slice(0, 6)}`;
  const row = await db(env).insert(games).values({ slug, name: opts.name ?? `Game ${n}` }).returning().get();
  if (opts.steam) await db(env).insert(gameExternalIds).values({ gameId: row.id, platform: 'steam', externalId: opts.steam }).run();
  if (opts.epic) await db(env).insert(gameExternalIds).values({ gameId: row.id, platform: 'epic', externalId: opts.epic }).run();
  return row;
}

/** Puts a game on a fresh, online node of the org: it becomes install ready there. */
export async function installGame(orgId: number, gameId: number) {
  n += 1;
  const node = await db(env)
    .insert(clusterNodes)
    .values({ orgId, name: `node-${n}`, region: 'eu-west', capacity: 4, status: 'active', lastSeen: new Date(world.now()).toISOString() })
    .returning()
    .get();
  await db(env).insert(downloadedGames).values({ orgId, nodeId: node.id, gameId, installPath: `/srv/games/${gameId}`, launcher: 'steam', executable: 'game.exe' }).run();
}
