/**
 * Small SQL pieces that every area's queries need and drizzle does not offer, and the liveness probe.
 *
 *   sql`EXISTS (SELECT 1 FROM ${memberships} m WHERE m.org_id = ${outer(orgInvites.orgId)})`
 *   await ping(db(c.env));   // throws when D1 does not answer
 */
import { is, sql, SQL } from 'drizzle-orm';
import { SQLiteAsyncDialect } from 'drizzle-orm/sqlite-core';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from './client';

/**
 * A column of the outer statement, qualified by its table (`table.column`): in a `sql` template
 * drizzle writes a bare column inside UPDATE/DELETE and in selected fields, and a bare `id` inside
 * a correlated subquery would name the subquery's own table.
 */
export function outer(column: SQLiteColumn): SQL {
  return sql`${column.table}.${sql.identifier(column.name)}`;
}

/**
 * A column's bare name, typed against the schema (a renamed column is a type error): for raw `sql`
 * where SQLite wants an unqualified name — INSERT column lists, UPDATE SET targets, conflict
 * targets, `excluded.<name>`.
 *
 *   sql`INSERT INTO ${games} (${col(games.slug)}) VALUES (${slug}) ON CONFLICT (${col(games.slug)}) DO NOTHING`
 */
export function col(column: SQLiteColumn): SQL {
  return sql`${sql.identifier(column.name)}`;
}

/** The cheapest statement D1 can answer: rejects when the database is unreachable (`/health`). */
export async function ping(d: Db): Promise<void> {
  await d.run(sql`SELECT 1`);
}

/** A statement `runBatch` takes: a drizzle builder (anything with `toSQL()`) or a raw `sql` template. */
export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

const dialect = new SQLiteAsyncDialect();

/**
 * One atomic D1 batch of builders and raw `sql`, D1's results in order (`changes(results[i])`).
 * The one workaround around drizzle's own `batch()`: drizzle 0.45's D1 batch cannot take raw `sql`
 * with parameters (it loses the prepared statement), so both kinds are rendered to SQL + params
 * and sent through the client's D1 binding (in a request, its D1 session).
 *
 *   const [entry] = await runBatch(d, [upsertEntryStatement(e), refreshEntriesStatement(org, user, now)]);
 */
export async function runBatch(d: Db, items: Statement[]): Promise<D1Result[]> {
  const client = d.$client;
  const stmts = items.map((item) => {
    const q = is(item, SQL) ? dialect.sqlToQuery(item) : item.toSQL();
    return client.prepare(q.sql).bind(...q.params);
  });
  return client.batch(stmts);
}
