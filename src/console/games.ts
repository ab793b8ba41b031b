/**
 * The game catalog (contract §2.3, §3.6): public reads, platform-admin writes.
 *
 *   GET    /games?q=&platform=&limit=&offset=    paginated, searchable list of `GameSummary`
 *   GET    /games/{game_id}                      `GameSummary` + `platforms` + `ratings`
 *   POST   /games                                admin: create with `external_ids` and `ratings`
 *   PUT    /games/{game_id}                      admin: partial update; `external_ids`/`ratings` replace
 *   DELETE /games/{game_id}                      admin: delete (cascades; the R2 cover goes too)
 *   POST   /games/{game_id}/enrich               admin: re-fetch Steam store data in the background
 *
 * External ids are `{ platform: id }` with one id per platform, and a store id names one game
 * (unique (platform, external_id)): Steam verification and the chart scrape map appids through it.
 * Every summary comes from one query (`json_group_object` gathers external ids), never one per game.
 *
 *   The `GameSummary` model and its query live in catalog/game-summary.ts.
 */
import { createRoute } from '@hono/zod-openapi';
import { audit, auditStatement } from '../auth/audit';
import { requireAdmin, requireUser } from '../auth/middleware';
import { db } from '../db/client';
import type { games } from '../db/schema';
import { Conflict, NotFound } from '../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../http/openapi';
import { nowIso } from '../world';
import { gameSummary, toGameSummary } from './catalog/game-summary';
import { createGameStatements, deleteGameStatement, gameExists, gameForDelete, gameManualFields, gamePage, gameRatingsOf, updateGameStatements } from './catalog/queries';
import { cleanText, GameSummarySchema, isUniqueViolation } from './schemas';
import { refetchGame } from './enrichment/jobs';
import { manualFieldsOf, withManual } from './enrichment/manual';
import { gameMetadata } from './enrichment/queries';
import { forgetPlayFacts } from './play/facts';
import { orgIdsWithLibraryEntriesFor } from './play/queries';

export const Platform = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z0-9_]+$/, 'platform: lowercase letters, digits and "_"');

const GameSlug = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$/, 'slug: lowercase letters, digits, "_" and "-"');

const HttpsUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      return new URL(s).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https URL');

const RatingIn = z.object({ source: cleanText(64), score: z.number().finite().min(0).max(100).nullable(), details: cleanText(1000, { multiline: true }).nullable().optional() }).strict();
const ExternalIds = z
  .record(Platform, cleanText(128))
  .refine((r) => Object.keys(r).length <= 20, 'at most 20 external ids');

const GameFields = {
  slug: GameSlug,
  name: cleanText(200),
  description: cleanText(4000, { multiline: true }).nullable().optional(),
  rating: z.number().finite().min(0).max(5).nullable().optional(),
  cover_url: HttpsUrl.nullable().optional(),
  external_ids: ExternalIds.optional(),
  ratings: z.array(RatingIn).max(20).optional(),
};
const GameIn = z.object(GameFields).strict().openapi('GameIn');
const GamePatch = z.object(GameFields).partial().strict().openapi('GamePatch');

const RatingOut = z.object({ source: z.string().nullable(), score: z.number().nullable(), details: z.string().nullable() });
const MetadataOut = z
  .object({
    status: z.string().openapi({ description: 'queued | done | not_found | failed' }),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    genres: z.array(z.string()),
    os_platforms: z.array(z.string()),
    release_date: z.string().nullable(),
    fetched_at: z.string().nullable(),
  })
  .openapi('GameMetadata');
const GameDetail = GameSummarySchema.extend({
  platforms: z.array(z.string()),
  ratings: z.array(RatingOut),
  metadata: MetadataOut.nullable().openapi({ description: 'What Steam store enrichment found (null: never enriched)' }),
  manual_fields: z.array(z.string()).openapi({ description: 'Fields an admin set by hand; enrichment never overwrites them' }),
}).openapi('GameDetail');
const GamePage = z
  .object({ items: z.array(GameSummarySchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int(), next_offset: z.number().int().nullable() })
  .openapi('GamePage');

const GameParams = z.object({ game_id: IntId });

const ListQuery = z.object({
  q: z.string().trim().max(100).optional(),
  platform: Platform.optional(),
  limit: z.string().regex(/^[0-9]{1,3}$/).transform(Number).refine((n) => n >= 1 && n <= 100, 'limit: 1 to 100').optional(),
  offset: z.string().regex(/^[0-9]{1,6}$/).transform(Number).optional(),
});

async function gameDetail(env: Env, gameId: number) {
  const summary = await gameSummary(env, gameId);
  if (!summary) return null;
  const d = db(env);
  const [ratings, metadata, manual] = await Promise.all([gameRatingsOf(d, gameId), gameMetadata(env, gameId), gameManualFields(d, gameId)]);
  let manualFields: string[] = [];
  try {
    manualFields = JSON.parse(manual?.m ?? '[]') as string[];
  } catch {
    manualFields = [];
  }
  return { ...summary, platforms: Object.keys(summary.external_ids).sort(), ratings, metadata, manual_fields: manualFields };
}

function conflictFrom(e: unknown): never {
  if (isUniqueViolation(e)) {
    const msg = e instanceof Error ? `${e.message} ${e.cause instanceof Error ? e.cause.message : ''}` : '';
    if (/games\.slug/.test(msg)) throw new Conflict('game slug already exists', 'slug_taken');
    throw new Conflict('an external id is already used by another game', 'external_id_taken');
  }
  throw e;
}

export const gameRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listGames',
      tags: ['games'],
      security: [],
      summary: 'The catalog, by name: `q` searches name and slug, `platform` keeps games with an id on that store',
      request: { query: ListQuery },
      responses: { 200: json(GamePage, 'A page of games'), ...errors(400) },
    }),
    async (c) => {
      const { q, platform, limit = 50, offset = 0 } = c.req.valid('query');
      const { rows, total } = await gamePage(db(c.env), { q, platform }, limit, offset);
      return c.json({ items: rows.map(toGameSummary), total, limit, offset, next_offset: offset + rows.length < total ? offset + rows.length : null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{game_id}',
      operationId: 'getGame',
      tags: ['games'],
      security: [],
      summary: 'One game: `GameSummary` plus its platforms and ratings',
      request: { params: GameParams },
      responses: { 200: json(GameDetail, 'The game'), ...errors(400, 404) },
    }),
    async (c) => {
      const detail = await gameDetail(c.env, c.req.valid('param').game_id);
      if (!detail) throw new NotFound('game not found');
      return c.json(detail, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createGame',
      tags: ['games'],
      summary: 'Create a game with its external ids and ratings (platform admin)',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { body: jsonBody(GameIn) },
      responses: { 201: json(GameDetail, 'Created'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const d = db(c.env);
      const now = nowIso();
      try {
        const [inserted] = await d.batch([
          ...createGameStatements(
            d,
            {
              slug: body.slug,
              name: body.name,
              description: body.description ?? null,
              rating: body.rating ?? null,
              coverUrl: body.cover_url ?? null,
              manualFields: JSON.stringify(manualFieldsOf(body)),
              createdAt: now,
              updatedAt: now,
            },
            body.external_ids ?? {},
            body.ratings ?? [],
          ),
          auditStatement(c, 'game.create', { targetType: 'game', targetId: body.slug, details: { slug: body.slug, external_ids: body.external_ids ?? {} } }),
        ]);
        const id = (inserted as Array<{ id: number }>)[0]!.id;
        return c.json((await gameDetail(c.env, id))!, 201);
      } catch (e) {
        conflictFrom(e);
      }
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/{game_id}',
      operationId: 'updateGame',
      tags: ['games'],
      summary: 'Update a game (platform admin). Given `external_ids` or `ratings` replace the stored ones',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { params: GameParams, body: jsonBody(GamePatch) },
      responses: { 200: json(GameDetail, 'Updated'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { game_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const d = db(c.env);
      if (!(await gameExists(d, game_id))) throw new NotFound('game not found');
      const set: Partial<typeof games.$inferInsert> = { updatedAt: nowIso(), isStub: false };
      if (body.slug !== undefined) set.slug = body.slug;
      if (body.name !== undefined) set.name = body.name;
      if (body.description !== undefined) set.description = body.description;
      if (body.rating !== undefined) set.rating = body.rating;
      if (body.cover_url !== undefined) set.coverUrl = body.cover_url;
      try {
        await d.batch([
          // What the admin typed is theirs: enrichment never writes those fields again.
          ...updateGameStatements(d, game_id, { ...set, manualFields: withManual(manualFieldsOf(body)) }, body.external_ids, body.ratings),
          auditStatement(c, 'game.update', { targetType: 'game', targetId: game_id, details: { fields: Object.keys(body) } }),
        ]);
      } catch (e) {
        conflictFrom(e);
      }
      return c.json((await gameDetail(c.env, game_id))!, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{game_id}',
      operationId: 'deleteGame',
      tags: ['games'],
      summary: 'Delete a game (platform admin): its external ids, ratings, library entries and stored cover go with it',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { params: GameParams },
      responses: { 200: json(z.object({ deleted: z.number().int() }), 'Deleted'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { game_id } = c.req.valid('param');
      const d = db(c.env);
      const game = await gameForDelete(d, game_id);
      if (!game) throw new NotFound('game not found');
      // The orgs whose allocators may hold this game's facts (read before its entries go with it).
      const cachedIn = await orgIdsWithLibraryEntriesFor(d, game_id);
      await d.batch([deleteGameStatement(d, game_id), auditStatement(c, 'game.delete', { targetType: 'game', targetId: game_id, details: { slug: game.slug } })]);
      await forgetPlayFacts(c.env, cachedIn);
      if (game.coverKey) await c.env.BUCKET.delete(game.coverKey);
      return c.json({ deleted: game_id }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{game_id}/enrich',
      operationId: 'enrichGame',
      tags: ['games'],
      summary: 'Fetch this game’s Steam store data again in the background (platform admin); fields set by hand stay',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { params: GameParams },
      responses: { 202: json(z.object({ game_id: z.number().int(), queued: z.literal(true) }).openapi('EnrichQueued'), 'Queued'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { game_id } = c.req.valid('param');
      const d = db(c.env);
      if (!(await gameExists(d, game_id))) throw new NotFound('game not found');
      if (!(await refetchGame(c.env, game_id))) throw new Conflict('this game has no Steam id to fetch store data by', 'no_steam_id');
      await audit(c, 'game.enrich', { targetType: 'game', targetId: game_id });
      return c.json({ game_id, queued: true as const }, 202);
    },
  );
