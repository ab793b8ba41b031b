/**
 * Game covers in R2.
 *
 *   PUT /games/{game_id}/cover   platform admin; the raw image bytes (≤ 5 MiB, limit set in
 *                                src/http/middleware.ts). The type is sniffed from magic bytes
 *                                (PNG, JPEG, WebP, GIF, AVIF); the declared Content-Type is ignored.
 *   GET /covers/{key}            public; `ETag`, long `Cache-Control` (keys are content-addressed,
 *                                so an object never changes under its key), `If-None-Match` → 304.
 *
 * Keys are `<game_id>-<sha256 prefix>.<ext>`: a new cover gets a new key and URL, so caches never
 * serve a stale image; the previous object is deleted once the game points at the new one.
 *
 *   curl -X PUT --data-binary @cover.png -H "Authorization: Bearer $T" https://host/games/7/cover
 */
import { createRoute } from '@hono/zod-openapi';
import { auditStatement } from '../../auth/audit';
import { requireAdmin, requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { matchesEtag } from '../../http/etag';
import { BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType } from '../../http/errors';
import { errors, IntId, json, newRouter, z } from '../../http/openapi';
import { nowIso } from '../../world';
import { COVER_KEY, COVER_MAX_BYTES, COVER_PREFIX, sniffImage, storeCoverObject } from '../catalog/cover-store';
import { gameCover, setGameCoverStatement } from './queries';

const CoverOut = z.object({ game_id: z.number().int(), key: z.string(), cover_url: z.string(), content_type: z.string(), size: z.number().int() }).openapi('Cover');
const imageContent = { schema: z.string().openapi({ type: 'string', format: 'binary' }) };

export const gameCoverRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'put',
      path: '/',
      operationId: 'putGameCover',
      tags: ['games'],
      summary: 'Upload a game’s cover (platform admin): PNG, JPEG, WebP, GIF or AVIF up to 5 MiB, recognised by content',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: {
        params: z.object({ game_id: IntId }),
        body: { required: true, content: { 'application/octet-stream': imageContent, 'image/*': imageContent } },
      },
      responses: { 200: json(CoverOut, 'Stored; the game’s `cover_url` now points at it'), ...errors(400, 401, 403, 404, 413, 415) },
    }),
    async (c) => {
      const { game_id } = c.req.valid('param');
      const d = db(c.env);
      const game = await gameCover(d, game_id);
      if (!game) throw new NotFound('game not found');
      // Raw bytes: zod cannot validate a binary body, so the sniffing below is the validation.
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.byteLength === 0) throw new BadRequest('empty body: send the image bytes', 'empty_body');
      if (bytes.byteLength > COVER_MAX_BYTES) throw new PayloadTooLarge();
      const type = sniffImage(bytes);
      if (!type) throw new UnsupportedMediaType('not a PNG, JPEG, WebP, GIF or AVIF image');
      const { key, coverUrl } = await storeCoverObject(c.env, game_id, bytes, type);
      await d.batch([
        setGameCoverStatement(d, game_id, COVER_PREFIX + key, coverUrl, nowIso()),
        auditStatement(c, 'game.cover.update', { targetType: 'game', targetId: game_id, details: { key, type: type.mime, size: bytes.byteLength } }),
      ]);
      if (game.coverKey && game.coverKey !== COVER_PREFIX + key) await c.env.BUCKET.delete(game.coverKey);
      return c.json({ game_id, key, cover_url: coverUrl, content_type: type.mime, size: bytes.byteLength }, 200);
    },
  );

export const coverRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/{key}',
      operationId: 'getCover',
      tags: ['games'],
      security: [],
      summary: 'A stored cover image, cacheable for a year (the key changes with the content)',
      request: { params: z.object({ key: z.string().max(80).regex(COVER_KEY, 'not a cover key') }) },
      responses: {
        200: { description: 'The image', content: { 'image/*': imageContent } },
        304: { description: 'Not modified (If-None-Match)' },
        ...errors(400, 404),
      },
    }),
    async (c) => {
      const { key } = c.req.valid('param');
      const obj = await c.env.BUCKET.get(COVER_PREFIX + key);
      if (!obj) throw new NotFound('cover not found');
      const etag = obj.httpEtag;
      const headers: Record<string, string> = {
        ETag: etag,
        'Cache-Control': 'public, max-age=31536000, immutable',
        'Content-Type': obj.httpMetadata?.contentType ?? 'application/octet-stream',
        // Covers are public pictures: the launcher may show them from another origin.
        'Cross-Origin-Resource-Policy': 'cross-origin',
      };
      if (matchesEtag(c.req.header('If-None-Match'), etag)) {
        await obj.body.cancel();
        return c.body(null, 304, headers);
      }
      headers['Content-Length'] = String(obj.size);
      return c.body(obj.body, 200, headers);
    },
  );
