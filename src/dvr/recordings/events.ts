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
import type { BatchItem } from 'drizzle-orm/batch';
import { db, type Db } from '../../db/client';
import type { SourceRef } from '../runtime';
import { safeSubpath } from '../media-store';
import { recordingKey, remuxedPath } from './catalog';
import {
  adoptRemuxedStatements,
  endRecordingSessionsStatement,
  finishSegment,
  insertRecordingSessionStatement,
  insertRecordingStatement,
  openRecordingSessionId,
} from './queries';
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
  const d = db(env);
  const { statements, what } = recorderOutputStatements(d, ref, data);
  if (statements.length > 0) await d.batch(statements as [Companion, ...Companion[]]);
  return what;
}

type Companion = BatchItem<'sqlite'>;

/**
 * The catalog statements of one recorder line, unexecuted, in the order they must run: the overseer
 * link sends the lines of a burst for one source as one `d.batch` (issue 17: one D1 round trip per
 * delivered group instead of one per line). A batch runs its statements in order, so a SEGMENT
 * START followed by its FINISH in the same group behaves as two separate calls.
 */
export function recorderOutputStatements(d: Db, ref: SourceRef, data: unknown): { statements: Companion[]; what: 'recording-session' | 'segment' | null } {
  const ev = parseRecorderLine(data);
  if (!ev) return { statements: [], what: null };
  const at = eventTime(ev);
  switch (ev.event) {
    case 'RECORDING START':
      // A recording session left open by a crash ends where the next one starts.
      return { statements: [endRecordingSessionsStatement(d, ref.sourceId, at), insertRecordingSessionStatement(d, ref.sourceId, at)], what: 'recording-session' };
    case 'RECORDING END':
      return { statements: [endRecordingSessionsStatement(d, ref.sourceId, at)], what: 'recording-session' };
    case 'SEGMENT START':
    case 'SEGMENT FINISH': {
      const rel = relativePath(ref, ev.file);
      if (!rel) return { statements: [], what: null };
      const segment = /^\d+$/.test(ev.segment ?? '') ? Number(ev.segment) : null;
      // A `.ts` the media agent already remuxed and uploaded is catalogued as its `.mp4`: a late
      // event must not bring back a `.ts` row that would stay `recording` forever.
      const mp4 = remuxedPath(rel);
      const statements: Companion[] = [
        insertRecordingStatement(d, {
          sourceId: ref.sourceId,
          sessionId: openRecordingSessionId(d, ref.sourceId),
          segment,
          relPath: rel,
          r2Key: recordingKey(ref.driver, ref.username, rel),
          startedAt: at,
        }),
        ...(mp4 ? [adoptRemuxedStatements(d, ref.sourceId, rel, mp4, recordingKey(ref.driver, ref.username, mp4))[1]] : []),
      ];
      if (ev.event === 'SEGMENT FINISH') {
        const duration = parseHms(ev.duration);
        const bytes = parseSize(ev.size);
        statements.push(
          finishSegment(d, ref.sourceId, mp4 ? [rel, mp4] : [rel], at, {
            ...(duration === null ? {} : { durationSeconds: duration }),
            ...(bytes === null ? {} : { bytes }),
          }),
        );
      }
      return { statements, what: 'segment' };
    }
    default:
      return { statements: [], what: null };
  }
}
