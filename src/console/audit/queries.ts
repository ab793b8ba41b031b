/**
 * The audit log's reads (its rows are written by `src/auth/audit.ts`), typed against the schema:
 * one page, newest first, with what `usernamesOf` needs to name each actor.
 *
 *   const rows = await auditEntries(d, { orgId: 7, action: 'org.member.*' }, 51);
 */
import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditLog, users } from '../../db/schema';

export interface AuditFilter {
  orgId?: number;
  /** Entries with a smaller id (the page cursor). */
  before?: number;
  /** An exact action, or a prefix ending in `*` (`org.member.*`). */
  action?: string;
  actorUserId?: number;
}

function actionMatches(action: string): SQL {
  if (!action.endsWith('*')) return eq(auditLog.action, action);
  // A prefix compare rather than LIKE: '_' in action names would be a LIKE wildcard.
  const prefix = action.slice(0, -1);
  return sql`substr(${auditLog.action}, 1, ${prefix.length}) = ${prefix}`;
}

/** Up to `limit` entries matching `filter`, newest first. */
export function auditEntries(d: Db, filter: AuditFilter, limit: number) {
  const where: SQL[] = [];
  if (filter.orgId !== undefined) where.push(eq(auditLog.orgId, filter.orgId));
  if (filter.before !== undefined) where.push(lt(auditLog.id, filter.before));
  if (filter.action !== undefined) where.push(actionMatches(filter.action));
  if (filter.actorUserId !== undefined) where.push(eq(auditLog.actorUserId, filter.actorUserId));
  return d
    .select({
      id: auditLog.id,
      ts: auditLog.ts,
      actorUserId: auditLog.actorUserId,
      action: auditLog.action,
      targetType: auditLog.targetType,
      targetId: auditLog.targetId,
      orgId: auditLog.orgId,
      ip: auditLog.ip,
      requestId: auditLog.requestId,
      details: auditLog.details,
      usernameEnc: users.usernameEnc,
      usernameDigest: users.usernameDigest,
    })
    .from(auditLog)
    .leftJoin(users, eq(users.id, auditLog.actorUserId))
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(limit);
}
