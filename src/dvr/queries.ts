/**
 * The DVR's D1 statements that decide something (drizzle column references): posture writes with
 * the active count read in the same atomic batch, so two resumes at the same moment cannot both
 * see "2 active" (issue 11 item 13); the audit row rides in the same batch.
 *
 *   const { changed, active } = await writePosture(c, { subId: 12, sourceId: 7, posture: 'active' }, 'dvr.subscription.resume', {...});
 *   if (changed && active === 1) await link(c.env).requestStart(ref);
 */
import type { Context } from 'hono';
import { and, count, eq, ne } from 'drizzle-orm';
import type { AppEnv } from '../env';
import { auditStatement, type AuditEntry } from '../auth/audit';
import { db } from '../db/client';
import { subscriptions } from '../db/schema';
import { nowIso } from '../world';
import type { Posture } from './lifecycle';

/** Active subscriptions of a source, as one select (used inside batches and alone). */
function activeOf(c: { env: Pick<Env, 'DB'> }, sourceId: number) {
  return db(c.env)
    .select({ n: count() })
    .from(subscriptions)
    .where(and(eq(subscriptions.sourceId, sourceId), eq(subscriptions.posture, 'active')));
}

export async function activeSubscriptions(env: Pick<Env, 'DB'>, sourceId: number): Promise<number> {
  const [row] = await activeOf({ env }, sourceId);
  return row?.n ?? 0;
}

/**
 * Writes a posture and reads the source's active count in one atomic batch: the count is the one
 * this write produced, whatever other requests do at the same moment. `pause`/`resume` write only
 * when the posture differs (`updated_at` kept otherwise); `archive` always writes.
 */
export async function writePosture(
  c: Context<AppEnv>,
  target: { subId: number; sourceId: number; posture: Posture },
  auditAction: string,
  entry: AuditEntry,
): Promise<{ changed: boolean; active: number }> {
  const d = db(c.env);
  const { subId, sourceId, posture } = target;
  const where = posture === 'archived' ? eq(subscriptions.id, subId) : and(eq(subscriptions.id, subId), ne(subscriptions.posture, posture));
  const [updated, active] = await d.batch([
    d.update(subscriptions).set({ posture, updatedAt: nowIso() }).where(where).returning({ id: subscriptions.id }),
    activeOf(c, sourceId),
    auditStatement(c, auditAction, entry),
  ]);
  return { changed: updated.length > 0, active: active[0]?.n ?? 0 };
}

/** The audit insert as a raw D1 statement, for batches written with `env.DB.batch`. */
export function auditD1(c: Context<AppEnv>, action: string, entry: AuditEntry): D1PreparedStatement {
  const q = auditStatement(c, action, entry).toSQL();
  return c.env.DB.prepare(q.sql).bind(...q.params);
}
