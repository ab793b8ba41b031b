/**
 * Console play-session events from the allocator's mirror writes: the write is wrapped so the
 * statuses D1 held before it can be compared with what was written.
 *
 *   await announcePlayTransitions(env, orgId, rows, () => db(env).batch([...upserts]));  // play-mirror.ts
 *
 * `session.started` when a session first appears live (provisioning or active) after being absent or
 * queued; `session.ended` when a live one reaches ended, failed or terminated. The outbox re-delivers
 * rows at will: a re-delivery finds the status unchanged and announces nothing. A session that left
 * the queue without ever playing is not announced.
 */
import { inArray } from 'drizzle-orm';
import { chunk, db } from '../db/client';
import { playSessions } from '../db/schema';
import { notify } from './publish';

const LIVE = new Set(['provisioning', 'active']);
const ENDED = new Set(['ended', 'failed', 'terminated']);

export interface PlayRow {
  id: number;
  userId: number;
  gameId: number;
  status: string;
  endReason: string | null;
}

export async function announcePlayTransitions<T>(env: Env, orgId: number, rows: readonly PlayRow[], write: () => Promise<T>): Promise<T> {
  const d = db(env);
  const before = new Map<number, string>();
  for (const ids of chunk(rows.map((r) => r.id), 90)) {
    for (const r of await d.select({ id: playSessions.id, status: playSessions.status }).from(playSessions).where(inArray(playSessions.id, ids)).all()) before.set(r.id, r.status);
  }
  const result = await write();
  for (const r of rows) {
    const was = before.get(r.id);
    const data = { session_id: r.id, user_id: r.userId, game_id: r.gameId };
    if (LIVE.has(r.status) && (was === undefined || was === 'queued')) await notify(env, null, { type: 'session.started', orgId, data });
    else if (ENDED.has(r.status) && was !== undefined && LIVE.has(was)) await notify(env, null, { type: 'session.ended', orgId, data: { ...data, status: r.status, reason: r.endReason } });
  }
  return result;
}
