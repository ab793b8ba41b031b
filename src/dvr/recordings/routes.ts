/**
 * Retention and pins routes (issue 16), mounted at `/api`:
 *
 *   GET/PUT /api/admin/retention                       the global default policy (admin)
 *   GET     /api/sources/{d}/{u}/retention             policy, storage used, what goes next (subscriber or admin)
 *   PUT/DELETE /api/sources/{d}/{u}/retention          the source's own policy (admin; DELETE → global)
 *   POST/DELETE /api/sources/{d}/{u}/pins {path}       the caller's pin on a recording (subscriber or admin)
 */
import { createRoute } from '@hono/zod-openapi';
import { auditStatement } from '../../auth/audit';
import { requireAdmin, requireUser } from '../../auth/middleware';
import { db, type Db } from '../../db/client';
import { BadRequest, NotFound } from '../../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../../http/openapi';
import { visibleSource } from '../access';
import { SourceParams } from '../paths';
import { safeSubpath } from '../media-store';
import { deletePin, deletePolicyStatement, getPolicy, GLOBAL, insertPin, putPolicyStatement, recordingByPath, retentionCandidates, storageOf, type Policy } from './queries';

const tags = ['dvr retention'];
const admin = [requireUser, requireAdmin];
const security = [{ bearer: [] }];

const PolicySchema = z
  .object({
    keep_days: z.number().int().min(1).max(36_500).nullable().default(null),
    keep_gb: z.number().positive().max(1_000_000).nullable().default(null),
    keep_sessions: z.number().int().min(1).max(100_000).nullable().default(null),
    keep_forever: z.boolean().default(false),
  })
  .strict()
  .openapi('RetentionPolicy');

const NextSchema = z.object({ id: z.number().int(), path: z.string(), bytes: z.number().int(), started_at: z.string(), reason: z.enum(['days', 'gb', 'sessions']) });
const SourceRetention = z
  .object({
    driver: z.string(),
    username: z.string(),
    policy: PolicySchema.nullable(),
    effective: PolicySchema.nullable(),
    inherited: z.boolean(),
    storage: z.object({ bytes: z.number().int(), files: z.number().int() }),
    next_deletions: z.array(NextSchema),
  })
  .openapi('SourceRetention');
const PinBody = z.object({ path: z.string().min(1).max(1024) }).strict();

async function recordingAt(d: Db, sourceId: number, raw: string) {
  const rel = safeSubpath(raw);
  if (!rel) throw new BadRequest('invalid path', 'invalid_path');
  const row = await recordingByPath(d, sourceId, rel);
  if (!row || row.state === 'deleted') throw new NotFound('recording not found');
  return row;
}

/** `/api/admin/retention`: the global default policy. */
export const retentionRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'getRetentionDefault',
      tags,
      security,
      summary: 'The global default retention policy (null: nothing is deleted)',
      middleware: admin,
      responses: { 200: json(z.object({ policy: PolicySchema.nullable() }), 'Policy'), ...errors(401, 403) },
    }),
    async (c) => c.json({ policy: await getPolicy(db(c.env), GLOBAL) }, 200),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/',
      operationId: 'putRetentionDefault',
      tags,
      security,
      summary: 'Set the global default retention policy',
      middleware: admin,
      request: { body: jsonBody(PolicySchema) },
      responses: { 200: json(z.object({ policy: PolicySchema }), 'Policy'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const p = c.req.valid('json') as Policy;
      const d = db(c.env);
      await d.batch([putPolicyStatement(d, GLOBAL, p, c.get('user').id), auditStatement(c, 'dvr.retention.policy', { targetType: 'retention', targetId: 'global', details: { ...p } })]);
      return c.json({ policy: p }, 200);
    },
  );

/** `/api/sources`: a source's retention and pins. */
export const sourceRetentionRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}/retention',
      operationId: 'getSourceRetention',
      tags,
      security,
      summary: 'Retention of a source: its policy, the storage it uses and the recordings the policy deletes next',
      middleware: [requireUser],
      request: { params: SourceParams },
      responses: { 200: json(SourceRetention, 'Retention'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const src = await visibleSource(c, driver, username);
      const d = db(c.env);
      const [own, global, storage, next] = await Promise.all([
        getPolicy(d, src.id),
        getPolicy(d, GLOBAL),
        storageOf(d, src.id),
        retentionCandidates(d, { sourceId: src.id, limit: 20 }),
      ]);
      return c.json(
        {
          driver,
          username,
          policy: own,
          effective: own ?? global,
          inherited: own === null,
          storage,
          next_deletions: next.map((n) => ({ id: n.id, path: n.relPath, bytes: n.bytes, started_at: n.startedAt, reason: n.reason })),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/{driver}/{username}/retention',
      operationId: 'putSourceRetention',
      tags,
      security,
      summary: "Set a source's own retention policy (admin)",
      middleware: admin,
      request: { params: SourceParams, body: jsonBody(PolicySchema) },
      responses: { 200: json(z.object({ policy: PolicySchema }), 'Policy'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const src = await visibleSource(c, driver, username);
      const p = c.req.valid('json') as Policy;
      const d = db(c.env);
      await d.batch([putPolicyStatement(d, src.id, p, c.get('user').id), auditStatement(c, 'dvr.retention.policy', { targetType: 'source', targetId: src.id, details: { ...p } })]);
      return c.json({ policy: p }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{driver}/{username}/retention',
      operationId: 'deleteSourceRetention',
      tags,
      security,
      summary: "Drop a source's own policy (the global default applies again; admin)",
      middleware: admin,
      request: { params: SourceParams },
      responses: { 200: json(z.object({ policy: z.null() }), 'Back to the default'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const src = await visibleSource(c, driver, username);
      const d = db(c.env);
      await d.batch([deletePolicyStatement(d, src.id), auditStatement(c, 'dvr.retention.policy', { targetType: 'source', targetId: src.id, details: { removed: true } })]);
      return c.json({ policy: null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{driver}/{username}/pins',
      operationId: 'pinRecording',
      tags,
      security,
      summary: 'Pin a recording: retention never deletes it while any pin holds (subscriber or admin)',
      middleware: [requireUser],
      request: { params: SourceParams, body: jsonBody(PinBody) },
      responses: { 200: json(z.object({ path: z.string(), pinned: z.literal(true) }), 'Pinned'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const src = await visibleSource(c, driver, username);
      const { path } = c.req.valid('json');
      const d = db(c.env);
      const rec = await recordingAt(d, src.id, path);
      await insertPin(d, rec.id, c.get('user').id);
      return c.json({ path, pinned: true as const }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{driver}/{username}/pins',
      operationId: 'unpinRecording',
      tags,
      security,
      summary: "Remove the caller's own pin from a recording",
      middleware: [requireUser],
      request: { params: SourceParams, query: z.object({ path: z.string().min(1).max(1024) }) },
      responses: { 200: json(z.object({ path: z.string(), pinned: z.literal(false) }), 'Unpinned'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const src = await visibleSource(c, driver, username);
      const { path } = c.req.valid('query');
      const d = db(c.env);
      const rec = await recordingAt(d, src.id, path);
      await deletePin(d, rec.id, c.get('user').id);
      return c.json({ path, pinned: false as const }, 200);
    },
  );
