/**
 * Where Steam lives, read from `[vars]` so staging and tests can point every outside call at a
 * double. Defaults are the real endpoints, used when a var is empty.
 *
 *   const steam = steamConfig(env);
 *   await world.fetch(`${steam.apiBase}/ISteamUser/GetPlayerSummaries/v2/?...`);
 *   if (!steam.artOrigins.has(new URL(url).origin)) refuse();
 */
export type SteamVars = Partial<Pick<Env, 'STEAM_OPENID_URL' | 'STEAM_API_BASE' | 'STEAM_STORE_API_BASE' | 'STEAM_ART_ORIGINS' | 'STEAM_RETURN_TO_URLS'>>;

export interface SteamConfig {
  /** The OpenID 2.0 provider endpoint (`op_endpoint` of every assertion). */
  openidUrl: string;
  /** Claimed ids are `<claimedIdPrefix><SteamID64>`. */
  claimedIdPrefix: string;
  apiBase: string;
  storeBase: string;
  artOrigins: Set<string>;
  /** Extra return_to bases (origin + path, no query) a self-run OpenID dance may use. */
  returnToUrls: string[];
}

const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
const noSlash = (s: string) => s.replace(/\/+$/, '');

function origin(s: string): string | null {
  try {
    return new URL(s).origin;
  } catch {
    return null;
  }
}

export function steamConfig(env: SteamVars): SteamConfig {
  const openidUrl = env.STEAM_OPENID_URL || 'https://steamcommunity.com/openid/login';
  return {
    openidUrl,
    claimedIdPrefix: `${origin(openidUrl) ?? 'https://steamcommunity.com'}/openid/id/`,
    apiBase: noSlash(env.STEAM_API_BASE || 'https://api.steampowered.com'),
    storeBase: noSlash(env.STEAM_STORE_API_BASE || 'https://store.steampowered.com'),
    artOrigins: new Set(list(env.STEAM_ART_ORIGINS).flatMap((s) => origin(s) ?? [])),
    returnToUrls: list(env.STEAM_RETURN_TO_URLS),
  };
}
