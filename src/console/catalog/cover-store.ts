/**
 * Cover images in R2: the type sniffed from the bytes, and content-addressed storage
 * (`covers/<game_id>-<sha256 prefix>.<ext>`). The cover routes and Steam art enrichment both store
 * covers through it.
 */
export const COVER_MAX_BYTES = 5 * 1024 * 1024;
/** Where covers live in the bucket, and what a cover key looks like (the public URL's last segment). */
export const COVER_PREFIX = 'covers/';
export const COVER_KEY = /^[0-9]{1,16}-[0-9a-f]{32}\.(png|jpg|webp|gif|avif)$/;

export type ImageType = { ext: 'png' | 'jpg' | 'webp' | 'gif' | 'avif'; mime: string };

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to));

/** The image type from its first bytes, or null. */
export function sniffImage(b: Uint8Array): ImageType | null {
  if (b.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)) return { ext: 'png', mime: 'image/png' };
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { ext: 'jpg', mime: 'image/jpeg' };
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return { ext: 'gif', mime: 'image/gif' };
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return { ext: 'webp', mime: 'image/webp' };
  // ISO-BMFF: [size][ftyp][major brand][minor][compatible brands...] within the ftyp box.
  if (b.length >= 16 && ascii(b, 4, 8) === 'ftyp') {
    const size = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    const end = Math.min(b.length, size >= 16 ? size : 16);
    const brands = [ascii(b, 8, 12)];
    for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(b, i, i + 4));
    if (brands.includes('avif') || brands.includes('avis')) return { ext: 'avif', mime: 'image/avif' };
  }
  return null;
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * Puts cover bytes into R2 under their content-addressed key (`covers/<game_id>-<sha256 prefix>.<ext>`);
 * the same picture always lands on the same key, so storing it twice writes nothing new.
 */
export async function storeCoverObject(env: Pick<Env, 'BUCKET'>, gameId: number, bytes: Uint8Array, type: ImageType) {
  const digest = hex(await crypto.subtle.digest('SHA-256', bytes));
  const key = `${gameId}-${digest.slice(0, 32)}.${type.ext}`;
  if (!(await env.BUCKET.head(COVER_PREFIX + key))) {
    await env.BUCKET.put(COVER_PREFIX + key, bytes, { httpMetadata: { contentType: type.mime }, customMetadata: { game_id: String(gameId), sha256: digest } });
  }
  // Root-relative: the same row is right whichever host served the upload (local, workers.dev, a
  // custom domain); clients resolve it against their API base.
  return { key, objectKey: COVER_PREFIX + key, coverUrl: `/covers/${key}` };
}

