/**
 * Per-user console resources (contract §3.14, 3.15, 3.17, 3.18), always checked against the token:
 *
 *   GET /users/{user_id}/settings             self only; never writes (the prototype's GET did)
 *   PUT /users/{user_id}/settings             self only; `{ settings: {...} }`, an object of at most
 *                                             16 KiB, whole blob replaced; no privilege-looking keys
 *   GET /users/{user_id}/apps?org_id=         self or platform admin: the tiles for that user's org
 *   PUT /users/{user_id}/apps/{app_id}        self or platform admin: `{ installed }` (the user's own
 *                                             flag, stored in `user_apps`), answers the tile
 *
 * Tiles never show another tenant: `org_id` must be one of the user's orgs (same 403 otherwise).
 */
import { createRoute } from '@hono/zod-openapi';
import { auditStatement } from '../../auth/audit';
import { assertSelfOrAdmin, requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { BadRequest, Forbidden, NotFound, PayloadTooLarge } from '../../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../../http/openapi';
import { nowIso } from '../../world';
import { appExists } from '../apps/queries';
import { buildTiles, tileOrgFor } from '../apps/tiles';
import { AppIdParam, AppTileSchema, OptionalOrgQuery, SettingsObject } from '../schemas';
import { setUserAppInstalledStatement, upsertSettingsStatement } from './queries';
import { settingsOf } from './settings';

export const SETTINGS_MAX_BYTES = 16 * 1024;
const SETTINGS_MAX_DEPTH = 8;
/** Keys that look like privileges: settings are preferences, so a client sending these is confused or probing. */
const PRIVILEGED_KEYS = new Set(['role', 'roles', 'is_admin', 'admin', 'permissions', 'user_id', 'org_id', 'owner']);

const UserParams = z.object({ user_id: IntId });
const SettingsOut = z.object({ settings: SettingsObject }).openapi('UserSettings');
const SettingsIn = z.object({ settings: SettingsObject }).strict().openapi('UserSettingsIn');

/**
 * Whether `v` nests deeper than `max` levels. An explicit stack, not recursion, stopping at the
 * first value past the limit: a body of tens of thousands of nested arrays (well under the size
 * limit) overflowed the call stack of the recursive version and answered 500.
 */
export function nestsDeeperThan(v: unknown, max: number): boolean {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: v, depth: 0 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (item.node === null || typeof item.node !== 'object') continue;
    if (item.depth >= max) return true;
    for (const child of Object.values(item.node as Record<string, unknown>)) stack.push({ node: child, depth: item.depth + 1 });
  }
  return false;
}

function assertSelf(userId: number, callerId: number): void {
  if (userId !== callerId) throw new Forbidden('settings belong to their user only', 'not_self');
}

export const userSettingsRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'getUserSettings',
      tags: ['users'],
      summary: 'The caller’s settings blob (self only)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: UserParams },
      responses: { 200: json(SettingsOut, 'Settings'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      assertSelf(user_id, c.get('user').id);
      return c.json({ settings: await settingsOf(db(c.env), user_id) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/',
      operationId: 'replaceUserSettings',
      tags: ['users'],
      summary: 'Replace the caller’s settings (self only; a JSON object of at most 16 KiB)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: UserParams, body: jsonBody(SettingsIn) },
      responses: { 200: json(SettingsOut, 'Stored'), ...errors(400, 401, 403, 413) },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      const { settings } = c.req.valid('json');
      assertSelf(user_id, c.get('user').id);
      const privileged = Object.keys(settings).filter((k) => PRIVILEGED_KEYS.has(k.toLowerCase()));
      if (privileged.length > 0) throw new BadRequest(`settings may not contain privileged fields: ${privileged.join(', ')}`, 'privileged_field');
      if (nestsDeeperThan(settings, SETTINGS_MAX_DEPTH)) throw new BadRequest(`settings may nest at most ${SETTINGS_MAX_DEPTH} levels`, 'too_deep');
      const text = JSON.stringify(settings);
      if (new TextEncoder().encode(text).byteLength > SETTINGS_MAX_BYTES) throw new PayloadTooLarge(`settings must be at most ${SETTINGS_MAX_BYTES} bytes`);
      const d = db(c.env);
      await d.batch([
        upsertSettingsStatement(d, user_id, text, nowIso()),
        auditStatement(c, 'user.settings.update', { targetType: 'user', targetId: user_id, details: { bytes: text.length } }),
      ]);
      return c.json({ settings }, 200);
    },
  );

export const userAppRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listUserApps',
      tags: ['apps'],
      summary: 'The user’s tiles (self or platform admin), for `org_id` (one of the user’s orgs) or their primary org',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: UserParams, query: z.object({ org_id: OptionalOrgQuery }) },
      responses: { 200: json(z.array(AppTileSchema), 'Tiles'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      const { org_id } = c.req.valid('query');
      assertSelfOrAdmin(c, user_id);
      const d = db(c.env);
      const orgId = await tileOrgFor(d, c.get('user'), user_id, org_id);
      return c.json(await buildTiles(d, c.env, { userId: user_id, orgId, chartDate: null }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/{app_id}',
      operationId: 'setUserApp',
      tags: ['apps'],
      summary: 'Set the user’s own `installed` flag for an app of the current catalog; answers the tile',
      description:
        'The flag is stored per user (`user_apps`). The tile’s `installed` stays the org-level “install ready” flag (contract §4.2). An app that is not in the current catalog is a 404 and nothing is written (the prototype wrote, then answered 500).',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { params: z.object({ user_id: IntId, app_id: AppIdParam }), body: jsonBody(z.object({ installed: z.boolean() }).strict()) },
      responses: { 200: json(AppTileSchema, 'The tile'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { user_id, app_id } = c.req.valid('param');
      const { installed } = c.req.valid('json');
      assertSelfOrAdmin(c, user_id);
      const d = db(c.env);
      if (!(await appExists(d, app_id))) throw new NotFound('app not found');
      const orgId = await tileOrgFor(d, c.get('user'), user_id, undefined);
      const tile = (await buildTiles(d, c.env, { userId: user_id, orgId, chartDate: null })).find((t) => t.id === app_id);
      if (!tile) throw new NotFound('app is not in the current catalog', 'app_not_in_catalog');
      await d.batch([
        setUserAppInstalledStatement(d, user_id, app_id, installed),
        auditStatement(c, 'user.app.installed', { targetType: 'user', targetId: user_id, orgId, details: { app_id, installed } }),
      ]);
      return c.json(tile, 200);
    },
  );
