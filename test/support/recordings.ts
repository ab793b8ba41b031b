/**
 * Test helpers for the recordings catalog: put an object in R2 and register it as a stored
 * recording, the way a completed ingest would (issue 16). `catalogBytes` records a size other than
 * the object's (large recordings without large test objects).
 *
 *   await storeRecording('chaturbate', 'mia', '2026-02-18_22-01-31/x_00000.ts', bytes, { thumbnail: jpeg });
 */
import { env } from 'cloudflare:test';

export async function sourceIdOf(driver: string, username: string): Promise<number> {
  const row = await env.DB.prepare('SELECT id FROM sources WHERE driver = ?1 AND username = ?2').bind(driver, username).first<{ id: number }>();
  if (!row) throw new Error(`no source ${driver}/${username}`);
  return row.id;
}

export async function storeRecording(
  driver: string,
  username: string,
  relPath: string,
  body: Uint8Array | string,
  opts: { thumbnail?: Uint8Array; storedAt?: string; sessionId?: number | null; state?: string; catalogBytes?: number } = {},
): Promise<number> {
  const sourceId = await sourceIdOf(driver, username);
  const key = `recordings/${driver}/${username}/${relPath}`;
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  await env.BUCKET.put(key, bytes);
  let thumbKey: string | null = null;
  if (opts.thumbnail) {
    thumbKey = `thumbnails/${driver}/${username}/${relPath.replace(/\.[^./]*$/, '')}.jpg`;
    await env.BUCKET.put(thumbKey, opts.thumbnail);
  }
  const storedAt = opts.storedAt ?? new Date().toISOString();
  const row = await env.DB.prepare(
    `INSERT INTO recordings (source_id, session_id, rel_path, r2_key, bytes, started_at, ended_at, thumbnail_key, thumbnail_bytes, state, stored_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?6) RETURNING id`,
  )
    .bind(sourceId, opts.sessionId ?? null, relPath, key, opts.catalogBytes ?? bytes.byteLength, storedAt, thumbKey, opts.thumbnail?.byteLength ?? null, opts.state ?? 'stored')
    .first<{ id: number }>();
  return row!.id;
}
