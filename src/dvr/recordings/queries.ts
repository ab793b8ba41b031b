/**
 * Every D1 statement of the recordings catalog (issue 16): recordings and recording sessions,
 * ingest hosts, multipart uploads and their parts, retention policies and pins. Written with
 * drizzle column references (raw `sql` only for the window functions of retention, still typed via
 * `${table.column}`), returning camelCase rows. The domain modules (catalog, events, hosts, uploads,
 * retention) and the route modules (ingest.ts, routes.ts) call these; nothing else in recordings/
 * builds SQL.
 *
 * Functions take the drizzle client first, `const d = db(env)` made once per request or call; the
 * ones named `…Statement(s)` return unexecuted statements for the caller's `d.batch([...])`.
 *
 *   const d = db(c.env);
 *   const row = await recordingByPath(d, sourceId, 'x/y.ts');
 *   await d.batch([putPolicyStatement(d, sourceId, policy, userId), auditStatement(c, …)]);
 */
import { and, asc, desc, eq, exists, gt, gte, inArray, isNotNull, isNull, like, lt, ne, notExists, or, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { changes, type Db } from '../../db/client';
import { ingestHosts, ingestParts, ingestUploads, recordingPins, recordings, recordingSessions, retentionPolicies, sources } from '../../db/schema';
import { nowIso } from '../../world';

export type Upload = typeof ingestUploads.$inferSelect;

// ───────────── recordings: the catalog readers ─────────────

/** `rel_path` range of a directory prefix (`a/b/` → [`a/b/`, `a/b0`)): an index range, not a LIKE. */
function under(dir: string): SQL | undefined {
  if (dir === '') return undefined;
  const hi = dir.slice(0, -1) + String.fromCharCode(dir.charCodeAt(dir.length - 1) + 1);
  return and(gte(recordings.relPath, dir), lt(recordings.relPath, hi));
}

/** The first path component below `dir` of each row, and whether it is a directory. */
function childOf(dir: string) {
  const rest = sql`substr(${recordings.relPath}, ${dir.length + 1})`;
  const slash = sql`instr(${rest}, '/')`;
  return {
    name: sql<string>`CASE WHEN ${slash} > 0 THEN substr(${rest}, 1, ${slash} - 1) ELSE ${rest} END`.as('name'),
    isDir: sql<number>`(${slash} > 0)`.as('is_dir'),
  };
}

const storedOf = (sourceId: number) => and(eq(recordings.sourceId, sourceId), eq(recordings.state, 'stored'));

export interface ChildRow {
  name: string;
  isDir: number;
  mtime: string | null;
  size: number;
  thumbBytes: number | null;
  thumbAt: string | null;
}

/** The immediate children of `dir` among the stored recordings, directories first, paginated by name. */
export async function listChildren(d: Db, sourceId: number, dir: string, page: { limit: number; after?: string }): Promise<ChildRow[]> {
  return d
    .select({
      ...childOf(dir),
      mtime: sql<string | null>`max(${recordings.storedAt})`,
      size: sql<number>`sum(${recordings.bytes})`,
      thumbBytes: sql<number | null>`max(${recordings.thumbnailBytes})`,
      thumbAt: sql<string | null>`max(CASE WHEN ${recordings.thumbnailKey} IS NOT NULL THEN ${recordings.storedAt} END)`,
    })
    .from(recordings)
    .where(and(storedOf(sourceId), under(dir)))
    .groupBy(sql`name`, sql`is_dir`)
    .having(page.after === undefined ? undefined : sql`name > ${page.after}`)
    .orderBy(sql`is_dir DESC`, sql`name`)
    .limit(page.limit);
}

/**
 * Summary of the stored recordings below `dir` for filestat (contract §3.5), grouped by child, plus
 * what is recorded but not stored yet (`inProgressSeconds`): a finished segment awaiting its upload
 * counts its reported duration, the segment in progress counts from its start to the source's last
 * heartbeat (not to now: a recorder that died stops the count where it last spoke). Only children
 * with something stored are listed (a folder holding only the live segment is not in the listing).
 */
export function statChildren(d: Db, sourceId: number, dir: string) {
  const stored = sql`${recordings.state} = 'stored'`;
  const heartbeat = d.select({ at: sources.lastHeartbeat }).from(sources).where(eq(sources.id, sourceId));
  const sinceStart = sql`max(0, (julianday((${heartbeat})) - julianday(${recordings.startedAt})) * 86400)`;
  return d
    .select({
      ...childOf(dir),
      totalBytes: sql<number>`sum(CASE WHEN ${stored} THEN ${recordings.bytes} ELSE 0 END)`,
      fileCount: sql<number>`sum(CASE WHEN ${stored} THEN 1 ELSE 0 END)`,
      tsCount: sql<number>`sum(CASE WHEN ${stored} AND ${recordings.relPath} LIKE '%.ts' THEN 1 ELSE 0 END)`,
      // What the recorder reported (SEGMENT FINISH): NULL when no stored segment below has a duration.
      recordedSeconds: sql<number | null>`sum(CASE WHEN ${stored} THEN ${recordings.durationSeconds} END)`,
      inProgressSeconds: sql<number | null>`sum(CASE WHEN NOT ${stored} THEN coalesce(${recordings.durationSeconds}, (julianday(${recordings.endedAt}) - julianday(${recordings.startedAt})) * 86400, ${sinceStart}, 0) END)`,
    })
    .from(recordings)
    .where(and(eq(recordings.sourceId, sourceId), inArray(recordings.state, ['stored', 'recording', 'uploading']), under(dir)))
    .groupBy(sql`name`, sql`is_dir`)
    .having(sql`sum(CASE WHEN ${stored} THEN 1 ELSE 0 END) > 0`)
    .orderBy(sql`name`);
}

/** Catalogued video files (`.ts`, `.mp4`, `.mkv`) of a source that are not deleted, by path, paginated. */
export function listFiles(d: Db, sourceId: number, page: { limit: number; after?: string }) {
  return d
    .select({ relPath: recordings.relPath, r2Key: recordings.r2Key, state: recordings.state })
    .from(recordings)
    .where(
      and(
        eq(recordings.sourceId, sourceId),
        inArray(recordings.state, ['recording', 'uploading', 'stored']),
        or(like(recordings.relPath, '%.ts'), like(recordings.relPath, '%.mp4'), like(recordings.relPath, '%.mkv')),
        page.after === undefined ? undefined : gt(recordings.relPath, page.after),
      ),
    )
    .orderBy(asc(recordings.relPath))
    .limit(page.limit);
}

/** A stored recording at `sub`, or the stored recording whose thumbnail `sub` is (`a/b.jpg` belongs
 * to a rel_path in [`a/b.`, `a/b/`)); both ride the `(source_id, state, rel_path)` index. */
export function storedObject(d: Db, sourceId: number, sub: string, kind: 'recording' | 'thumbnail') {
  const base = sub.replace(/\.jpg$/i, '');
  const path =
    kind === 'recording' ? eq(recordings.relPath, sub) : and(gte(recordings.relPath, `${base}.`), lt(recordings.relPath, `${base}/`), isNotNull(recordings.thumbnailKey));
  return d
    .select({ id: recordings.id, thumbnailKey: recordings.thumbnailKey })
    .from(recordings)
    .where(and(storedOf(sourceId), path))
    .limit(1)
    .get();
}

/** The newest stored thumbnail key of a source, or null. */
export async function latestThumbnail(d: Db, sourceId: number): Promise<string | null> {
  const row = await d
    .select({ key: recordings.thumbnailKey })
    .from(recordings)
    .where(and(storedOf(sourceId), isNotNull(recordings.thumbnailKey)))
    .orderBy(desc(recordings.storedAt), desc(recordings.id))
    .limit(1)
    .get();
  return row?.key ?? null;
}

/** Storage used by a source's stored recordings. */
export async function storageOf(d: Db, sourceId: number): Promise<{ bytes: number; files: number }> {
  const row = await d
    .select({ bytes: sql<number>`coalesce(sum(${recordings.bytes}), 0)`, files: sql<number>`count(*)` })
    .from(recordings)
    .where(storedOf(sourceId))
    .get();
  return { bytes: row?.bytes ?? 0, files: row?.files ?? 0 };
}

// ───────────── recordings: single rows ─────────────

export function recordingByPath(d: Db, sourceId: number, relPath: string) {
  return d
    .select()
    .from(recordings)
    .where(and(eq(recordings.sourceId, sourceId), eq(recordings.relPath, relPath)))
    .get();
}

/** Where a recording lives (its source's driver/username and its path), for playback URLs. */
export function locateRecording(d: Db, recordingId: number) {
  return d
    .select({ driver: sources.driver, username: sources.username, relPath: recordings.relPath })
    .from(recordings)
    .innerJoin(sources, eq(sources.id, recordings.sourceId))
    .where(eq(recordings.id, recordingId))
    .get();
}

export function sourceIdByName(d: Db, driver: string, username: string) {
  return d
    .select({ id: sources.id })
    .from(sources)
    .where(and(eq(sources.driver, driver), eq(sources.username, username)))
    .get();
}

/** A `recording` row for a file, unless the path is already catalogued (idempotent). */
export function insertRecordingStatement(
  d: Db,
  row: { sourceId: number; relPath: string; r2Key: string; startedAt?: string; segment?: number | null; hostId?: number; sessionId?: SQL },
) {
  return d
    .insert(recordings)
    .values({ ...row, state: 'recording' })
    .onConflictDoNothing();
}

/**
 * A remuxed segment is ONE recording: the `.ts` row becomes the `.mp4` row (same id, session, times,
 * pins) — renamed when no `.mp4` row exists yet, dropped when one does. Only rows still
 * `recording`/`uploading` move. Both statements are conditional, so the pair is safe to repeat and
 * to race with the recorder's events. Returns [rename, drop].
 */
export function adoptRemuxedStatements(d: Db, sourceId: number, tsRel: string, mp4Rel: string, mp4Key: string) {
  const twin = alias(recordings, 'twin');
  const mp4Exists = d
    .select({ one: sql`1` })
    .from(twin)
    .where(and(eq(twin.sourceId, sourceId), eq(twin.relPath, mp4Rel)));
  const tsRow = and(eq(recordings.sourceId, sourceId), eq(recordings.relPath, tsRel), inArray(recordings.state, ['recording', 'uploading']));
  return [
    d
      .update(recordings)
      .set({ relPath: mp4Rel, r2Key: mp4Key, updatedAt: nowIso() })
      .where(and(tsRow, notExists(mp4Exists))),
    d.delete(recordings).where(and(tsRow, exists(mp4Exists))),
  ] as const;
}

/** A segment's end (SEGMENT FINISH) on its row(s) still recording or uploading. */
export function finishSegment(d: Db, sourceId: number, relPaths: string[], at: string, measured: { durationSeconds?: number; bytes?: number }) {
  return d
    .update(recordings)
    .set({ endedAt: at, ...measured, updatedAt: nowIso() })
    .where(and(eq(recordings.sourceId, sourceId), inArray(recordings.relPath, relPaths), inArray(recordings.state, ['recording', 'uploading'])));
}

/** `recording → uploading` once its segment upload opens. */
export function markUploadingStatement(d: Db, recordingId: number, hostId: number) {
  return d
    .update(recordings)
    .set({ state: 'uploading', hostId, updatedAt: nowIso() })
    .where(and(eq(recordings.id, recordingId), eq(recordings.state, 'recording')));
}

/** Marks deleted the given stored, unpinned recordings (the pin is re-checked here, so a pin racing
 * retention wins); returns the ids actually marked. At most ~90 ids (D1's 100 parameters). */
export async function markRecordingsDeleted(d: Db, ids: number[], now: string): Promise<number[]> {
  const rows = await d
    .update(recordings)
    .set({ state: 'deleted', deletedAt: now, updatedAt: now })
    .where(
      and(
        inArray(recordings.id, ids),
        eq(recordings.state, 'stored'),
        notExists(d.select({ one: sql`1` }).from(recordingPins).where(eq(recordingPins.recordingId, recordings.id))),
      ),
    )
    .returning({ id: recordings.id });
  return rows.map((r) => r.id);
}

// ───────────── recording sessions ─────────────

/** Ends the source's open recording session(s) at `at`. */
export function endRecordingSessionsStatement(d: Db, sourceId: number, at: string) {
  return d
    .update(recordingSessions)
    .set({ endedAt: at })
    .where(and(eq(recordingSessions.sourceId, sourceId), isNull(recordingSessions.endedAt)));
}

export function insertRecordingSessionStatement(d: Db, sourceId: number, startedAt: string) {
  return d.insert(recordingSessions).values({ sourceId, startedAt });
}

/** The id of the source's newest open recording session, as a scalar subquery for an INSERT. */
export function openRecordingSessionId(d: Db, sourceId: number): SQL {
  const q = d
    .select({ id: recordingSessions.id })
    .from(recordingSessions)
    .where(and(eq(recordingSessions.sourceId, sourceId), isNull(recordingSessions.endedAt)))
    .orderBy(desc(recordingSessions.id))
    .limit(1);
  return sql`(${q})`;
}

// ───────────── pins ─────────────

export function insertPin(d: Db, recordingId: number, userId: number) {
  return d.insert(recordingPins).values({ recordingId, userId }).onConflictDoNothing();
}

export function deletePin(d: Db, recordingId: number, userId: number) {
  return d.delete(recordingPins).where(and(eq(recordingPins.recordingId, recordingId), eq(recordingPins.userId, userId)));
}

// ───────────── ingest hosts ─────────────

/** A new host with its enrolment code hash; undefined when the name is taken. */
export function insertHost(d: Db, row: { name: string; enrolCodeHash: string; enrolExpiresAt: string; createdBy: number }) {
  return d.insert(ingestHosts).values(row).onConflictDoNothing().returning({ id: ingestHosts.id }).get();
}

/** Consumes an unexpired enrolment code of a host not revoked (single use: conditional UPDATE). */
export function enrolHostByCode(d: Db, codeHash: string, tokenHash: string, now: string) {
  return d
    .update(ingestHosts)
    .set({ tokenHash, enrolCodeHash: null, enrolExpiresAt: null, enrolledAt: now, lastSeen: now })
    .where(and(eq(ingestHosts.enrolCodeHash, codeHash), gt(ingestHosts.enrolExpiresAt, now), isNull(ingestHosts.revokedAt)))
    .returning({ id: ingestHosts.id, name: ingestHosts.name })
    .get();
}

/** Clears both hashes; false when the host is unknown or already revoked. */
export async function revokeHostRow(d: Db, id: number): Promise<boolean> {
  const r = await d
    .update(ingestHosts)
    .set({ tokenHash: null, enrolCodeHash: null, enrolExpiresAt: null, revokedAt: nowIso() })
    .where(and(eq(ingestHosts.id, id), isNull(ingestHosts.revokedAt)))
    .run();
  return changes(r) === 1;
}

export function listHostRows(d: Db) {
  return d
    .select({
      id: ingestHosts.id,
      name: ingestHosts.name,
      createdAt: ingestHosts.createdAt,
      enrolledAt: ingestHosts.enrolledAt,
      revokedAt: ingestHosts.revokedAt,
      lastSeen: ingestHosts.lastSeen,
      enrolExpiresAt: ingestHosts.enrolExpiresAt,
    })
    .from(ingestHosts)
    .orderBy(asc(ingestHosts.name));
}

export function hostByTokenHash(d: Db, tokenHash: string) {
  return d.select({ id: ingestHosts.id, name: ingestHosts.name }).from(ingestHosts).where(eq(ingestHosts.tokenHash, tokenHash)).get();
}

export function touchHostStatement(d: Db, hostId: number) {
  return d.update(ingestHosts).set({ lastSeen: nowIso() }).where(eq(ingestHosts.id, hostId));
}

// ───────────── uploads and parts ─────────────

/** An upload of this host (another host's upload id answers nothing). */
export function findUpload(d: Db, id: string, hostId: number) {
  return d
    .select()
    .from(ingestUploads)
    .where(and(eq(ingestUploads.id, id), eq(ingestUploads.hostId, hostId)))
    .get();
}

export function uploadById(d: Db, id: string) {
  return d.select().from(ingestUploads).where(eq(ingestUploads.id, id)).get();
}

/** The uploads of a recording and kind still open or completing. */
export function openUploadsOf(d: Db, recordingId: number, kind: Upload['kind']) {
  return d
    .select()
    .from(ingestUploads)
    .where(and(eq(ingestUploads.recordingId, recordingId), eq(ingestUploads.kind, kind), inArray(ingestUploads.state, ['open', 'completing'])));
}

export function insertUploadStatement(d: Db, upload: Upload) {
  return d.insert(ingestUploads).values(upload);
}

export function reassignUpload(d: Db, id: string, hostId: number) {
  return d.update(ingestUploads).set({ hostId, updatedAt: nowIso() }).where(eq(ingestUploads.id, id));
}

export function setUploadStateStatement(d: Db, id: string, state: Upload['state']) {
  return d.update(ingestUploads).set({ state, updatedAt: nowIso() }).where(eq(ingestUploads.id, id));
}

/** `from → to` only when the upload is still `from`; true when this call moved it. */
export async function moveUploadState(d: Db, id: string, from: Upload['state'], to: Upload['state']): Promise<boolean> {
  const r = await d
    .update(ingestUploads)
    .set({ state: to, updatedAt: nowIso() })
    .where(and(eq(ingestUploads.id, id), eq(ingestUploads.state, from)))
    .run();
  return changes(r) === 1;
}

export function partsOf(d: Db, uploadId: string) {
  return d
    .select({ partNumber: ingestParts.partNumber, size: ingestParts.size, sha256: ingestParts.sha256, etag: ingestParts.etag })
    .from(ingestParts)
    .where(eq(ingestParts.uploadId, uploadId))
    .orderBy(asc(ingestParts.partNumber));
}

/** Records a verified part; a part sent again replaces the earlier one (as R2 does). */
export function upsertPart(d: Db, p: { uploadId: string; partNumber: number; size: number; sha256: string; etag: string }) {
  return d
    .insert(ingestParts)
    .values(p)
    .onConflictDoUpdate({ target: [ingestParts.uploadId, ingestParts.partNumber], set: { size: p.size, sha256: p.sha256, etag: p.etag } });
}

/** The upload `completed` and its recording `stored` (segment) or given its thumbnail, atomically;
 * a deleted recording stays deleted. */
export async function markStored(d: Db, u: Upload): Promise<void> {
  const now = nowIso();
  const live = and(eq(recordings.id, u.recordingId), ne(recordings.state, 'deleted'));
  const row =
    u.kind === 'segment'
      ? d.update(recordings).set({ state: 'stored', bytes: u.size, sha256: u.sha256, hostId: u.hostId, storedAt: now, updatedAt: now }).where(live)
      : d.update(recordings).set({ thumbnailKey: u.r2Key, thumbnailBytes: u.size, updatedAt: now }).where(live);
  await d.batch([d.update(ingestUploads).set({ state: 'completed', updatedAt: now }).where(eq(ingestUploads.id, u.id)), row]);
}

// ───────────── retention policies ─────────────

export interface Policy {
  keep_days: number | null;
  keep_gb: number | null;
  keep_sessions: number | null;
  keep_forever: boolean;
}

/** The policy row's source id of the global default. */
export const GLOBAL = 0;

export async function getPolicy(d: Db, sourceId: number): Promise<Policy | null> {
  const row = await d.select().from(retentionPolicies).where(eq(retentionPolicies.sourceId, sourceId)).get();
  return row ? { keep_days: row.keepDays, keep_gb: row.keepGb, keep_sessions: row.keepSessions, keep_forever: row.keepForever } : null;
}

export function putPolicyStatement(d: Db, sourceId: number, p: Policy, by: number) {
  const values = { keepDays: p.keep_days, keepGb: p.keep_gb, keepSessions: p.keep_sessions, keepForever: p.keep_forever, updatedBy: by, updatedAt: nowIso() };
  return d
    .insert(retentionPolicies)
    .values({ sourceId, ...values })
    .onConflictDoUpdate({ target: retentionPolicies.sourceId, set: values });
}

export function deletePolicyStatement(d: Db, sourceId: number) {
  return d.delete(retentionPolicies).where(eq(retentionPolicies.sourceId, sourceId));
}

export interface Candidate {
  id: number;
  sourceId: number;
  relPath: string;
  r2Key: string;
  thumbnailKey: string | null;
  bytes: number;
  startedAt: string;
  reason: 'days' | 'gb' | 'sessions';
}

/**
 * Stored, unpinned recordings that the effective policies would delete, oldest first (the rules are
 * in retention.ts). One statement with window functions over the stored rows of one source or of
 * all; drizzle cannot express the windows, so this is `sql` with the schema's column references.
 */
export async function retentionCandidates(d: Db, opts: { sourceId?: number; limit: number }): Promise<Candidate[]> {
  const r = recordings;
  const now = nowIso();
  const onlySource = opts.sourceId === undefined ? sql`` : sql`AND ${r.sourceId} = ${opts.sourceId}`;
  const pick = (col: string) => sql.raw(`CASE WHEN ps.source_id IS NOT NULL THEN ps.${col} ELSE pg.${col} END`);
  const rows = await d.all<Candidate & { pinned: number }>(sql`
    WITH base AS (
      SELECT ${r.id} AS id, ${r.sourceId} AS source_id, ${r.relPath} AS rel_path, ${r.r2Key} AS r2_key,
             ${r.thumbnailKey} AS thumbnail_key, ${r.bytes} AS bytes,
             COALESCE(${r.startedAt}, ${r.storedAt}, ${r.createdAt}) AS t,
             COALESCE(${r.sessionId}, -${r.id}) AS sess,
             EXISTS (SELECT 1 FROM ${recordingPins} WHERE ${recordingPins.recordingId} = ${r.id}) AS pinned
        FROM ${r}
       WHERE ${r.state} = 'stored' ${onlySource}
    ), sessions AS (
      SELECT base.*, MAX(t) OVER (PARTITION BY source_id, sess) AS sess_t FROM base
    ), ranked AS (
      SELECT sessions.*,
             SUM(bytes) OVER (PARTITION BY source_id ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS newer_bytes,
             DENSE_RANK() OVER (PARTITION BY source_id ORDER BY sess_t DESC, sess DESC) AS sess_rank
        FROM sessions
    ), judged AS (
      SELECT ranked.*,
             ${pick('keep_forever')} AS forever, ${pick('keep_days')} AS days,
             ${pick('keep_gb')} AS gb, ${pick('keep_sessions')} AS keep_sessions
        FROM ranked
        LEFT JOIN ${retentionPolicies} ps ON ps.source_id = ranked.source_id
        LEFT JOIN ${retentionPolicies} pg ON pg.source_id = ${GLOBAL}
    )
    SELECT id, source_id AS sourceId, rel_path AS relPath, r2_key AS r2Key, thumbnail_key AS thumbnailKey, bytes, t AS startedAt, pinned,
           CASE
             WHEN days IS NOT NULL AND t < strftime('%Y-%m-%dT%H:%M:%fZ', ${now}, '-' || days || ' days') THEN 'days'
             WHEN gb IS NOT NULL AND newer_bytes > gb * 1073741824 THEN 'gb'
             WHEN keep_sessions IS NOT NULL AND sess_rank > keep_sessions THEN 'sessions'
           END AS reason
      FROM judged
     WHERE forever IS NOT NULL AND forever = 0 AND pinned = 0
       AND ((days IS NOT NULL AND t < strftime('%Y-%m-%dT%H:%M:%fZ', ${now}, '-' || days || ' days'))
         OR (gb IS NOT NULL AND newer_bytes > gb * 1073741824)
         OR (keep_sessions IS NOT NULL AND sess_rank > keep_sessions))
     ORDER BY t ASC, id ASC
     LIMIT ${opts.limit}`);
  return rows.map(({ pinned: _pinned, ...c }) => c);
}
