/**
 * Recorder events → the recordings catalog (issue 16). The overseer link calls `onRecorderOutput`
 * for every `output` push of a task it owns, in arrival order, after the source's monitor applied
 * it. Recorder lines are flat JSON objects of strings (`event`, `time` RFC 3339, ...):
 *
 *   RECORDING START {recording}                   → a recording_sessions row
 *   SEGMENT START  {file, segment, recording}     → a recordings row, state `recording`
 *   SEGMENT FINISH {file, duration, size, trigger} → ended_at, duration, bytes (upsert: in
 *                                                  single-file mode START and FINISH arrive together)
 *   RECORDING END  {recording}                    → the recording session's ended_at
 *
 * Every write is idempotent (unique `(source_id, rel_path)`, conditional updates), so a replayed
 * event changes nothing; a stored or deleted row is never moved back by a late event.
 *
 *   await onRecorderOutput(env, { sourceId: 7, driver: 'chaturbate', username: 'alice' }, frame.data);
 */
import { z } from '@hono/zod-openapi';
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { db } from '../../db/client';
import { recordings, recordingSessions } from '../../db/schema';
import type { SourceRef } from '../runtime';
import { safeSubpath } from '../media-store';
import { adoptRemuxed, recordingKey, remuxedPath } from './catalog';
import { nowIso } from '../../world';

/** A recorder line as the recorder prints it: a flat JSON object of strings with an `event`. */
const RecorderLineSchema = z.record(z.string(), z.string()).refine((o) => typeof o.event === 'string', 'no event');

/** A recorder line (the `data` of an `output` push), validated with zod at this boundary; anything
 * else is not ours (null). The SourceMonitor and the recordings catalog both read them. */
export function parseRecorderLine(data: unknown): Record<string, string> | null {
  let obj: unknown = data;
  if (typeof data === 'string') {
    try {
      obj = JSON.parse(data);
    } catch {
      return null;
    }
  }
  if (!RecorderLineSchema.safeParse(obj).success) return null;
  // Copied from the input onto a null prototype: keys come from the recorder's output
  // (`__proto__`, `constructor`) and must stay plain keys.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(obj as object)) out[k] = v as string;
  return typeof out.event === 'string' ? out : null;
}

/** `hh:mm:ss` (also `mm:ss`, fractional seconds) → seconds; null when unparsable. */
export function parseHms(s: string | undefined): number | null {
  if (!s || !/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(s)) return null;
  return s.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
}

/** The recorder's size strings (`512B`, `64.0KB`, `1.2MB`, `1.0GB`, binary multiples) → bytes. */
export function parseSize(s: string | undefined): number | null {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB)$/i.exec(s?.trim() ?? '');
  if (!m) return null;
  const mult = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[m[2]!.toUpperCase() as 'B'];
  return Math.round(Number(m[1]) * mult);
}

/** The path of a recorder file below its source directory (`/data/recordings/{d}/{u}/x/y.ts` →
 * `x/y.ts`); the basename when the file is elsewhere; null when unsafe. */
export function relativePath(ref: Pick<SourceRef, 'driver' | 'username'>, file: string | undefined): string | null {
  if (!file) return null;
  const norm = file.replaceAll('\\', '/');
  const marker = `/${ref.driver}/${ref.username}/`;
  const at = norm.lastIndexOf(marker);
  const rel = at >= 0 ? norm.slice(at + marker.length) : norm.slice(norm.lastIndexOf('/') + 1);
  const safe = safeSubpath(rel);
  return safe ? safe : null;
}

function eventTime(ev: Record<string, string>): string {
  const t = Date.parse(ev.time ?? '');
  return Number.isFinite(t) ? new Date(t).toISOString() : nowIso();
}

/** Applies one recorder line to the catalog. Returns what happened, for notifications. */
export async function onRecorderOutput(env: Pick<Env, 'DB'>, ref: SourceRef, data: unknown): Promise<'recording-session' | 'segment' | null> {
  const ev = parseRecorderLine(data);
  if (!ev) return null;
  const d = db(env);
  const at = eventTime(ev);
  switch (ev.event) {
    case 'RECORDING START': {
      // A recording session left open by a crash ends where the next one starts.
      await d.batch([
        d.update(recordingSessions).set({ endedAt: at }).where(and(eq(recordingSessions.sourceId, ref.sourceId), isNull(recordingSessions.endedAt))),
        d.insert(recordingSessions).values({ sourceId: ref.sourceId, startedAt: at }),
      ]);
      return 'recording-session';
    }
    case 'RECORDING END': {
      await d.update(recordingSessions).set({ endedAt: at }).where(and(eq(recordingSessions.sourceId, ref.sourceId), isNull(recordingSessions.endedAt)));
      return 'recording-session';
    }
    case 'SEGMENT START':
    case 'SEGMENT FINISH': {
      const rel = relativePath(ref, ev.file);
      if (!rel) return null;
      const openRecordingSession = d
        .select({ id: recordingSessions.id })
        .from(recordingSessions)
        .where(and(eq(recordingSessions.sourceId, ref.sourceId), isNull(recordingSessions.endedAt)))
        .orderBy(desc(recordingSessions.id))
        .limit(1);
      const segment = /^\d+$/.test(ev.segment ?? '') ? Number(ev.segment) : null;
      // A `.ts` the media agent already remuxed and uploaded is catalogued as its `.mp4`: a late
      // event must not bring back a `.ts` row that would stay `recording` forever.
      const mp4 = remuxedPath(rel);
      await d.batch([
        d
          .insert(recordings)
          .values({
            sourceId: ref.sourceId,
            sessionId: sql`(${openRecordingSession})`,
            segment,
            relPath: rel,
            r2Key: recordingKey(ref.driver, ref.username, rel),
            startedAt: at,
            state: 'recording',
          })
          .onConflictDoNothing(),
        ...(mp4 ? [adoptRemuxed(d, ref.sourceId, rel, mp4, recordingKey(ref.driver, ref.username, mp4))[1]] : []),
      ]);
      if (ev.event === 'SEGMENT FINISH') {
        const duration = parseHms(ev.duration);
        const bytes = parseSize(ev.size);
        await d
          .update(recordings)
          .set({
            endedAt: at,
            ...(duration === null ? {} : { durationSeconds: duration }),
            ...(bytes === null ? {} : { bytes }),
            updatedAt: nowIso(),
          })
          .where(and(eq(recordings.sourceId, ref.sourceId), inArray(recordings.relPath, mp4 ? [rel, mp4] : [rel]), inArray(recordings.state, ['recording', 'uploading'])));
      }
      return 'segment';
    }
    default:
      return null;
  }
}
