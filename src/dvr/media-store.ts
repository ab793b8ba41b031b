/**
 * Recordings and thumbnails in R2 (contract §4): `recordings/{driver}/{username}/...` and
 * `thumbnails/{driver}/{username}[.jpg|/...]`. Shapes catalog rows (src/dvr/recordings/catalog.ts —
 * R2 is never listed) as the NGINX-autoindex-style JSON of §4.2 and filestat (§3.5), and serves
 * objects with HTTP Range support.
 *
 *   const entries = listingFromCatalog(await listChildren(env, sourceId, '', { limit: 1000 }));
 *   return serveObject(env.BUCKET, 'recordings/chaturbate/alice/x.ts', c.req.raw, { cacheControl: 'private, no-store' });
 */
import { matchesEtag } from '../http/etag';
import type { ChildRow } from './recordings/catalog';

/** A subpath below a source directory: no `..`, no empty or dot segments, no backslashes. */
export function safeSubpath(raw: string): string | null {
  if (raw === '') return '';
  if (raw.includes('\\') || raw.includes('\0')) return null;
  const parts = raw.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..' || p.length > 255)) return null;
  return parts.join('/');
}

export interface ListingEntry {
  name: string;
  type: 'directory' | 'file';
  mtime: string;
  size?: number;
}

const rfc1123 = (iso: string | null) => new Date(iso ?? 0).toUTCString();

/**
 * The NGINX-autoindex JSON (§4.2) of one page of catalog children (`listChildren`): directories
 * first, then files by name, dot-files omitted; a recording with a thumbnail also yields
 * `{basename}.jpg` beside it, because the dashboard shows a file's thumbnail only when the listing
 * holds that name. Null when there is nothing (404).
 */
export function listingFromCatalog(rows: readonly ChildRow[]): ListingEntry[] | null {
  if (rows.length === 0) return null;
  const dirs: ListingEntry[] = [];
  const files: ListingEntry[] = [];
  for (const r of rows) {
    if (!r.name || r.name.startsWith('.')) continue;
    if (r.isDir) {
      dirs.push({ name: r.name, type: 'directory', mtime: rfc1123(r.mtime) });
      continue;
    }
    files.push({ name: r.name, type: 'file', mtime: rfc1123(r.mtime), size: r.size });
    if (r.thumbBytes !== null) {
      const thumb = `${r.name.replace(/\.[^.]*$/, '')}.jpg`;
      if (thumb !== r.name) files.push({ name: thumb, type: 'file', mtime: rfc1123(r.thumbAt), size: r.thumbBytes });
    }
  }
  files.sort((a, b) => cmp(a.name, b.name));
  return [...dirs, ...files];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface StatChild {
  name: string;
  type: 'file' | 'directory';
  total_bytes: number;
  file_count: number;
  ts_count: number;
  estimated_minutes: number;
  /** Seconds the recorder reported for the segments below (absent when none reported one). */
  recorded_seconds?: number;
  /** Seconds recorded below but not stored yet, the live segment up to the last heartbeat included
   *  (absent when nothing is in progress there, or under a second). */
  in_progress_seconds?: number;
}

/** filestat (contract §3.5) from the catalog's grouped rows; null when nothing is stored there. */
export function statFromCatalog(
  rows: ReadonlyArray<{ name: string; isDir: number; totalBytes: number; fileCount: number; tsCount: number; recordedSeconds?: number | null; inProgressSeconds?: number | null }>,
  segmentSeconds: number,
) {
  if (rows.length === 0) return null;
  const children: StatChild[] = rows
    .filter((r) => r.name)
    .map((r) => ({
      name: r.name,
      type: r.isDir ? 'directory' : 'file',
      total_bytes: r.totalBytes,
      file_count: r.fileCount,
      ts_count: r.isDir ? r.tsCount : 0,
      estimated_minutes: r.isDir ? Math.floor((r.tsCount * segmentSeconds) / 60) : 0,
      // The minute estimate counts whole .ts segments: "~0 min" for a minute of .mp4 segments.
      ...(r.recordedSeconds != null ? { recorded_seconds: Math.round(r.recordedSeconds) } : {}),
      // Kept apart from recorded_seconds, which stays the stored files' own (beside their bytes and count);
      // absent below a second (a segment not yet heartbeated, or rows a silent recorder left behind).
      ...(r.inProgressSeconds != null && Math.round(r.inProgressSeconds) > 0 ? { in_progress_seconds: Math.round(r.inProgressSeconds) } : {}),
    }));
  return {
    children,
    total_bytes: children.reduce((n, c) => n + c.total_bytes, 0),
    file_count: children.reduce((n, c) => n + c.file_count, 0),
  };
}

/** `/files` FileInfo objects from catalog rows (the reference read them from its converter). */
export function fileInfos(rows: ReadonlyArray<{ relPath: string; r2Key: string; state: string }>) {
  return rows.map((r) => ({
    filename: r.relPath.slice(r.relPath.lastIndexOf('/') + 1),
    path: r.r2Key.slice('recordings'.length),
    status: r.state,
    pipeline: 'r2',
  }));
}

type Range = { offset: number; length: number } | 'unsatisfiable' | null;

/** One `bytes=` range against a known size (multi-range requests get the whole object). */
export function parseRange(header: string | null | undefined, size: number): Range {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(a);
  if (start >= size) return 'unsatisfiable';
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return null;
  return { offset: start, length: end - start + 1 };
}

/** A Map, not an object literal: the extension comes from the request path (`x.constructor`). */
const TYPES = new Map<string, string>([
  ['ts', 'video/mp2t'],
  ['mp4', 'video/mp4'],
  ['mkv', 'video/x-matroska'],
  ['jpg', 'image/jpeg'],
  ['jpeg', 'image/jpeg'],
  ['png', 'image/png'],
  ['json', 'application/json'],
  ['txt', 'text/plain; charset=utf-8'],
  ['log', 'text/plain; charset=utf-8'],
]);

function contentType(key: string): string {
  const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  return TYPES.get(ext) ?? 'application/octet-stream';
}

/** An object with Range (206/416) and conditional (304) support; null when it does not exist. */
export async function serveObject(bucket: R2Bucket, key: string, req: Request, opts: { cacheControl: string }): Promise<Response | null> {
  const head = await bucket.head(key);
  if (!head) return null;
  const headers = new Headers({
    'Content-Type': contentType(key),
    'Accept-Ranges': 'bytes',
    ETag: head.httpEtag,
    'Last-Modified': head.uploaded.toUTCString(),
    'Cache-Control': opts.cacheControl,
    'X-Content-Type-Options': 'nosniff',
  });
  if (matchesEtag(req.headers.get('If-None-Match'), head.httpEtag)) return new Response(null, { status: 304, headers });
  const range = req.method === 'HEAD' ? null : parseRange(req.headers.get('Range'), head.size);
  if (range === 'unsatisfiable') {
    headers.set('Content-Range', `bytes */${head.size}`);
    return new Response(null, { status: 416, headers });
  }
  if (req.method === 'HEAD') {
    headers.set('Content-Length', String(head.size));
    return new Response(null, { status: 200, headers });
  }
  const obj = await bucket.get(key, range ? { range } : undefined);
  if (!obj) return null;
  if (range) {
    headers.set('Content-Range', `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
    headers.set('Content-Length', String(range.length));
    return new Response(obj.body, { status: 206, headers });
  }
  headers.set('Content-Length', String(head.size));
  return new Response(obj.body, { status: 200, headers });
}
