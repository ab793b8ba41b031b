/**
 * Domain rules shared by the user and admin routes (contract §7): get-or-create a source, posture
 * writes, and the start/stop side effects — a source records while it has ≥ 1 active subscription
 * and is not errored. Starts fire when a write leaves exactly one active subscription (§7.3, also
 * for a user's resume: the reference defect of §7.9 is fixed); stops when none is left (§7.4).
 *
 *   await applyPosture(c, row, 'paused', 'owner');   // audited; stops the recorder if none is left
 */
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { BadRequest } from '../http/errors';
import { describeIssues } from '../http/openapi';
import { nowIso } from '../world';
import { auditD1, writePosture } from './queries';
import type { SourceRef } from './runtime';
import { refOf, type StatusRow } from './status';

/** Driver and username: one path segment each (they become R2 prefixes and DO names). */
export const SEGMENT = /^(?!\.{1,2}$)[\p{L}\p{N}_.\-]{1,64}$/u;
export const Segment = z.string().min(1).regex(SEGMENT, 'must be 1–64 letters, digits, "_", "-" or "."');

export const SourceParams = z.object({
  driver: Segment.openapi({ param: { name: 'driver', in: 'path' }, example: 'chaturbate' }),
  username: Segment.openapi({ param: { name: 'username', in: 'path' }, example: 'alice' }),
});

export function link(env: Env) {
  return env.OVERSEER_LINK.getByName('overseer');
}

/** Subscribe (§3.4): get-or-create the source, insert or reactivate the caller's subscription.
 * One atomic batch; returns the source and the active count after the write. */
export async function subscribe(c: Context<AppEnv>, userId: number, driver: string, username: string): Promise<{ ref: SourceRef; active: number }> {
  const env = c.env;
  const now = nowIso();
  const [, , src] = await env.DB.batch<{ id: number; active: number }>([
    env.DB.prepare(`INSERT INTO sources (driver, username, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (driver, username) DO NOTHING`).bind(driver, username, now),
    env.DB.prepare(
      `INSERT INTO subscriptions (user_id, source_id, posture, created_at, updated_at)
       SELECT ?1, id, 'active', ?4, ?4 FROM sources WHERE driver = ?2 AND username = ?3
       ON CONFLICT (user_id, source_id) DO UPDATE SET posture = 'active', updated_at = excluded.updated_at`,
    ).bind(userId, driver, username, now),
    env.DB.prepare(
      `SELECT s.id, (SELECT count(*) FROM subscriptions x WHERE x.source_id = s.id AND x.posture = 'active') AS active
         FROM sources s WHERE s.driver = ?1 AND s.username = ?2`,
    ).bind(driver, username),
    auditD1(c, 'dvr.subscription.subscribe', { targetType: 'source', targetId: `${driver}/${username}` }),
  ]);
  const row = src!.results[0]!;
  return { ref: { sourceId: row.id, driver, username }, active: row.active };
}

export type Posture = 'active' | 'paused' | 'archived';

const VERB: Record<Posture, string> = { active: 'resume', paused: 'pause', archived: 'archive' };

/**
 * A posture change by the owner or by an admin (`via`), audited, with its side effect: start when
 * this write left exactly one active subscription, stop when it left none. The count comes from
 * the same atomic batch as the write, so concurrent resumes agree on who was first.
 */
export async function applyPosture(c: Context<AppEnv>, row: StatusRow, posture: Posture, via: 'owner' | 'admin'): Promise<void> {
  // Idempotent pause/resume: nothing written, nothing audited (archive always writes, §3.4).
  if (posture !== 'archived' && row.posture === posture) return;
  const action = `dvr.${via === 'admin' ? 'admin.' : ''}subscription.${VERB[posture]}`;
  const { changed, active } = await writePosture(c, { subId: row.sub_id, sourceId: row.source_id, posture }, action, {
    targetType: 'subscription',
    targetId: row.sub_id,
    details: { source: `${row.driver}/${row.username}`, owner_user_id: row.user_id, from: row.posture },
  });
  if (!changed) return;
  const ref = refOf(row);
  if (posture === 'active' && active === 1) await link(c.env).requestStart(ref);
  if (posture !== 'active' && active === 0) await link(c.env).stopSource(ref);
}

/** The body hook of `POST /api/subscriptions`: the contract's exact messages (missing or empty
 * field → "<field> is required"; present but unusable → which rule it broke). */
export function subscribeHook(result: { success: boolean; error?: { issues: readonly { path: PropertyKey[]; message: string; code: string }[] } }): undefined {
  if (result.success || !result.error) return undefined;
  const issues = result.error.issues;
  const details = describeIssues(issues);
  if (issues.some((i) => i.path.length === 0)) throw new BadRequest('invalid JSON', 'invalid_json', details);
  for (const key of ['driver', 'username']) {
    const mine = issues.filter((i) => i.path[0] === key);
    if (mine.length === 0) continue;
    if (mine.some((i) => i.code === 'invalid_type' || i.code === 'too_small')) throw new BadRequest(`${key} is required`, 'validation_failed', details);
    throw new BadRequest(`${key}: ${mine[0]!.message}`, 'validation_failed', details);
  }
  throw new BadRequest('invalid request', 'validation_failed', details);
}
