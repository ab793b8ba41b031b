/**
 * Deleting a backlog without holding D1 for long: `deleteInBatches` removes the rows a `Purge`
 * selects, oldest first, `rows` at a time, for at most `maxBatches` statements, so one cron run
 * stays short and a backlog drains over a few runs. The purges below are the retention rules'
 * statements (src/retention.ts is the job list that picks tables, cutoffs and batch sizes).
 *
 *   await deleteInBatches(db(env), olderThan(auditLog, auditLog.id, auditLog.ts, cutoffIso), 1000);
 */
import { and, asc, inArray, isNotNull, isNull, lt, notInArray, or, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { changes, type Db } from './client';
import { loginThrottle, playSessions } from './schema';

/** Which rows to delete (`where`), how to name one (`key`), and which go first (`order`). */
export interface Purge {
  table: SQLiteTable;
  key: SQLiteColumn;
  order: SQLiteColumn;
  where: SQL;
}

export const MAX_BATCHES = 10;

/** Deletes what `p` selects, oldest first, `rows` per statement; answers how many went. */
export async function deleteInBatches(d: Db, p: Purge, rows: number, maxBatches = MAX_BATCHES): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    // D1 has no DELETE ... LIMIT: the batch is chosen by key in a subquery.
    const n = changes(await d.delete(p.table).where(inArray(p.key, d.select({ k: p.key }).from(p.table).where(p.where).orderBy(asc(p.order)).limit(rows))).run());
    total += n;
    if (n < rows) break;
  }
  return total;
}

/** Rows whose `column` (an ISO timestamp) is before `cutoff`. */
export function olderThan(table: SQLiteTable, key: SQLiteColumn, column: SQLiteColumn, cutoff: string): Purge {
  return { table, key, order: column, where: lt(column, cutoff) };
}

/** Play sessions that ended before `cutoff`. A live one (provisioning, active) is the allocator's
 * and is never selected, whatever its age. */
export function finishedPlaySessions(cutoff: string): Purge {
  const where = and(notInArray(playSessions.status, ['provisioning', 'active']), isNotNull(playSessions.endedAt), lt(playSessions.endedAt, cutoff))!;
  return { table: playSessions, key: playSessions.id, order: playSessions.endedAt, where };
}

/** Login/registration counters whose window started before `windowStart` and that hold no lock at
 * `now` (a counter matters while its window runs or while it locks an account). */
export function staleThrottleCounters(windowStart: string, now: string): Purge {
  const where = and(lt(loginThrottle.windowStartedAt, windowStart), or(isNull(loginThrottle.lockedUntil), lt(loginThrottle.lockedUntil, now)))!;
  return { table: loginThrottle, key: loginThrottle.usernameDigest, order: loginThrottle.windowStartedAt, where };
}
