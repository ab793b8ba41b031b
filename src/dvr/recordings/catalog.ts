/**
 * The recordings catalog (issue 16): the readers every reader of recordings goes through — the
 * media directory JSON, `/api/sources/{d}/{u}/files`, filestat, the source thumbnail — and the
 * object keys of recordings and thumbnails in R2. Each reader is ONE indexed statement on
 * `recordings (source_id, state, rel_path)` (in queries.ts); R2 is never listed. These take `env`
 * for the readers outside recordings/ (media.ts, sources.ts).
 *
 *   const page = await listChildren(env, sourceId, '2026-02-18_22-01-31/', { limit: 500 });
 *   const files = await listFiles(env, sourceId, { limit: 200, after: 'x/y.ts' });
 */
import { db } from '../../db/client';
import * as q from './queries';

export type { ChildRow } from './queries';

export const recordingKey = (driver: string, username: string, relPath: string) => `recordings/${driver}/${username}/${relPath}`;

/** The `.mp4` the media agent makes of a `.ts` segment (remux with faststart); null for other files. */
export const remuxedPath = (relPath: string): string | null => (/\.ts$/i.test(relPath) ? relPath.replace(/\.ts$/i, '.mp4') : null);

/** The thumbnail key of a recording: beside it under `thumbnails/`, same basename, `.jpg` (the
 * dashboard asks for `{basename}.jpg` next to a file). */
export function thumbnailKeyFor(driver: string, username: string, relPath: string): string {
  return `thumbnails/${driver}/${username}/${relPath.replace(/\.[^./]*$/, '')}.jpg`;
}

/**
 * The immediate children of `dir` (empty or ending in `/`) among the stored recordings: directories
 * first, then files, by name; a directory's mtime is the newest object inside. Paginated by name
 * (`after` = the last name of the previous page).
 */
export function listChildren(env: Pick<Env, 'DB'>, sourceId: number, dir: string, page: { limit: number; after?: string }) {
  return q.listChildren(db(env), sourceId, dir, page);
}

/** Summary of the stored recordings below `dir` for filestat (contract §3.5), grouped by child. */
export function statChildren(env: Pick<Env, 'DB'>, sourceId: number, dir: string) {
  return q.statChildren(db(env), sourceId, dir);
}

/** Catalogued video files (`.ts`, `.mp4`, `.mkv`) of a source that are not deleted, by path, paginated (`/files`). */
export function listFiles(env: Pick<Env, 'DB'>, sourceId: number, page: { limit: number; after?: string }) {
  return q.listFiles(db(env), sourceId, page);
}

/** Is this a stored recording (or the thumbnail of one) of the source? Bytes are served only for
 * catalogued objects, so a deleted row stops playback even before R2 forgets the object. */
export function storedObject(env: Pick<Env, 'DB'>, sourceId: number, sub: string, kind: 'recording' | 'thumbnail'): Promise<{ id: number; thumbnailKey: string | null } | undefined> {
  return q.storedObject(db(env), sourceId, sub, kind);
}

/** The newest stored thumbnail of a source: the dashboard card's picture. */
export function latestThumbnail(env: Pick<Env, 'DB'>, sourceId: number): Promise<string | null> {
  return q.latestThumbnail(db(env), sourceId);
}
