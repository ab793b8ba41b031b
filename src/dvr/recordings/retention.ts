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
 * The policies and the candidate statement live in queries.ts; this module runs the enforcement.
 *
 *   const next = await retentionCandidates(d, { sourceId: 7, limit: 20 });     // the dashboard preview (queries.ts)
 *   const done = await enforceRetention(env, 100);                              // the cron
 */
import { insertAuditRow } from '../../auth/queries/audit';
import { db } from '../../db/client';
import { createLogger } from '../../http/log';
import { nowIso } from '../../world';
import { markRecordingsDeleted, retentionCandidates } from './queries';

/** One bounded batch: mark, then delete the objects of the rows actually marked; audited. */
export async function enforceRetention(env: Pick<Env, 'DB' | 'BUCKET'>, limit: number): Promise<{ deleted: number; bytes: number }> {
  const d = db(env);
  const candidates = await retentionCandidates(d, { limit });
  if (candidates.length === 0) return { deleted: 0, bytes: 0 };
  const now = nowIso();
  const marked: number[] = [];
  // ≤ 100 bound parameters per statement.
  for (let i = 0; i < candidates.length; i += 90) {
    const ids = candidates.slice(i, i + 90).map((c) => c.id);
    marked.push(...(await markRecordingsDeleted(d, ids, now)));
  }
  const gone = candidates.filter((c) => marked.includes(c.id));
  const keys = gone.flatMap((c) => (c.thumbnailKey ? [c.r2Key, c.thumbnailKey] : [c.r2Key]));
  for (let i = 0; i < keys.length; i += 1000) await env.BUCKET.delete(keys.slice(i, i + 1000));
  const bytes = gone.reduce((n, c) => n + c.bytes, 0);
  await insertAuditRow(d, {
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
