/**
 * The two ways a row reaches the append-only `audit_log`: always, or only when the statement
 * before it in the same batch changed a row. Both are returned unexecuted, for the caller's batch.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditLog } from '../../db/schema';

export type AuditRow = Omit<typeof auditLog.$inferInsert, 'id'> & { ts: string };

export function insertAuditRow(d: Db, row: AuditRow) {
  return d.insert(auditLog).values(row);
}

/**
 * Inserted only when the statement before it in the batch changed a row (SQLite's `changes()`
 * within the batch's transaction), so a refused conditional write leaves no audit row.
 */
export function insertAuditRowIfChanged(d: Db, r: AuditRow) {
  // Every column in table order (drizzle's INSERT ... SELECT lists them all); a NULL id is assigned.
  return d
    .insert(auditLog)
    .select(
      sql`SELECT NULL, ${r.ts}, ${r.actorUserId ?? null}, ${r.action}, ${r.targetType ?? null}, ${r.targetId ?? null},
                 ${r.orgId ?? null}, ${r.ip ?? null}, ${r.requestId ?? null}, ${r.details ?? null}
           WHERE changes() > 0`,
    );
}
