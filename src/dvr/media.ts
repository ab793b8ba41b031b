/**
 * Recordings and thumbnails from R2 (contract §4), mounted at `/media` and `/thumbnails`:
 *
 *   GET /media/subscriptions/{driver}/{username}/[subpath/]   → directory listing JSON (§4.2), 404 if empty
 *   GET /media/subscriptions/{driver}/{username}/{file path}  → the bytes, with Range (206) support
 *   GET /thumbnails/{driver}/{username}.jpg                   → source thumbnail (Cache-Control private, 60 s)
 *   GET /thumbnails/{driver}/{username}/{subpath/}{name}.jpg  → per-file thumbnail
 *
 * Subscriber-or-admin (the reference let any logged-in user read every recording). The paths hold
 * arbitrary sub-paths, so these are plain Hono routes validated here and documented in the OpenAPI
 * registry by hand.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { requireUser } from '../auth/middleware';
import { BadRequest, NotFound } from '../http/errors';
import { ErrorSchema, newRouter, z } from '../http/openapi';
import { visibleSource } from './access';
import { SEGMENT } from './paths';
import { listingFromCatalog, safeSubpath, serveObject } from './media-store';
import { latestThumbnail, listChildren, storedObject } from './recordings/catalog';

/** Listing pages: `?limit=` (1–5000, default 1000) and `?after=<last name of the previous page>`;
 * a full page carries `X-Next-After`. The dashboard asks without them (one page). */
const ListingQuery = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  after: z.string().min(1).max(255).optional(),
});

/** Splits `/prefix/a/b/c` into decoded segments; null on bad escapes. */
function segments(path: string, prefix: string): string[] | null {
  try {
    return path
      .slice(prefix.length)
      .split('/')
      .map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

function sourceOf(parts: string[] | null): { driver: string; username: string } {
  const [driver, username] = parts ?? [];
  if (!driver || !username || !SEGMENT.test(driver) || !SEGMENT.test(username)) throw new NotFound('not found');
  return { driver, username };
}

async function media(c: Context<AppEnv>) {
  const parts = segments(c.req.path, '/media/subscriptions/');
  const { driver, username } = sourceOf(parts);
  const src = await visibleSource(c, driver, username);
  if (parts!.length === 2) {
    // The SPA always asks with a trailing slash; NGINX answered 301 otherwise.
    return c.redirect(`/media/subscriptions/${encodeURIComponent(driver)}/${encodeURIComponent(username)}/`, 301);
  }
  const rest = parts!.slice(2).join('/');
  const isDir = rest === '' || rest.endsWith('/');
  const sub = safeSubpath(rest);
  if (sub === null) throw new BadRequest('invalid path', 'invalid_path');
  if (isDir) {
    const q = ListingQuery.safeParse({ limit: c.req.query('limit'), after: c.req.query('after') });
    if (!q.success) throw new BadRequest('invalid listing page', 'validation_failed');
    const rows = await listChildren(c.env, src.id, sub ? `${sub}/` : '', q.data);
    const entries = listingFromCatalog(rows);
    if (!entries) throw new NotFound('directory not found');
    if (rows.length === q.data.limit) c.header('X-Next-After', encodeURIComponent(rows[rows.length - 1]!.name));
    c.header('Cache-Control', 'private, no-cache');
    return c.json(entries, 200);
  }
  // Only catalogued, stored recordings are served: a deleted row stops playback at once.
  if (!sub || !(await storedObject(c.env, src.id, sub, 'recording'))) throw new NotFound('file not found');
  const res = await serveObject(c.env.BUCKET, `recordings/${driver}/${username}/${sub}`, c.req.raw, { cacheControl: 'private, no-cache' });
  if (!res) throw new NotFound('file not found');
  return res;
}

async function thumbnail(c: Context<AppEnv>) {
  const parts = segments(c.req.path, '/thumbnails/');
  if (parts && parts.length === 2 && parts[1]!.toLowerCase().endsWith('.jpg')) {
    // `/thumbnails/{driver}/{username}.jpg`: the card picture, i.e. the newest catalogued thumbnail
    // (an object put at the legacy key by hand still wins, for imported trees).
    const { driver, username } = sourceOf([parts[0]!, parts[1]!.slice(0, -4)]);
    const src = await visibleSource(c, driver, username);
    const opts = { cacheControl: 'private, max-age=60' };
    let res = await serveObject(c.env.BUCKET, `thumbnails/${driver}/${username}.jpg`, c.req.raw, opts);
    if (!res) {
      const key = await latestThumbnail(c.env, src.id);
      if (key) res = await serveObject(c.env.BUCKET, key, c.req.raw, opts);
    }
    if (!res) throw new NotFound('thumbnail not found');
    return res;
  }
  const { driver, username } = sourceOf(parts);
  const src = await visibleSource(c, driver, username);
  const sub = safeSubpath(parts!.slice(2).join('/'));
  if (!sub || !sub.toLowerCase().endsWith('.jpg')) throw new NotFound('thumbnail not found');
  const row = await storedObject(c.env, src.id, sub, 'thumbnail');
  const res = row?.thumbnailKey ? await serveObject(c.env.BUCKET, row.thumbnailKey, c.req.raw, { cacheControl: 'private, max-age=60' }) : null;
  if (!res) throw new NotFound('thumbnail not found');
  return res;
}

// The handlers read the whole request path (c.req.path), so the mount prefix is only the route.
export const mediaRoutes = newRouter();
mediaRoutes.on(['GET', 'HEAD'], '/subscriptions/*', requireUser, media);
export const thumbnailRoutes = newRouter();
thumbnailRoutes.on(['GET', 'HEAD'], '/*', requireUser, thumbnail);

const Listing = z
  .array(z.object({ name: z.string(), type: z.enum(['directory', 'file', 'other']), mtime: z.string(), size: z.number().int().optional() }))
  .openapi('MediaListing');
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
const PathParams = z.object({ driver: z.string(), username: z.string(), path: z.string() });

mediaRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/subscriptions/{driver}/{username}/{path}',
  operationId: 'getRecordingMedia',
  tags: ['dvr media'],
  security: [{ bearer: [] }],
  summary: 'A directory listing (path empty or ending in /) or a recording file (Range supported); subscriber or admin',
  request: { params: PathParams, query: ListingQuery },
  responses: {
    200: { description: 'Listing JSON or the file', content: { 'application/json': { schema: Listing }, 'video/mp2t': { schema: z.string() } } },
    206: { description: 'Partial content (Range)' },
    301: { description: 'Missing trailing slash on a source root' },
    403: errorResponse('Missing or invalid token'),
    404: errorResponse('No such directory/file, or not a subscriber'),
    416: { description: 'Range not satisfiable' },
  },
});
thumbnailRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/{driver}/{path}',
  operationId: 'getThumbnail',
  tags: ['dvr media'],
  security: [{ bearer: [] }],
  summary: 'A source thumbnail (`{username}.jpg`) or a per-file one (`{username}/.../{name}.jpg`); subscriber or admin',
  request: { params: z.object({ driver: z.string(), path: z.string() }) },
  responses: {
    200: { description: 'JPEG', content: { 'image/jpeg': { schema: z.string() } } },
    304: { description: 'Not modified (ETag)' },
    403: errorResponse('Missing or invalid token'),
    404: errorResponse('No thumbnail, or not a subscriber'),
  },
});
