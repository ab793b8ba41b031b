/**
 * Ingest routes (issue 16): `/api/ingest` (the media agent's resumable multipart uploads and
 * enrolment) and `/api/admin/ingest/hosts` (the admin's host enrolment). Protocol (docs/dvr.md, "Recordings reach R2"):
 *
 *   POST /api/admin/ingest/hosts {name}              → 201 {id, name, enrolment_code, enrolment_expires_at}  (admin)
 *   GET  /api/admin/ingest/hosts                     → {hosts: [...]}                                       (admin)
 *   DELETE /api/admin/ingest/hosts/{id}              → revoke                                               (admin)
 *   POST /api/ingest/enroll {code}                   → {host_id, name, credential}                          (the code is the auth)
 *   POST /api/ingest/uploads {driver, username, path, kind, size, part_size, sha256, remuxed_from?}
 *        → 201 new upload | 200 same upload resumed (with its parts) | 200 {state: 'stored'} already there
 *   GET  /api/ingest/uploads/{id}                    → {state, parts: [{part_number, size, sha256}]}    (resume)
 *   PUT  /api/ingest/uploads/{id}/parts/{n}          body: the bytes; X-Part-Sha256: hex digest of them
 *   POST /api/ingest/uploads/{id}/complete           → {state: 'stored', key, bytes, sha256, playback_url} (idempotent)
 *   DELETE /api/ingest/uploads/{id}                  → abort (nothing is left in R2)
 */
import { createRoute } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { auditStatement } from '../../auth/audit';
import { requireAdmin, requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { recordings, sources } from '../../db/schema';
import { BadRequest, Conflict, NotFound, Unauthorized } from '../../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../../http/openapi';
import { Segment } from '../paths';
import { safeSubpath } from '../media-store';
import { adoptRemuxed, recordingKey, remuxedPath, thumbnailKeyFor } from './catalog';
import { createHost, currentHost, enrolHost, listHosts, requireHost, revokeHost } from './hosts';
import { executionContextOf, recordMetric } from '../../http/metrics/record';
import { abortUpload, completeUpload, findUpload, MAX_PART_SIZE, MAX_THUMBNAIL_BYTES, MIN_PART_SIZE, openUpload, partCount, partsOf, putPart, type Upload } from './uploads';
import { notify } from '../../notifications/publish';

const tags = ['dvr ingest'];
const admin = [requireUser, requireAdmin];
const security = [{ bearer: [] }];
/** The media agent's credential from enrolment: a bearer token, but not a JWT (hosts.ts). */
const hostCredential = [{ ingestCredential: [] }];
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256');

const HostSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    state: z.enum(['pending', 'enrolled', 'revoked']),
    created_at: z.string(),
    enrolled_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    last_seen: z.string().nullable(),
    enrolment_expires_at: z.string().nullable(),
  })
  .openapi('IngestHost');

const CreateUpload = z
  .object({
    driver: Segment,
    username: Segment,
    /** The recording's path below the source directory (`2026-02-18_22-01-31/x_00000.ts`). */
    path: z.string().min(1).max(1024),
    kind: z.enum(['segment', 'thumbnail']).default('segment'),
    size: z.number().int().min(1).max(1024 ** 4),
    part_size: z.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE),
    sha256: Hex64,
    /** The agent remuxed this `.mp4` from the recorder's `.ts` at that path: the `.ts` row becomes this one. */
    remuxed_from: z.string().min(1).max(1024).optional(),
  })
  .strict()
  .openapi('CreateUpload');

const PartSchema = z.object({ part_number: z.number().int(), size: z.number().int(), sha256: z.string() });
const UploadSchema = z
  .object({
    upload_id: z.string(),
    state: z.enum(['open', 'completing', 'completed', 'aborted']),
    key: z.string(),
    size: z.number().int(),
    part_size: z.number().int(),
    part_count: z.number().int(),
    parts: z.array(PartSchema),
  })
  .openapi('IngestUpload');
const StoredSchema = z
  .object({ state: z.literal('stored'), key: z.string(), bytes: z.number().int(), sha256: z.string().nullable(), playback_url: z.string() })
  .openapi('IngestStored');

const UploadParams = z.object({ upload_id: z.string().regex(/^up_[A-Za-z0-9_-]{24}$/, 'an upload id') });
const PartParams = UploadParams.extend({ part_number: z.string().regex(/^[0-9]{1,5}$/).transform(Number) });

const playbackUrl = (driver: string, username: string, rel: string) =>
  `/media/subscriptions/${encodeURIComponent(driver)}/${encodeURIComponent(username)}/${rel.split('/').map(encodeURIComponent).join('/')}`;

async function uploadBody(env: Env, u: Upload) {
  const parts = await partsOf(env, u.id);
  return {
    upload_id: u.id,
    state: u.state,
    key: u.r2Key,
    size: u.size,
    part_size: u.partSize,
    part_count: partCount(u.size, u.partSize),
    parts: parts.map((p) => ({ part_number: p.partNumber, size: p.size, sha256: p.sha256 })),
  };
}

async function ownUpload(env: Env, id: string, hostId: number): Promise<Upload> {
  const u = await findUpload(env, id, hostId);
  if (!u) throw new NotFound('upload not found', 'upload_not_found');
  return u;
}

/** Where the recording of an upload lives, for the answer's playback URL. */
async function locate(env: Env, recordingId: number) {
  return db(env)
    .select({ driver: sources.driver, username: sources.username, relPath: recordings.relPath })
    .from(recordings)
    .innerJoin(sources, eq(sources.id, recordings.sourceId))
    .where(eq(recordings.id, recordingId))
    .get();
}

/** `/api/admin/ingest/hosts`: enrol, list and revoke media-agent hosts. */
export const ingestHostRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createIngestHost',
      tags,
      security,
      summary: 'Register a media-agent host; returns its one-time enrolment code (1 hour)',
      middleware: admin,
      request: { body: jsonBody(z.object({ name: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "-", "."') }).strict()) },
      responses: {
        201: json(z.object({ id: z.number().int(), name: z.string(), enrolment_code: z.string(), enrolment_expires_at: z.string() }), 'The host and its code (shown once)'),
        ...errors(400, 401, 403, 409),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('json');
      const host = await createHost(c.env, name, c.get('user').id);
      if (!host) throw new Conflict('host name already exists', 'host_exists');
      await auditStatement(c, 'dvr.ingest_host.create', { targetType: 'ingest_host', targetId: host.id, details: { name } }).run();
      return c.json({ id: host.id, name, enrolment_code: host.code, enrolment_expires_at: host.expiresAt }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listIngestHosts',
      tags,
      security,
      summary: 'Media-agent hosts and their state',
      middleware: admin,
      responses: { 200: json(z.object({ hosts: z.array(HostSchema) }), 'Hosts'), ...errors(401, 403) },
    }),
    async (c) => c.json({ hosts: await listHosts(c.env) }, 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      operationId: 'revokeIngestHost',
      tags,
      security,
      summary: "Revoke a host's credential (its uploads in flight are refused from now on)",
      middleware: admin,
      request: { params: z.object({ id: IntId }) },
      responses: { 200: json(z.object({ id: z.number().int(), state: z.literal('revoked') }), 'Revoked'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (!(await revokeHost(c.env, id))) throw new NotFound('host not found or already revoked', 'host_not_found');
      await auditStatement(c, 'dvr.ingest_host.revoke', { targetType: 'ingest_host', targetId: id }).run();
      return c.json({ id, state: 'revoked' as const }, 200);
    },
  );

/** `/api/ingest`: the media agent's side (the enrolment code, then the host credential as a bearer token). */
export const ingestRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/enroll',
      operationId: 'enrolIngestHost',
      tags,
      security: [],
      summary: 'Trade a one-time enrolment code for the host credential (media agent)',
      request: { body: jsonBody(z.object({ code: z.string().min(1).max(64) }).strict()) },
      responses: {
        200: json(z.object({ host_id: z.number().int(), name: z.string(), credential: z.string() }), 'The credential (shown once)'),
        ...errors(400, 401),
      },
    }),
    async (c) => {
      const host = await enrolHost(c.env, c.req.valid('json').code);
      if (!host) throw new Unauthorized('enrolment code invalid, used or expired', 'invalid_enrolment_code');
      return c.json({ host_id: host.id, name: host.name, credential: host.credential }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/uploads',
      operationId: 'openIngestUpload',
      tags,
      security: hostCredential,
      summary: 'Start (or resume) the upload of a recording segment or its thumbnail (media agent)',
      middleware: [requireHost],
      request: { body: jsonBody(CreateUpload) },
      responses: {
        201: json(UploadSchema, 'A new upload'),
        200: json(z.union([UploadSchema, StoredSchema]), 'The same upload, resumed; or the object is already stored'),
        ...errors(400, 401, 404, 409),
      },
    }),
    async (c) => {
      const host = currentHost(c);
      const req = c.req.valid('json');
      const rel = safeSubpath(req.path);
      if (!rel) throw new BadRequest('invalid path', 'invalid_path');
      const d = db(c.env);
      const src = await d
        .select({ id: sources.id })
        .from(sources)
        .where(and(eq(sources.driver, req.driver), eq(sources.username, req.username)))
        .get();
      if (!src) throw new NotFound(`source ${req.driver}/${req.username} not found`);
      if (req.kind === 'segment' && req.remuxed_from !== undefined) {
        const from = safeSubpath(req.remuxed_from);
        if (!from || remuxedPath(from) !== rel) throw new BadRequest('remuxed_from must be the .ts this .mp4 was made from', 'invalid_path');
        const ts = await d
          .select({ state: recordings.state })
          .from(recordings)
          .where(and(eq(recordings.sourceId, src.id), eq(recordings.relPath, from)))
          .get();
        if (ts?.state === 'deleted') throw new Conflict('recording was deleted by retention', 'recording_deleted');
        await d.batch(adoptRemuxed(d, src.id, from, rel, recordingKey(req.driver, req.username, rel)));
      }
      if (req.kind === 'segment') {
        // The safety net uploads files whose events were never seen: the row is created here then.
        await d
          .insert(recordings)
          .values({ sourceId: src.id, relPath: rel, r2Key: recordingKey(req.driver, req.username, rel), state: 'recording', hostId: host.id })
          .onConflictDoNothing();
      }
      const row = await d
        .select()
        .from(recordings)
        .where(and(eq(recordings.sourceId, src.id), eq(recordings.relPath, rel)))
        .get();
      if (!row) throw new NotFound('recording not found (upload the segment first)', 'recording_not_found');
      if (row.state === 'deleted') throw new Conflict('recording was deleted by retention', 'recording_deleted');
      const key = req.kind === 'segment' ? row.r2Key : thumbnailKeyFor(req.driver, req.username, rel);
      const url = playbackUrl(req.driver, req.username, rel);
      if (req.kind === 'segment' && row.state === 'stored') {
        if (row.sha256 !== req.sha256 || row.bytes !== req.size) throw new Conflict('a different file is already stored at this path', 'already_stored');
        return c.json({ state: 'stored' as const, key, bytes: row.bytes, sha256: row.sha256, playback_url: url }, 200);
      }
      if (req.kind === 'thumbnail') {
        if (req.size > MAX_THUMBNAIL_BYTES) throw new Conflict(`thumbnail larger than ${MAX_THUMBNAIL_BYTES} bytes`, 'thumbnail_too_large');
        if (row.thumbnailKey === key && row.thumbnailBytes === req.size) return c.json({ state: 'stored' as const, key, bytes: req.size, sha256: null, playback_url: url }, 200);
      }
      const { upload, resumed } = await openUpload(c.env, host.id, { recordingId: row.id, kind: req.kind, key, size: req.size, partSize: req.part_size, sha256: req.sha256 });
      return resumed ? c.json(await uploadBody(c.env, upload), 200) : c.json(await uploadBody(c.env, upload), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/uploads/{upload_id}',
      operationId: 'getIngestUpload',
      tags,
      security: hostCredential,
      summary: 'An upload with the parts the server holds (to resume after a crash)',
      middleware: [requireHost],
      request: { params: UploadParams },
      responses: { 200: json(UploadSchema, 'The upload'), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await uploadBody(c.env, await ownUpload(c.env, c.req.valid('param').upload_id, currentHost(c).id)), 200),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/uploads/{upload_id}/parts/{part_number}',
      operationId: 'putIngestPart',
      tags,
      security: hostCredential,
      summary: 'Upload one part; refused unless its bytes hash to X-Part-Sha256 and it has the expected length',
      middleware: [requireHost],
      request: {
        params: PartParams,
        headers: z.object({ 'x-part-sha256': Hex64 }),
        body: { required: true, content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
      },
      responses: { 200: json(PartSchema, 'The part, as measured by the server'), ...errors(400, 401, 404, 409, 413) },
    }),
    async (c) => {
      const { upload_id, part_number } = c.req.valid('param');
      const u = await ownUpload(c.env, upload_id, currentHost(c).id);
      const len = c.req.header('Content-Length');
      const p = await putPart(c.env, u, part_number, c.req.raw.body, len === undefined ? null : Number(len), c.req.valid('header')['x-part-sha256']);
      return c.json({ part_number: p.partNumber, size: p.size, sha256: p.sha256 }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/uploads/{upload_id}/complete',
      operationId: 'completeIngestUpload',
      tags,
      security: hostCredential,
      summary: 'Verify the checksum and store the object; idempotent',
      middleware: [requireHost],
      request: { params: UploadParams },
      responses: { 200: json(StoredSchema, 'Stored'), ...errors(400, 401, 404, 409, 502) },
    }),
    async (c) => {
      const u = await ownUpload(c.env, c.req.valid('param').upload_id, currentHost(c).id);
      const first = u.state !== 'completed';
      const done = await completeUpload(c.env, u);
      const where = await locate(c.env, u.recordingId);
      if (first && u.kind === 'segment') {
        const driver = where?.driver ?? '';
        recordMetric(c.env, executionContextOf(c), 'dvr.recordings', { event: 'stored', driver });
        recordMetric(c.env, executionContextOf(c), 'dvr.stored_bytes', { driver }, { value: done.bytes });
        if (where) notify(c.env, c, { type: 'recording.stored', source: { driver: where.driver, username: where.username }, data: { recording_id: u.recordingId, path: where.relPath, bytes: done.bytes, playback_path: playbackUrl(where.driver, where.username, where.relPath) } });
      }
      const url = where ? playbackUrl(where.driver, where.username, where.relPath) : '';
      return c.json({ ...done, playback_url: url }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/uploads/{upload_id}',
      operationId: 'abortIngestUpload',
      tags,
      security: hostCredential,
      summary: 'Abort an upload (its parts are freed; no object appears)',
      middleware: [requireHost],
      request: { params: UploadParams },
      responses: { 200: json(z.object({ upload_id: z.string(), state: z.literal('aborted') }), 'Aborted'), ...errors(400, 401, 404, 409) },
    }),
    async (c) => {
      const u = await ownUpload(c.env, c.req.valid('param').upload_id, currentHost(c).id);
      if (u.state === 'completed') throw new Conflict('upload already completed', 'upload_completed');
      await abortUpload(c.env, u);
      return c.json({ upload_id: u.id, state: 'aborted' as const }, 200);
    },
  );

ingestRoutes.openAPIRegistry.registerComponent('securitySchemes', 'ingestCredential', { type: 'http', scheme: 'bearer' });
