/**
 * The drizzle client for D1, one per D1 binding or request session (no connection pool on D1).
 *
 *   const rows = await db(c.env).select().from(orgs).where(eq(orgs.id, id));
 *
 * D1 has no interactive transactions: multi-statement writes go through `db.batch([...])`, which
 * is atomic, and races are settled by conditional SQL plus the changed-row count (`changes()`).
 *
 * In a request, `env.DB` is that request's D1 session (src/http/d1-session.ts: reads may come from a
 * replica no older than the client's bookmark); Durable Objects, cron and queues pass the binding.
 */
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import * as schema from './schema';

export type Db = DrizzleD1Database & { $client: D1Database };

// No `{ schema }` is passed: nothing uses drizzle's relational `d.query` API, and with a schema
// drizzle walks every table's config on each client it builds (5-13 % of a poll's CPU in the
// profiles of docs/dvr.md and docs/play.md). The client is kept per binding object: Durable
// Objects, cron and queues reuse one; a request's D1 session object gets its own.
const clients = new WeakMap<D1Database, Db>();

export function db(env: Pick<Env, 'DB'>): Db {
  let client = clients.get(env.DB);
  if (!client) {
    client = drizzle(env.DB);
    clients.set(env.DB, client);
  }
  return client;
}

/** Rows changed by a D1 run result (drizzle's `.run()` returns D1's `D1Result`). */
export function changes(result: { meta: { changes?: number } }): number {
  return result.meta.changes ?? 0;
}

/** D1 binds at most 100 parameters per statement: split bulk writes. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export { schema };
