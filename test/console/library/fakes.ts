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
import playerSummaries from '../../fixtures/steam/player-summaries.json';

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

/** A tiny real PNG (1×1): what the art hosts serve in tests. */
export const PNG_BYTES = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='),
  (ch) => ch.charCodeAt(0),
);

export interface FakeSteamScript {
  owned?: Recorded[];
  checkAuth?: Recorded[];
  /** GetPlayerSummaries answers (default: the recorded persona). */
  summaries?: Recorded[];
  /** Store appdetails answers, by appid. */
  appdetails?: Record<string, Recorded[]>;
  /** Art answers by URL (default: a PNG for any URL on an allowed art origin). */
  art?: Record<string, Recorded | Uint8Array>;
}

/**
 * Steam as the Worker sees it through `world.fetch`: the Web API, the OpenID provider, the store
 * and the art hosts, each answering from a script (the last answer of a queue repeats).
 */
export function fakeSteam(script: FakeSteamScript) {
  const calls: SteamCall[] = [];
  const queues = { owned: [...(script.owned ?? [])], checkAuth: [...(script.checkAuth ?? [])], summaries: [...(script.summaries ?? [playerSummaries as Recorded])] };
  const store: Record<string, Recorded[]> = Object.fromEntries(Object.entries(script.appdetails ?? {}).map(([k, v]) => [k, [...v]]));
  const next = (q: Recorded[]) => (q.length > 1 ? q.shift()! : q[0]);
  const restore = setWorld({
    fetch: async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      calls.push({ url, method: init?.method ?? 'GET', body: typeof init?.body === 'string' ? init.body : '' });
      if (url.startsWith('https://api.steampowered.com/IPlayerService/GetOwnedGames/v1/')) {
        const r = next(queues.owned);
        if (r) return replay(r);
      }
      if (url.startsWith('https://api.steampowered.com/ISteamUser/GetPlayerSummaries/v2/')) {
        const r = next(queues.summaries);
        if (r) return replay(r);
      }
      if (url === 'https://steamcommunity.com/openid/login' && init?.method === 'POST') {
        const r = next(queues.checkAuth);
        if (r) return replay(r);
      }
      if (url.startsWith('https://store.steampowered.com/api/appdetails?')) {
        const appid = new URL(url).searchParams.get('appids') ?? '';
        const q = store[appid];
        const r = q ? next(q) : undefined;
        if (r) return replay(r);
      }
      const origin = new URL(url).origin;
      if (/^https:\/\/(shared|cdn|avatars)\.(akamai\.|cloudflare\.|fastly\.)?steamstatic\.com$/.test(origin)) {
        const art = script.art?.[url];
        if (art instanceof Uint8Array) return new Response(art, { status: 200, headers: { 'Content-Type': 'image/jpeg' } });
        if (art) return replay(art);
        return new Response(PNG_BYTES, { status: 200, headers: { 'Content-Type': 'image/jpeg' } });
      }
      throw new TypeError(`unexpected outbound fetch in test: ${url}`);
    },
  });
  return { calls, restore, callsTo: (prefix: string) => calls.filter((c) => c.url.startsWith(prefix)) };
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
