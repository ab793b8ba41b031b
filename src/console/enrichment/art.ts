/**
 * Fetching a picture named by an outside payload (store art, a Steam avatar) without letting that
 * payload aim our fetches: only origins listed in `STEAM_ART_ORIGINS` are contacted, redirects are
 * followed by hand and only to listed origins, the body is read up to a size cap, and the bytes must
 * be an image we recognise by content (PNG, JPEG, WebP, GIF, AVIF) whatever the headers claim.
 *
 *   const art = await fetchArt(env, 'https://shared.akamai.steamstatic.com/.../header.jpg');
 *   if (art.ok) await storeCover(env, gameId, art.bytes);  else art.error, art.retryable
 */
import { world } from '../../world';
import { COVER_MAX_BYTES, sniffImage } from '../catalog/cover-store';
import { steamConfig } from '../ownership/steam-config';

export type ArtResult =
  | { ok: true; bytes: Uint8Array; mime: string; ext: string }
  | { ok: false; error: string; retryable: boolean; retryAfter?: number };

const MAX_REDIRECTS = 3;

async function readCapped(res: Response, cap: number): Promise<Uint8Array | null> {
  const declared = Number(res.headers.get('Content-Length') ?? '0');
  if (declared > cap) {
    await res.body?.cancel();
    return null;
  }
  if (!res.body) return new Uint8Array();
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel();
      return null;
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export async function fetchArt(env: Pick<Env, 'STEAM_ART_ORIGINS'>, url: string, cap = COVER_MAX_BYTES): Promise<ArtResult> {
  const allowed = steamConfig(env).artOrigins;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, error: 'art URL is not a URL', retryable: false };
  }
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (!allowed.has(target.origin) || target.username || target.password) return { ok: false, error: `art host not allowed: ${target.origin}`, retryable: false };
    let res: Response;
    try {
      res = await world.fetch(target.href, { redirect: 'manual', headers: { Accept: 'image/*' }, signal: AbortSignal.timeout(10_000) });
    } catch {
      return { ok: false, error: 'art host unreachable', retryable: true };
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const next = res.headers.get('Location');
      if (!next) return { ok: false, error: `art redirect without Location (HTTP ${res.status})`, retryable: false };
      target = new URL(next, target);
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      const retryAfter = Number(res.headers.get('Retry-After'));
      return { ok: false, error: `art host answered HTTP ${res.status}`, retryable: res.status === 429 || res.status >= 500, ...(retryAfter > 0 ? { retryAfter } : {}) };
    }
    const bytes = await readCapped(res, cap);
    if (!bytes) return { ok: false, error: `art larger than ${cap} bytes`, retryable: false };
    const type = sniffImage(bytes);
    if (!type) return { ok: false, error: 'art is not a PNG, JPEG, WebP, GIF or AVIF image', retryable: false };
    return { ok: true, bytes, mime: type.mime, ext: type.ext };
  }
  return { ok: false, error: 'too many art redirects', retryable: false };
}

/** A small image as a `data:` URL (avatars: the dashboard's CSP allows `data:` images, not Steam's CDN). */
export function dataUrl(art: { bytes: Uint8Array; mime: string }): string {
  let s = '';
  for (const b of art.bytes) s += String.fromCharCode(b);
  return `data:${art.mime};base64,${btoa(s)}`;
}
