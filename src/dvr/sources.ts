/**
 * Per-source data (contract §3.5), mounted at `/api/sources`: worker events (D1), the log tail (the source's monitor), the
 * recording files and a disk summary (R2 under `recordings/{driver}/{username}/`). All of them
 * require a subscription of any posture, or admin (see access.ts).
 *
 *   GET /api/sources/chaturbate/alice/events            → {driver, username, events: [...]}  ([] when none)
 *   GET /api/sources/chaturbate/alice/filestat?path=2026-02-18_22-01-31
 */
import { createRoute } from '@hono/zod-openapi';
import { callerCheck, requireCallerDeferred, requireUser } from '../auth/middleware';
import { BadRequest, NotFound } from '../http/errors';
import { db } from '../db/client';
import { errors, json, newRouter, z } from '../http/openapi';
import { visibleOrNotFound, visibleSource, visibleSourceForStat } from './access';
import { SourceParams } from './paths';
import { answerByDigest, answerList, eventsCacheKey, eventsView, IfNoneMatchHeaders, notModified, unlessEventsCurrent } from './conditional';
import { builtList } from './list-cache';
import { eventCounterQuery, sourceIdByName, sourceVisibilityQuery, workerEventsOf, type WorkerEventRow } from './queries';
import { fileInfos, safeSubpath, statFromCatalog } from './media-store';
import { listFiles, statChildren } from './recordings/catalog';
import { monitorName } from './runtime';
import { loadConfig, segmentSeconds } from './settings';

const WorkerEventSchema = z
  .object({
    id: z.number().int(),
    source_id: z.number().int(),
    pid: z.number().int(),
    event_type: z.enum(['started', 'exited', 'errored', 'stopped']),
    exit_code: z.number().int().optional(),
    ts: z.string(),
  })
  .openapi('WorkerEvent');

const FileInfoSchema = z
  .object({ filename: z.string(), path: z.string(), status: z.string(), pipeline: z.string(), error_count: z.number().int().optional() })
  .openapi('FileInfo');

const FilesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
  after: z.string().min(1).max(1024).optional(),
});

const StatChildSchema = z.object({
  name: z.string(),
  type: z.enum(['file', 'directory']),
  total_bytes: z.number().int(),
  file_count: z.number().int(),
  ts_count: z.number().int(),
  estimated_minutes: z.number().int(),
  recorded_seconds: z.number().int().optional().openapi({ description: 'Seconds the recorder reported for the segments below (SEGMENT FINISH durations); absent when none did' }),
  in_progress_seconds: z
    .number()
    .int()
    .optional()
    .openapi({ description: 'Seconds recorded below but not stored yet: finished segments awaiting upload, and the segment in progress from its start to the last heartbeat; absent when none' }),
});

const FileStatSchema = z
  .object({ path: z.string(), children: z.array(StatChildSchema), total_bytes: z.number().int(), file_count: z.number().int() })
  .openapi('FileStat');

const tags = ['dvr sources'];

const security = [{ bearer: [] }];

export const sourceRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}/events',
      operationId: 'listSourceEvents',
      tags,
      security,
      summary: 'The 25 newest worker events of a source (subscriber or admin)',
      middleware: [requireCallerDeferred],
      request: { params: SourceParams, headers: IfNoneMatchHeaders },
      responses: {
        200: json(z.object({ driver: z.string(), username: z.string(), events: z.array(WorkerEventSchema) }), 'Events, newest first'),
        ...notModified,
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const d = db(c.env);
      // One round trip (conditional.ts): the caller's check, the source's visibility, its events
      // counter and the events, read only when the caller may see them and the tag is not current.
      const caller = callerCheck(c, d);
      const header = c.req.valid('header')['if-none-match'];
      // The events body this isolate built last for this name (list-cache.ts), served once the
      // batch has shown the caller may see the source and its tag is still the current one.
      const cacheKey = eventsCacheKey(driver, username);
      const kept = builtList(cacheKey);
      const [callerRows, visibility, counters, rows] = await d.batch([
        caller.query,
        sourceVisibilityQuery(d, driver, username, caller.userId),
        eventCounterQuery(d, driver, username),
        workerEventsOf(d, sourceIdByName(driver, username), 25, unlessEventsCurrent(header, driver, username, caller.userId, kept)),
      ]);
      const src = visibleOrNotFound(visibility[0], caller.confirm(callerRows), driver, username);
      // The tag carries the source id: a source re-created under the same name starts a new tag.
      return answerList(c, eventsView(src.id), counters, () => {
        const events = (rows as WorkerEventRow[]).map((e) => ({
          id: e.id,
          source_id: e.sourceId,
          pid: e.pid,
          event_type: e.eventType,
          ...(e.eventType === 'exited' && e.exitCode !== null ? { exit_code: e.exitCode } : {}),
          ts: e.ts,
        }));
        return { driver, username, events };
      }, { kept, key: cacheKey });
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}/logs',
      operationId: 'getSourceLogs',
      tags,
      security,
      summary: 'The last 200 log lines of a source (subscriber or admin)',
      middleware: [requireUser],
      request: { params: SourceParams, headers: IfNoneMatchHeaders },
      responses: {
        200: json(z.object({ driver: z.string(), username: z.string(), logs: z.array(z.string()) }), 'Log lines, oldest first'),
        ...notModified,
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const src = await visibleSource(c, driver, username);
      const logs = await c.env.SOURCE_MONITOR.getByName(monitorName({ driver, username })).logs();
      return answerByDigest(c, `logs-${src.id}`, { driver, username, logs });
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}/files',
      operationId: 'listSourceFiles',
      tags,
      security,
      summary: 'Recording files of a source from the recordings catalog, paginated by path (subscriber or admin)',
      middleware: [requireUser],
      request: { params: SourceParams, query: FilesQuery },
      responses: {
        200: json(z.object({ driver: z.string(), username: z.string(), files: z.array(FileInfoSchema), next_after: z.string().optional() }), 'Files, by path'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const page = c.req.valid('query');
      const src = await visibleSource(c, driver, username);
      // The recordings catalog, one indexed query per page (issue 16): never an R2 list.
      const rows = await listFiles(c.env, src.id, page);
      const more = rows.length === page.limit ? { next_after: rows[rows.length - 1]!.relPath } : {};
      return c.json({ driver, username, files: fileInfos(rows), ...more }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}/filestat',
      operationId: 'getSourceFileStat',
      tags,
      security,
      summary: 'Size, file count and estimated minutes of a recordings directory (subscriber or admin)',
      middleware: [requireUser],
      request: { params: SourceParams, query: z.object({ path: z.string().max(1024).optional() }) },
      responses: { 200: json(FileStatSchema, 'Directory summary'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const raw = c.req.valid('query').path ?? '';
      const src = await visibleSourceForStat(c, driver, username);
      const sub = safeSubpath(raw);
      if (sub === null) throw new BadRequest('invalid path', 'invalid_path');
      const [rows, config] = await Promise.all([statChildren(c.env, src.id, sub ? `${sub}/` : ''), loadConfig(db(c.env))]);
      const stat = statFromCatalog(rows, segmentSeconds(config));
      if (!stat) throw new NotFound('path not found');
      return c.json({ path: raw, ...stat }, 200);
    },
  );
