/**
 * The launcher's catalog tiles and the `apps` table behind them (contract §2.1–2.2, §3.3–3.4,
 * §3.24–3.26, §4.3).
 *
 *   GET    /apps?enabled=&chart_date=&org_id=   tiles for the caller's org (anonymous: no installs)
 *   GET    /repo/default?chart_date=&org_id=    the same, without the `enabled` filter
 *   POST   /apps                                platform admin: `AppIn` → `AppOut` (201)
 *   PUT    /apps/{app_id}                       platform admin; a body `id`, if sent, must match the path
 *   DELETE /apps/{app_id}                       platform admin; `user_apps` rows go with it
 *
 * `installed`/`owned` are computed for the caller's org only: `org_id` must be one of the caller's
 * orgs (platform admins may name any), otherwise their primary org; anonymous callers get `false`
 * everywhere, so no tile reveals any tenant's installs (contract §7.4).
 *
 * `POST /warm/{app_id}` (contract §3.27) is intentionally absent: the prototype's answer had no effect,
 * and pre-warming a node belongs to the play/allocation area.
 */
import { createRoute } from '@hono/zod-openapi';
import { auditStatement } from '../../auth/audit';
import { optionalUser, requireAdmin, requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { BadRequest, Conflict, NotFound } from '../../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../../http/openapi';
import { AppIdParam, AppTileSchema, cleanText, isUniqueViolation, OPTIONAL_BEARER, OptionalOrgQuery } from '../schemas';
import { appExists, deleteAppStatement, insertAppStatement, updateAppStatement, type AppValues } from './queries';
import { buildTiles, tileOrgFor, type AppTile } from './tiles';

const ChartDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'chart_date: YYYY-MM-DD').optional();
const Bool = z.enum(['true', 'false']).transform((v) => v === 'true');

const AppIn = z
  .object({
    id: AppIdParam,
    name: cleanText(200),
    moonlight_name: cleanText(200),
    enabled: z.boolean().default(true),
    sort_order: z.number().int().min(-1_000_000).max(1_000_000).default(100),
  })
  .strict()
  .openapi('AppIn');
const AppUpdate = AppIn.extend({ id: AppIdParam.optional() }).strict().openapi('AppUpdate');

/** An app row as the writes answer it: the tile's fields that belong to the row, the catalog's as null. */
const AppOut = AppTileSchema.pick({ id: true, name: true, moonlight_name: true, enabled: true, sort_order: true })
  .extend({ description: z.null(), cover_url: z.null(), chart_rank: z.null(), chart_date: z.null(), game_id: z.null() })
  .openapi('AppOut');

/** The stored columns of an `AppIn`/`AppUpdate` body. */
function appValues(body: { name: string; moonlight_name: string; enabled: boolean; sort_order: number }): AppValues {
  return { name: body.name, moonlightName: body.moonlight_name, enabled: body.enabled, sortOrder: body.sort_order };
}

function appOut(a: { id: string; name: string; moonlightName: string; enabled: boolean; sortOrder: number }) {
  return { id: a.id, name: a.name, moonlight_name: a.moonlightName, enabled: a.enabled, sort_order: a.sortOrder, description: null, cover_url: null, chart_rank: null, chart_date: null, game_id: null };
}

async function tilesFor(
  c: { env: Env; get(k: 'user'): { id: number; role: 'admin' | 'user' } | undefined },
  q: { chart_date?: string; org_id?: number },
): Promise<AppTile[]> {
  const user = c.get('user');
  const d = db(c.env);
  if (!user) {
    if (q.org_id !== undefined) throw new BadRequest('org_id needs a signed-in caller', 'org_requires_auth');
    return buildTiles(d, c.env, { userId: null, orgId: null, chartDate: q.chart_date ?? null });
  }
  const orgId = await tileOrgFor(d, user, user.id, q.org_id);
  return buildTiles(d, c.env, { userId: user.id, orgId, chartDate: q.chart_date ?? null });
}

const AppParams = z.object({ app_id: AppIdParam });

export const appRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listApps',
      tags: ['apps'],
      security: OPTIONAL_BEARER,
      summary: 'Catalog tiles for the caller’s org (`installed`/`owned` false when anonymous)',
      middleware: [optionalUser],
      request: { query: z.object({ enabled: Bool.optional(), chart_date: ChartDate, org_id: OptionalOrgQuery }) },
      responses: { 200: json(z.array(AppTileSchema), 'Tiles'), ...errors(400, 403) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const tiles = await tilesFor(c, q);
      return c.json(q.enabled === undefined ? tiles : tiles.filter((t) => t.enabled === q.enabled), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createApp',
      tags: ['apps'],
      summary: 'Add an app row (platform admin)',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { body: jsonBody(AppIn) },
      responses: { 201: json(AppOut, 'Created'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const d = db(c.env);
      try {
        const [rows] = await d.batch([
          insertAppStatement(d, { id: body.id, ...appValues(body) }),
          auditStatement(c, 'app.create', { targetType: 'app', targetId: body.id, details: { ...body } }),
        ]);
        return c.json(appOut(rows[0]!), 201);
      } catch (e) {
        if (isUniqueViolation(e)) throw new Conflict('id already exists', 'app_exists');
        throw e;
      }
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/{app_id}',
      operationId: 'updateApp',
      tags: ['apps'],
      summary: 'Update an app row (platform admin). The answer always carries the path’s id',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { params: AppParams, body: jsonBody(AppUpdate) },
      responses: { 200: json(AppOut, 'Updated'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { app_id } = c.req.valid('param');
      const body = c.req.valid('json');
      if (body.id !== undefined && body.id !== app_id) throw new BadRequest('id in the body does not match the path', 'id_mismatch');
      const d = db(c.env);
      if (!(await appExists(d, app_id))) throw new NotFound('not found');
      const [rows] = await d.batch([
        updateAppStatement(d, app_id, appValues(body)),
        auditStatement(c, 'app.update', { targetType: 'app', targetId: app_id, details: { name: body.name, moonlight_name: body.moonlight_name, enabled: body.enabled, sort_order: body.sort_order } }),
      ]);
      if (!rows[0]) throw new NotFound('not found'); // deleted in between
      return c.json(appOut(rows[0]), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{app_id}',
      operationId: 'deleteApp',
      tags: ['apps'],
      summary: 'Delete an app row (platform admin); users’ flags for it go too',
      middleware: [requireUser, requireAdmin],
      security: [{ bearer: [] }],
      request: { params: AppParams },
      responses: { 200: json(z.object({ deleted: z.string() }), 'Deleted'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { app_id } = c.req.valid('param');
      const d = db(c.env);
      if (!(await appExists(d, app_id))) throw new NotFound('not found');
      await d.batch([deleteAppStatement(d, app_id), auditStatement(c, 'app.delete', { targetType: 'app', targetId: app_id })]);
      return c.json({ deleted: app_id }, 200);
    },
  );

export const repoRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/default',
      operationId: 'getDefaultRepo',
      tags: ['apps'],
      security: OPTIONAL_BEARER,
      summary: 'The default repository: the same tiles as `/apps`, unfiltered',
      middleware: [optionalUser],
      request: { query: z.object({ chart_date: ChartDate, org_id: OptionalOrgQuery }) },
      responses: { 200: json(z.array(AppTileSchema), 'Tiles'), ...errors(400, 403) },
    }),
    async (c) => c.json(await tilesFor(c, c.req.valid('query')), 200),
  );
