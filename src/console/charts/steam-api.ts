/**
 * The fallback source: Steam's official `ISteamChartsService/GetMostPlayedGames` (Steam Web API,
 * key `STEAM_API_KEY`). It gives ranks, appids and the daily peak, but no names: the snapshot
 * writer takes names from the catalog or from the stub it creates.
 *
 *   if (steamApiConfigured(env)) rows = await mostPlayedGames(env, AbortSignal.timeout(10_000));
 *
 * The key travels only in the request URL: it is never logged nor put in an error message.
 */
import { z } from '../../http/openapi';
import { world } from '../../world';
import { steamConfig, type SteamVars } from '../ownership/steam-config';
import { ChartSourceError, checkRanks, type ChartRow } from './scrape';

/** Under the Steam Web API base (`STEAM_API_BASE`, so staging and tests can point at a double). */
export const STEAM_MOST_PLAYED_PATH = '/ISteamChartsService/GetMostPlayedGames/v1/';

const MostPlayed = z.object({
  response: z.object({
    rollup_date: z.number().int().optional(),
    ranks: z
      .array(
        z.object({
          rank: z.number().int().positive(),
          appid: z.number().int().positive().max(0x7fffffff),
          last_week_rank: z.number().int().optional(),
          peak_in_game: z.number().int().nonnegative().optional(),
        }),
      )
      .max(1000),
  }),
});

export function steamApiConfigured(env: Pick<Env, 'STEAM_API_KEY'>): boolean {
  return typeof env.STEAM_API_KEY === 'string' && env.STEAM_API_KEY.trim() !== '';
}

export async function mostPlayedGames(env: Pick<Env, 'STEAM_API_KEY'> & SteamVars, signal: AbortSignal): Promise<ChartRow[]> {
  const url = new URL(`${steamConfig(env).apiBase}${STEAM_MOST_PLAYED_PATH}`);
  url.searchParams.set('key', env.STEAM_API_KEY.trim());
  const res = await world.fetch(url, { signal, headers: { Accept: 'application/json' } });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new ChartSourceError(`Steam API answered HTTP ${res.status}`);
  }
  let parsed;
  try {
    parsed = MostPlayed.safeParse(await res.json());
  } catch {
    throw new ChartSourceError('Steam API answered with invalid JSON');
  }
  if (!parsed.success) throw new ChartSourceError('Steam API answer has an unexpected shape');
  const top = parsed.data.response.ranks.filter((r) => r.rank <= 10);
  if (top.length < 10) throw new ChartSourceError(`Steam API returned only ${top.length} of the top 10 ranks`);
  return checkRanks(
    top.map((r) => ({ rank: r.rank, appid: r.appid, name: null, currentPlayers: null, peakPlayers: r.peak_in_game ?? null, hoursPlayed: null })),
  );
}
