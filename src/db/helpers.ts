/**
 * Small SQL pieces that every area's queries need and drizzle does not offer, and the liveness probe.
 *
 *   sql`EXISTS (SELECT 1 FROM ${memberships} m WHERE m.org_id = ${outer(orgInvites.orgId)})`
 *   await ping(db(c.env));   // throws when D1 does not answer
 */
import { sql, type SQL } from 'drizzle-orm';
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
