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
import { db } from '../db/client';
import { notify } from './publish';
import { playSessionStatuses } from './queries';

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
  const before = await playSessionStatuses(db(env), rows.map((r) => r.id));
  const result = await write();
  for (const r of rows) {
    const was = before.get(r.id);
    const data = { session_id: r.id, user_id: r.userId, game_id: r.gameId };
    if (LIVE.has(r.status) && (was === undefined || was === 'queued')) await notify(env, null, { type: 'session.started', orgId, data });
    else if (ENDED.has(r.status) && was !== undefined && LIVE.has(was)) await notify(env, null, { type: 'session.ended', orgId, data: { ...data, status: r.status, reason: r.endReason } });
  }
  return result;
}
