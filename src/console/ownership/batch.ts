/**
 * Atomic batches that mix drizzle query builders with raw `sql` statements. drizzle 0.45's D1
 * `batch()` cannot take raw `sql` with parameters (it loses the prepared statement), so both are
 * rendered to SQL + params here and sent through D1's own `batch()`, which is one transaction.
 * Kept for drizzle-orm 0.45.4 (not re-tested this round); the chart snapshot writer uses it too.
 *
 *   const [ins] = await runBatch(env, [sql`INSERT ...`, auditStatement(c, 'x.y', {...})]);
 *   changes(ins);
 */
import { is, SQL } from 'drizzle-orm';
import { SQLiteAsyncDialect } from 'drizzle-orm/sqlite-core';

export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

const dialect = new SQLiteAsyncDialect();

export async function runBatch(env: Pick<Env, 'DB'>, items: Statement[]): Promise<D1Result[]> {
  const stmts = items.map((item) => {
    const q = is(item, SQL) ? dialect.sqlToQuery(item) : item.toSQL();
    return env.DB.prepare(q.sql).bind(...q.params);
  });
  return env.DB.batch(stmts);
}
