/**
 * Recordings and thumbnails in R2 (contract §4): `recordings/{driver}/{username}/...` and
 * `thumbnails/{driver}/{username}[.jpg|/...]`. Lists a prefix as the NGINX-autoindex-style JSON of
 * §4.2, sums a tree for filestat (§3.5), and serves objects with HTTP Range support.
 *
 *   const entries = await listDirectory(env.BUCKET, 'recordings/chaturbate/alice/', 'thumbnails/chaturbate/alice/');
 *   return serveObject(env.BUCKET, 'recordings/chaturbate/alice/x.ts', c.req.raw, { cacheControl: 'private, no-store' });
 */

/** A subpath below a source directory: no `..`, no empty or dot segments, no backslashes. */
export function safeSubpath(raw: string): string | null {
  if (raw === '') return '';
  if (raw.includes('\\') || raw.includes('\0')) return null;
  const parts = raw.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..' || p.length > 255)) return null;
  return parts.join('/');
}

interface Obj {
  key: string;
  size: number;
  uploaded: Date;
}

/** Every object under a prefix (paginated), up to `cap`. */
async function listAll(bucket: R2Bucket, prefix: string, cap = 20_000): Promise<{ objects: Obj[]; truncated: boolean }> {
  const objects: Obj[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    for (const o of page.objects) objects.push({ key: o.key, size: o.size, uploaded: o.uploaded });
    if (!page.truncated || objects.length >= cap) return { objects, truncated: page.truncated };
    cursor = page.cursor;
  }
}

export interface ListingEntry {
  name: string;
  type: 'directory' | 'file';
  mtime: string;
  size?: number;
}

/**
 * The immediate children of `prefix` (which ends with `/`), directories first then by name,
 * dot-files omitted; directory mtime = newest object inside it. `.jpg` files at the same level under
 * `thumbPrefix` are merged in, because the dashboard shows a file's thumbnail only when the listing
 * holds `{basename}.jpg`. Null when nothing exists under the prefix (404).
 */
export async function listDirectory(bucket: R2Bucket, prefix: string, thumbPrefix?: string): Promise<ListingEntry[] | null> {
  const { objects } = await listAll(bucket, prefix);
  const thumbs = thumbPrefix ? (await bucket.list({ prefix: thumbPrefix, delimiter: '/', limit: 1000 })).objects : [];
  if (objects.length === 0 && thumbs.length === 0) return null;
  const dirs = new Map<string, Date>();
  const files = new Map<string, ListingEntry>();
  for (const o of objects) {
    const rest = o.key.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash === -1) {
      files.set(rest, { name: rest, type: 'file', mtime: o.uploaded.toUTCString(), size: o.size });
    } else {
      const name = rest.slice(0, slash);
      const seen = dirs.get(name);
      if (!seen || seen < o.uploaded) dirs.set(name, o.uploaded);
    }
  }
  for (const t of thumbs) {
    const name = t.key.slice(thumbPrefix!.length);
    if (name.toLowerCase().endsWith('.jpg') && !files.has(name)) files.set(name, { name, type: 'file', mtime: t.uploaded.toUTCString(), size: t.size });
  }
  const out: ListingEntry[] = [];
  for (const [name, at] of [...dirs].sort(([a], [b]) => cmp(a, b))) if (name && !name.startsWith('.')) out.push({ name, type: 'directory', mtime: at.toUTCString() });
  for (const f of [...files.values()].sort((a, b) => cmp(a.name, b.name))) if (f.name && !f.name.startsWith('.')) out.push(f);
  return out;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface StatChild {
  name: string;
  type: 'file' | 'directory';
  total_bytes: number;
  file_count: number;
  ts_count: number;
  estimated_minutes: number;
}

/** filestat (contract §3.5) over a prefix; null when nothing exists there. */
export async function statTree(bucket: R2Bucket, prefix: string, segmentSeconds: number) {
  const { objects } = await listAll(bucket, prefix);
  if (objects.length === 0) return null;
  const children = new Map<string, StatChild>();
  for (const o of objects) {
    const rest = o.key.slice(prefix.length);
    const slash = rest.indexOf('/');
    const name = slash === -1 ? rest : rest.slice(0, slash);
    if (!name) continue;
    let child = children.get(name);
    if (!child) {
      child = { name, type: slash === -1 ? 'file' : 'directory', total_bytes: 0, file_count: 0, ts_count: 0, estimated_minutes: 0 };
      children.set(name, child);
    }
    child.total_bytes += o.size;
    child.file_count += 1;
    if (child.type === 'directory' && rest.endsWith('.ts')) child.ts_count += 1;
  }
  const list = [...children.values()].sort((a, b) => cmp(a.name, b.name));
  for (const c of list) if (c.type === 'directory') c.estimated_minutes = Math.floor((c.ts_count * segmentSeconds) / 60);
  return {
    children: list,
    total_bytes: list.reduce((n, c) => n + c.total_bytes, 0),
    file_count: list.reduce((n, c) => n + c.file_count, 0),
  };
}

/** Recording files of a source for `/files` (the reference read them from its converter). */
export async function listRecordings(bucket: R2Bucket, prefix: string, cap = 1000) {
  const { objects } = await listAll(bucket, prefix, cap);
  return objects
    .filter((o) => /\.(ts|mp4|mkv)$/i.test(o.key))
    .slice(0, cap)
    .map((o) => ({ filename: o.key.slice(o.key.lastIndexOf('/') + 1), path: o.key.slice('recordings'.length), status: 'stored', pipeline: 'r2' }));
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
  const inm = req.headers.get('If-None-Match');
  if (inm && inm.split(',').some((t) => t.trim() === head.httpEtag)) return new Response(null, { status: 304, headers });
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
