/**
 * Statements built once per isolate (src/db/prepared.ts): one shape serves many requests, each with
 * its own D1 session and values, alone or inside `d.batch([...])`, with drizzle's row mapping.
 */
import { env } from 'cloudflare:test';
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { prepared, preparedByShape, type Slots } from '../../src/db/prepared';
import { sources } from '../../src/db/schema';

const addSource = prepared((d, $: Slots<{ driver: string; username: string; active: boolean; createdAt: string }>) =>
  d.insert(sources).values({ driver: $.driver, username: $.username, sessionActive: $.active, createdAt: $.createdAt }).returning({ id: sources.id }),
);

const sourceByName = prepared((d, $: Slots<{ driver: string; username: string }>) =>
  d
    .select({ id: sources.id, username: sources.username, active: sources.sessionActive, upper: sql<string>`upper(${sources.username})`.mapWith(String) })
    .from(sources)
    .where(and(eq(sources.driver, $.driver), eq(sources.username, $.username))),
);

/** A request's client: each request runs in its own D1 session (src/http/d1-session.ts). */
const requestDb = () => db({ DB: env.DB.withSession('first-primary') as unknown as D1Database });

describe('statements prepared once per isolate', () => {
  it('gives each request its own rows when one shape is reused with different values, alone and in a batch', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const now = new Date().toISOString();
    // Two requests write through the same insert shape (a boolean placeholder goes through the column's encoder).
    const [a] = await addSource(requestDb(), { driver: 'prep', username: `a-${tag}`, active: true, createdAt: now });
    const [b] = await addSource(requestDb(), { driver: 'prep', username: `b-${tag}`, active: false, createdAt: now });
    expect(a!.id).not.toBe(b!.id);

    // Alone: each request reads its own row, mapped by drizzle (boolean column, mapWith).
    expect(await sourceByName(requestDb(), { driver: 'prep', username: `a-${tag}` })).toEqual([{ id: a!.id, username: `a-${tag}`, active: true, upper: `A-${tag}`.toUpperCase() }]);
    expect(await sourceByName(requestDb(), { driver: 'prep', username: `b-${tag}` })).toEqual([{ id: b!.id, username: `b-${tag}`, active: false, upper: `B-${tag}`.toUpperCase() }]);

    // In one batch, next to a statement drizzle builds per call: every item keeps its own values and rows.
    const d = requestDb();
    const [rowsB, rowsA, none, built] = await d.batch([
      sourceByName(d, { driver: 'prep', username: `b-${tag}` }),
      sourceByName(d, { driver: 'prep', username: `a-${tag}` }),
      sourceByName(d, { driver: 'prep', username: `missing-${tag}` }),
      d.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(sources).where(eq(sources.driver, 'prep')),
    ]);
    expect(rowsB.map((r) => [r.id, r.active])).toEqual([[b!.id, false]]);
    expect(rowsA.map((r) => [r.id, r.active])).toEqual([[a!.id, true]]);
    expect(none).toEqual([]);
    expect(built[0]!.n).toBeGreaterThanOrEqual(2);
  });

  it('keeps one shape per key, each with its own SQL', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const now = new Date().toISOString();
    for (const u of ['x', 'y', 'z']) await addSource(requestDb(), { driver: 'prep-shape', username: `${u}-${tag}`, active: false, createdAt: now });
    const byNames = preparedByShape((n: 1 | 2, d, $: Slots<{ a: string; b: string }>) =>
      d
        .select({ username: sources.username })
        .from(sources)
        .where(sql`${sources.driver} = 'prep-shape' AND ${sources.username} IN (${n === 1 ? $.a : sql`${$.a}, ${$.b}`})`)
        .orderBy(sources.username),
    );
    expect(await byNames(2, requestDb(), { a: `x-${tag}`, b: `z-${tag}` })).toEqual([{ username: `x-${tag}` }, { username: `z-${tag}` }]);
    expect(await byNames(1, requestDb(), { a: `y-${tag}`, b: `z-${tag}` })).toEqual([{ username: `y-${tag}` }]);
    expect(await byNames(2, requestDb(), { a: `y-${tag}`, b: `x-${tag}` })).toEqual([{ username: `x-${tag}` }, { username: `y-${tag}` }]);
  });

  it('refuses a missing value instead of binding nothing', async () => {
    expect(() => sourceByName(requestDb(), { driver: 'prep' } as unknown as { driver: string; username: string })).toThrow(/username/);
  });
});
