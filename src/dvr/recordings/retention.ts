/**
 * Retention (issue 16): a global default policy and per-source ones (keep N days, at most N GB,
 * the last N recording sessions, or forever), users' pins, enforced by the `*\/5` cron from the
 * catalog — never by listing R2 — in bounded batches (`RECORDINGS_RETENTION_BATCH`), each batch audited.
 *
 * Rules: a source's own policy replaces the global one entirely; with no policy at all nothing is
 * deleted. A recording goes when ANY limit of its policy is exceeded: older than `keep_days`
 * (by its start), beyond `keep_gb` counting newest first (pinned recordings count towards the
 * total but are never deleted), or outside the newest `keep_sessions` sessions. A deletion first
 * marks the row `deleted` with a conditional UPDATE that re-checks the pin (so a pin racing the job
 * wins), then deletes the R2 objects of exactly the rows it marked.
 *
 *   const next = await retentionCandidates(env, { sourceId: 7, limit: 20 });   // the dashboard preview
 *   const done = await enforceRetention(env, 100);                              // the cron
 */
import { and, eq, inArray, notExists, sql } from 'drizzle-orm';
import { db } from '../../db/client';
import { auditLog, recordingPins, recordings, retentionPolicies } from '../../db/schema';
import { createLogger } from '../../http/log';
import { nowIso } from '../../world';

export interface Policy {
  keep_days: number | null;
  keep_gb: number | null;
  keep_sessions: number | null;
  keep_forever: boolean;
}

export const GLOBAL = 0;

export async function getPolicy(env: Pick<Env, 'DB'>, sourceId: number): Promise<Policy | null> {
  const row = await db(env).select().from(retentionPolicies).where(eq(retentionPolicies.sourceId, sourceId)).get();
  return row ? { keep_days: row.keepDays, keep_gb: row.keepGb, keep_sessions: row.keepSessions, keep_forever: row.keepForever } : null;
}

export function putPolicy(env: Pick<Env, 'DB'>, sourceId: number, p: Policy, by: number) {
  const values = { keepDays: p.keep_days, keepGb: p.keep_gb, keepSessions: p.keep_sessions, keepForever: p.keep_forever, updatedBy: by, updatedAt: nowIso() };
  return db(env)
    .insert(retentionPolicies)
    .values({ sourceId, ...values })
    .onConflictDoUpdate({ target: retentionPolicies.sourceId, set: values });
}

export function deletePolicy(env: Pick<Env, 'DB'>, sourceId: number) {
  return db(env).delete(retentionPolicies).where(eq(retentionPolicies.sourceId, sourceId));
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
 * Stored, unpinned recordings that the effective policies would delete, oldest first. One
 * statement (window functions over the stored rows of one source or of all); drizzle cannot
 * express the windows, so this is `sql` with the schema's column references.
 */
export async function retentionCandidates(env: Pick<Env, 'DB'>, opts: { sourceId?: number; limit: number }): Promise<Candidate[]> {
  const r = recordings;
  const now = nowIso();
  const onlySource = opts.sourceId === undefined ? sql`` : sql`AND ${r.sourceId} = ${opts.sourceId}`;
  const pick = (col: string) => sql.raw(`CASE WHEN ps.source_id IS NOT NULL THEN ps.${col} ELSE pg.${col} END`);
  const rows = await db(env).all<Candidate & { pinned: number }>(sql`
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

/** Storage used per source (stored rows), for the dashboard. */
export async function storageOf(env: Pick<Env, 'DB'>, sourceId: number): Promise<{ bytes: number; files: number }> {
  const row = await db(env)
    .select({ bytes: sql<number>`coalesce(sum(${recordings.bytes}), 0)`, files: sql<number>`count(*)` })
    .from(recordings)
    .where(and(eq(recordings.sourceId, sourceId), eq(recordings.state, 'stored')))
    .get();
  return { bytes: row?.bytes ?? 0, files: row?.files ?? 0 };
}

/** One bounded batch: mark, then delete the objects of the rows actually marked; audited. */
export async function enforceRetention(env: Pick<Env, 'DB' | 'BUCKET'>, limit: number): Promise<{ deleted: number; bytes: number }> {
  const candidates = await retentionCandidates(env, { limit });
  if (candidates.length === 0) return { deleted: 0, bytes: 0 };
  const d = db(env);
  const now = nowIso();
  const marked: number[] = [];
  // ≤ 100 bound parameters per statement.
  for (let i = 0; i < candidates.length; i += 90) {
    const ids = candidates.slice(i, i + 90).map((c) => c.id);
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
    for (const r of rows) marked.push(r.id);
  }
  const gone = candidates.filter((c) => marked.includes(c.id));
  const keys = gone.flatMap((c) => (c.thumbnailKey ? [c.r2Key, c.thumbnailKey] : [c.r2Key]));
  for (let i = 0; i < keys.length; i += 1000) await env.BUCKET.delete(keys.slice(i, i + 1000));
  const bytes = gone.reduce((n, c) => n + c.bytes, 0);
  await d.insert(auditLog).values({
    ts: now,
    action: 'dvr.retention.delete',
    targetType: 'recordings',
    details: JSON.stringify({ count: gone.length, bytes, reasons: countBy(gone.map((c) => c.reason)), ids: gone.slice(0, 100).map((c) => c.id) }),
  });
  return { deleted: gone.length, bytes };
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** The cron job (listed in `jobs.frequent`). */
export async function retentionJob(env: Env): Promise<void> {
  const limit = Math.min(1000, Math.max(1, Number(env.RECORDINGS_RETENTION_BATCH) || 100));
  const r = await enforceRetention(env, limit);
  if (r.deleted > 0) createLogger({ job: 'retention' }).info('retention deleted recordings', r);
}
