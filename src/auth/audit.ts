/**
 * The append-only audit log: logins (success, failure, lockout), token reuse, role and
 * membership changes, config changes, user create/delete — who, what, when, from which IP, and
 * the request id that ties it to the logs.
 *
 *   await audit(c, 'org.member.add', { orgId, targetType: 'user', targetId: userId, details: { role } });
 *   await db.batch([write, auditStatement(c, 'config.update', {...})]);  // atomically with a write
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { db } from '../db/client';
import { clientIp } from '../http/middleware';
import { nowIso } from '../world';
import { insertAuditRow, insertAuditRowIfChanged, type AuditRow } from './queries/audit';

export interface AuditEntry {
  actorUserId?: number | null;
  targetType?: string;
  targetId?: string | number;
  orgId?: number | null;
  details?: Record<string, unknown>;
}

function auditRow(c: Context<AppEnv>, action: string, entry: AuditEntry): AuditRow {
  return {
    ts: nowIso(),
    actorUserId: entry.actorUserId !== undefined ? entry.actorUserId : (c.get('user')?.id ?? null),
    action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId === undefined ? null : String(entry.targetId),
    orgId: entry.orgId ?? null,
    ip: clientIp(c.req.raw),
    requestId: c.get('requestId') ?? null,
    details: entry.details ? JSON.stringify(entry.details) : null,
  };
}

export function auditStatement(c: Context<AppEnv>, action: string, entry: AuditEntry = {}) {
  return insertAuditRow(db(c.env), auditRow(c, action, entry));
}

export async function audit(c: Context<AppEnv>, action: string, entry: AuditEntry = {}): Promise<void> {
  await auditStatement(c, action, entry).run();
}

/**
 * The audit row of a guarded write, for the same `db.batch([...])`, placed right after that write:
 * it is inserted only when the statement before it changed a row, so a refused conditional write
 * leaves no audit row and an applied one always has its row.
 */
export function auditIfChanged(c: Context<AppEnv>, action: string, entry: AuditEntry = {}) {
  return insertAuditRowIfChanged(db(c.env), auditRow(c, action, entry));
}
