/**
 * The Steam Web API call behind ownership verification: `IPlayerService/GetOwnedGames` with the
 * server's `STEAM_API_KEY`, through `world.fetch` (tests replay recorded answers).
 *
 * Steam answers a private profile (or private "game details") with `{"response":{}}`: that is
 * reported as `private`, never as "owns nothing", so callers do not withdraw anything for it.
 * 429 and 5xx (and network failures) are retried a bounded number of times with a short backoff
 * (Retry-After honoured up to 2 s); then the caller gets a 502 with a clear message. The key never
 * appears in errors or logs.
 *
 *   const r = await getOwnedGames(env, '76561197960287930');
 *   if (r.kind === 'private') ...; else for (const g of r.games) g.appid, g.playtime;
 */
import { BadGateway } from '../../http/errors';
import { z } from '../../http/openapi';
import { world } from '../../world';
import { steamConfig } from './steam-config';

export const MAX_ATTEMPTS = 3;
const MAX_WAIT_MS = 2000;

const OwnedGamesAnswer = z.object({
  response: z.object({
    game_count: z.number().int().min(0).optional(),
    games: z
      .array(z.object({ appid: z.number().int().positive(), playtime_forever: z.number().int().min(0).optional(), rtime_last_played: z.number().int().min(0).optional() }))
      .optional(),
  }),
});

export type OwnedGames = { kind: 'private' } | { kind: 'ok'; gameCount: number; games: Array<{ appid: number; playtime: number }> };

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function backoff(attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter !== null && /^[0-9]{1,4}$/.test(retryAfter) ? Number(retryAfter) : null;
  return Math.min(MAX_WAIT_MS, seconds !== null ? seconds * 1000 : 150 * 2 ** (attempt - 1));
}

export async function getOwnedGames(env: Pick<Env, 'STEAM_API_KEY' | 'STEAM_API_BASE'>, steamId: string): Promise<OwnedGames> {
  if (!env.STEAM_API_KEY) throw new BadGateway('Steam verification is not configured on this server', 'steam_not_configured');
  const url = `${steamConfig(env).apiBase}/IPlayerService/GetOwnedGames/v1/?${new URLSearchParams({ key: env.STEAM_API_KEY, steamid: steamId, include_played_free_games: '1', format: 'json' })}`;
  let last = 'no answer';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    let res: Response | null = null;
    try {
      res = await world.fetch(url, { headers: { Accept: 'application/json' } });
    } catch {
      last = 'network error';
    }
    if (res) {
      if (res.ok) {
        let parsed: z.infer<typeof OwnedGamesAnswer>;
        try {
          parsed = OwnedGamesAnswer.parse(await res.json());
        } catch {
          throw new BadGateway('Steam answered with an unexpected document; try again later', 'steam_bad_answer');
        }
        const r = parsed.response;
        if (r.game_count === undefined && r.games === undefined) return { kind: 'private' };
        const games = (r.games ?? []).map((g) => ({ appid: g.appid, playtime: g.playtime_forever ?? 0 }));
        return { kind: 'ok', gameCount: r.game_count ?? games.length, games };
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        throw new BadGateway('Steam refused this server’s API key; an operator must fix STEAM_API_KEY', 'steam_key_refused');
      }
      last = `HTTP ${res.status}`;
      const retryable = res.status === 429 || res.status >= 500;
      const retryAfter = res.headers.get('Retry-After');
      await res.body?.cancel();
      if (!retryable) break;
      if (attempt < MAX_ATTEMPTS) await wait(backoff(attempt, retryAfter));
      continue;
    }
    if (attempt < MAX_ATTEMPTS) await wait(backoff(attempt, null));
  }
  throw new BadGateway(`Steam did not answer the ownership check (${last}); try again later`, 'steam_unavailable');
}

const PlayerSummaries = z.object({
  response: z.object({
    players: z
      .array(
        z.object({
          steamid: z.string(),
          personaname: z.string().max(200).optional(),
          profileurl: z.string().max(500).optional(),
          avatarmedium: z.string().max(500).optional(),
          avatarfull: z.string().max(500).optional(),
        }),
      )
      .max(100),
  }),
});

export interface PlayerSummary {
  personaName: string | null;
  profileUrl: string | null;
  avatarUrl: string | null;
}

/**
 * The public persona of a Steam account (`ISteamUser/GetPlayerSummaries/v2`): best effort, one
 * attempt with a short timeout — a link must not fail because Steam's profile service is slow.
 */
export async function getPlayerSummary(env: Pick<Env, 'STEAM_API_KEY' | 'STEAM_API_BASE'>, steamId: string): Promise<PlayerSummary | null> {
  if (!env.STEAM_API_KEY) return null;
  const url = `${steamConfig(env).apiBase}/ISteamUser/GetPlayerSummaries/v2/?${new URLSearchParams({ key: env.STEAM_API_KEY, steamids: steamId, format: 'json' })}`;
  try {
    const res = await world.fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) {
      await res.body?.cancel();
      return null;
    }
    const player = PlayerSummaries.parse(await res.json()).response.players.find((p) => p.steamid === steamId);
    if (!player) return null;
    return { personaName: player.personaname ?? null, profileUrl: player.profileurl ?? null, avatarUrl: player.avatarmedium ?? player.avatarfull ?? null };
  } catch {
    return null;
  }
}
