/**
 * The Steam store's `appdetails` for one app (`{storeBase}/api/appdetails?appids=N`), parsed into
 * the catalog facts enrichment keeps. Store text is sanitised here (tags stripped, entities decoded,
 * control and bidi characters removed, lengths capped) because it is shown to every user.
 *
 *   const r = await fetchAppDetails(env, 620);
 *   r.kind: 'ok' (r.details) | 'not_found' | 'retry' (r.error, r.retryAfter?) | 'bad'
 */
import { z } from '../../http/openapi';
import { world } from '../../world';
import { steamConfig } from '../ownership/steam-config';

const Details = z.object({
  name: z.string().min(1),
  short_description: z.string().optional(),
  header_image: z.string().optional(),
  capsule_image: z.string().optional(),
  capsule_imagev5: z.string().optional(),
  platforms: z.object({ windows: z.boolean().optional(), mac: z.boolean().optional(), linux: z.boolean().optional() }).optional(),
  genres: z.array(z.object({ description: z.string() })).optional(),
  release_date: z.object({ coming_soon: z.boolean().optional(), date: z.string().optional() }).optional(),
  metacritic: z.object({ score: z.number(), url: z.string().optional() }).optional(),
});
const Answer = z.record(z.string(), z.object({ success: z.boolean(), data: z.unknown().optional() }));

export interface AppDetails {
  name: string;
  description: string | null;
  headerUrl: string | null;
  capsuleUrl: string | null;
  genres: string[];
  osPlatforms: string[];
  releaseDate: string | null;
  comingSoon: boolean;
  metacritic: { score: number; url: string | null } | null;
}

export type AppDetailsResult =
  | { kind: 'ok'; details: AppDetails }
  | { kind: 'not_found' }
  | { kind: 'retry'; error: string; retryAfter?: number }
  | { kind: 'bad'; error: string };

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Store HTML → plain text of at most `max` characters. */
export function plainText(s: string, max: number): string {
  return s
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    })
    .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max);
}

export async function fetchAppDetails(env: Pick<Env, 'STEAM_STORE_API_BASE'>, appid: string): Promise<AppDetailsResult> {
  const url = `${steamConfig(env).storeBase}/api/appdetails?${new URLSearchParams({ appids: appid, l: 'english', cc: 'us' })}`;
  let res: Response;
  try {
    res = await world.fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
  } catch {
    return { kind: 'retry', error: 'store unreachable' };
  }
  if (!res.ok) {
    await res.body?.cancel();
    const retryAfter = Number(res.headers.get('Retry-After'));
    if (res.status === 429 || res.status >= 500) return { kind: 'retry', error: `store answered HTTP ${res.status}`, ...(retryAfter > 0 ? { retryAfter } : {}) };
    return { kind: 'bad', error: `store answered HTTP ${res.status}` };
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    // The store answers `null` or an HTML error page when it sheds load: worth another try.
    return { kind: 'retry', error: 'store answered something that is not JSON' };
  }
  if (body === null) return { kind: 'retry', error: 'store answered null' };
  const answer = Answer.safeParse(body);
  const entry = answer.success ? answer.data[appid] : undefined;
  if (!entry) return { kind: 'bad', error: 'store answer has no entry for this app' };
  if (!entry.success) return { kind: 'not_found' };
  const parsed = Details.safeParse(entry.data);
  if (!parsed.success) return { kind: 'bad', error: 'store answer is missing the app’s name' };
  const d = parsed.data;
  const name = plainText(d.name, 200);
  if (!name) return { kind: 'bad', error: 'store answer has an empty name' };
  const os = d.platforms ?? {};
  const score = d.metacritic && Number.isFinite(d.metacritic.score) && d.metacritic.score >= 0 && d.metacritic.score <= 100 ? d.metacritic.score : null;
  return {
    kind: 'ok',
    details: {
      name,
      description: d.short_description ? plainText(d.short_description, 4000) || null : null,
      headerUrl: d.header_image ?? null,
      capsuleUrl: d.capsule_imagev5 ?? d.capsule_image ?? null,
      genres: (d.genres ?? []).map((g) => plainText(g.description, 64)).filter(Boolean).slice(0, 20),
      osPlatforms: (['windows', 'mac', 'linux'] as const).filter((k) => os[k]),
      releaseDate: d.release_date?.date ? plainText(d.release_date.date, 64) || null : null,
      comingSoon: d.release_date?.coming_soon ?? false,
      metacritic: score === null ? null : { score, url: d.metacritic?.url ? d.metacritic.url.slice(0, 500) : null },
    },
  };
}
