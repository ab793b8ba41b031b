/**
 * The recordings catalog (issue 16): the queries every reader of recordings goes through — the
 * media directory JSON, `/api/sources/{d}/{u}/files`, filestat, the source thumbnail. Each is ONE
 * indexed statement on `recordings (source_id, state, rel_path)`; R2 is never listed.
 *
 *   const page = await listChildren(env, sourceId, '2026-02-18_22-01-31/', { limit: 500 });
 *   const files = await listFiles(env, sourceId, { limit: 200, after: 'x/y.ts' });
 */
import { and, asc, desc, eq, exists, gt, gte, inArray, isNotNull, like, lt, notExists, or, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { db, type Db } from '../../db/client';
import { recordings } from '../../db/schema';
import { nowIso } from '../../world';

export type RecordingState = 'recording' | 'uploading' | 'stored' | 'deleted';

export const recordingKey = (driver: string, username: string, relPath: string) => `recordings/${driver}/${username}/${relPath}`;

/** The `.mp4` the media agent makes of a `.ts` segment (remux with faststart); null for other files. */
export const remuxedPath = (relPath: string): string | null => (/\.ts$/i.test(relPath) ? relPath.replace(/\.ts$/i, '.mp4') : null);

/**
 * A remuxed segment is ONE recording: the `.ts` row the recorder's events made becomes the `.mp4`
 * row (same id, session, times, pins) — renamed when no `.mp4` row exists yet, dropped when one does
 * (the upload got there first). Only rows still `recording`/`uploading` move: a stored `.ts` is a
 * different object and a deleted one stays deleted. Both statements are conditional, so the pair is
 * safe to repeat and to race with the events (which drop a late `.ts` row the same way).
 */
export function adoptRemuxed(d: Db, sourceId: number, tsRel: string, mp4Rel: string, mp4Key: string) {
  const twin = alias(recordings, 'twin');
  const mp4Exists = d
    .select({ one: sql`1` })
    .from(twin)
    .where(and(eq(twin.sourceId, sourceId), eq(twin.relPath, mp4Rel)));
  const tsRow = and(eq(recordings.sourceId, sourceId), eq(recordings.relPath, tsRel), inArray(recordings.state, ['recording', 'uploading']));
  return [
    d
      .update(recordings)
      .set({ relPath: mp4Rel, r2Key: mp4Key, updatedAt: nowIso() })
      .where(and(tsRow, notExists(mp4Exists))),
    d.delete(recordings).where(and(tsRow, exists(mp4Exists))),
  ] as const;
}

/** The thumbnail key of a recording: beside it under `thumbnails/`, same basename, `.jpg` (the
 * dashboard asks for `{basename}.jpg` next to a file). */
export function thumbnailKeyFor(driver: string, username: string, relPath: string): string {
  return `thumbnails/${driver}/${username}/${relPath.replace(/\.[^./]*$/, '')}.jpg`;
}

/** `rel_path` range of a directory prefix (`a/b/` → [`a/b/`, `a/b0`)): an index range, not a LIKE. */
function under(dir: string): SQL | undefined {
  if (dir === '') return undefined;
  const hi = dir.slice(0, -1) + String.fromCharCode(dir.charCodeAt(dir.length - 1) + 1);
  return and(gte(recordings.relPath, dir), lt(recordings.relPath, hi));
}

export interface ChildRow {
  name: string;
  isDir: number;
  mtime: string | null;
  size: number;
  thumbBytes: number | null;
  thumbAt: string | null;
}

/**
 * The immediate children of `dir` (empty or ending in `/`) among the stored recordings: directories
 * first, then files, by name; a directory's mtime is the newest object inside. Paginated by name
 * (`after` = the last name of the previous page). One grouped statement over the index range.
 */
export async function listChildren(env: Pick<Env, 'DB'>, sourceId: number, dir: string, page: { limit: number; after?: string }): Promise<ChildRow[]> {
  const start = dir.length + 1;
  const rest = sql`substr(${recordings.relPath}, ${start})`;
  const slash = sql`instr(${rest}, '/')`;
  const name = sql<string>`CASE WHEN ${slash} > 0 THEN substr(${rest}, 1, ${slash} - 1) ELSE ${rest} END`;
  const isDir = sql<number>`(${slash} > 0)`;
  const rows = await db(env)
    .select({
      name: name.as('name'),
      isDir: isDir.as('is_dir'),
      mtime: sql<string | null>`max(${recordings.storedAt})`,
      size: sql<number>`sum(${recordings.bytes})`,
      thumbBytes: sql<number | null>`max(${recordings.thumbnailBytes})`,
      thumbAt: sql<string | null>`max(CASE WHEN ${recordings.thumbnailKey} IS NOT NULL THEN ${recordings.storedAt} END)`,
    })
    .from(recordings)
    .where(and(eq(recordings.sourceId, sourceId), eq(recordings.state, 'stored'), under(dir)))
    .groupBy(sql`name`, sql`is_dir`)
    .having(page.after === undefined ? undefined : sql`name > ${page.after}`)
    .orderBy(sql`is_dir DESC`, sql`name`)
    .limit(page.limit);
  return rows;
}

/** Summary of the stored recordings below `dir` for filestat (contract §3.5), grouped by child. */
export async function statChildren(env: Pick<Env, 'DB'>, sourceId: number, dir: string) {
  const start = dir.length + 1;
  const rest = sql`substr(${recordings.relPath}, ${start})`;
  const slash = sql`instr(${rest}, '/')`;
  const name = sql<string>`CASE WHEN ${slash} > 0 THEN substr(${rest}, 1, ${slash} - 1) ELSE ${rest} END`;
  return db(env)
    .select({
      name: name.as('name'),
      isDir: sql<number>`(${slash} > 0)`.as('is_dir'),
      totalBytes: sql<number>`sum(${recordings.bytes})`,
      fileCount: sql<number>`count(*)`,
      tsCount: sql<number>`sum(CASE WHEN ${recordings.relPath} LIKE '%.ts' THEN 1 ELSE 0 END)`,
    })
    .from(recordings)
    .where(and(eq(recordings.sourceId, sourceId), eq(recordings.state, 'stored'), under(dir)))
    .groupBy(sql`name`, sql`is_dir`)
    .orderBy(sql`name`);
}

/** Catalogued video files (`.ts`, `.mp4`, `.mkv`) of a source that are not deleted, by path, paginated (`/files`). */
export async function listFiles(env: Pick<Env, 'DB'>, sourceId: number, page: { limit: number; after?: string }) {
  return db(env)
    .select({ relPath: recordings.relPath, r2Key: recordings.r2Key, state: recordings.state })
    .from(recordings)
    .where(
      and(
        eq(recordings.sourceId, sourceId),
        inArray(recordings.state, ['recording', 'uploading', 'stored']),
        or(like(recordings.relPath, '%.ts'), like(recordings.relPath, '%.mp4'), like(recordings.relPath, '%.mkv')),
        page.after === undefined ? undefined : gt(recordings.relPath, page.after),
      ),
    )
    .orderBy(asc(recordings.relPath))
    .limit(page.limit);
}

/** Is this a stored recording (or the thumbnail of one) of the source? Bytes are served only for
 * catalogued objects, so a deleted row stops playback even before R2 forgets the object. Both
 * lookups ride the `(source_id, state, rel_path)` index: a thumbnail `a/b.jpg` belongs to a
 * recording `a/b.<ext>`, i.e. a rel_path in [`a/b.`, `a/b/`). */
export async function storedObject(env: Pick<Env, 'DB'>, sourceId: number, sub: string, kind: 'recording' | 'thumbnail'): Promise<{ id: number; thumbnailKey: string | null } | undefined> {
  const base = sub.replace(/\.jpg$/i, '');
  const path =
    kind === 'recording' ? eq(recordings.relPath, sub) : and(gte(recordings.relPath, `${base}.`), lt(recordings.relPath, `${base}/`), isNotNull(recordings.thumbnailKey));
  return db(env)
    .select({ id: recordings.id, thumbnailKey: recordings.thumbnailKey })
    .from(recordings)
    .where(and(eq(recordings.sourceId, sourceId), eq(recordings.state, 'stored'), path))
    .limit(1)
    .get();
}

/** The newest stored thumbnail of a source: the dashboard card's picture. */
export async function latestThumbnail(env: Pick<Env, 'DB'>, sourceId: number): Promise<string | null> {
  const row = await db(env)
    .select({ key: recordings.thumbnailKey })
    .from(recordings)
    .where(and(eq(recordings.sourceId, sourceId), eq(recordings.state, 'stored'), isNotNull(recordings.thumbnailKey)))
    .orderBy(desc(recordings.storedAt), desc(recordings.id))
    .limit(1)
    .get();
  return row?.key ?? null;
}
