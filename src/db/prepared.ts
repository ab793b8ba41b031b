/**
 * Statements whose SQL is built once per isolate (issue 17): drizzle's query building (the builder
 * objects, then `sqlToQuery` walking them into text) was the largest Worker-side cost of the hot
 * routes in the CPU profiles. A hot statement is written once with named placeholders; each request
 * binds its values to the cached text and gets an item that goes into `d.batch([...])` or is
 * awaited alone, with drizzle's own row mapping.
 *
 *   const callerShape = prepared((d, $: Slots<{ id: string; userId: number }>) =>
 *     d.select({ id: users.id }).from(refreshSessions).where(and(eq(refreshSessions.id, $.id), …)));
 *   const [rows, other] = await d.batch([callerShape(d, { id, userId }), otherQuery(d)]);
 *   const rows2 = await callerShape(d, { id, userId });
 *
 * Why not drizzle's own `.prepare()`: a prepared query is tied to the client it was prepared on (a
 * request's D1 session here, a new one per request), and drizzle 0.45's D1 `batch` takes query
 * builders only — it calls `_prepare()` on each item and binds `getQuery().params` without filling
 * placeholders. So the shape keeps drizzle's prepared query from a client that never runs anything,
 * and each request gets a copy of it with the request's D1 statement and the filled values: drizzle's
 * `batch`, `all` and result mapping then run unchanged. This leans on drizzle internals
 * (`_prepare`, the prepared query's `stmt`/`query`), pinned by test/db/prepared.test.ts.
 *
 * The shape must not depend on the values (no `undefined`-dropping conditions, no lists of varying
 * length): anything that changes the SQL text is a different shape (see `preparedByShape`).
 */
import { is, Param, Placeholder, sql } from 'drizzle-orm';
import type { RunnableQuery } from 'drizzle-orm/runnable-query';
import { drizzle } from 'drizzle-orm/d1';
import type { Db } from './client';

/** Typed placeholders: `$.userId` stands for the value bound as `userId`. */
export type Slots<V> = { readonly [K in keyof V & string]: Placeholder<K, V[K]> };

/** What `prepared` accepts: a drizzle query builder (select, insert, update, delete). */
interface Preparable {
  readonly _: { readonly result: unknown };
  prepare(): unknown;
}

/** A statement bound to one request's values: a batch item, or awaited alone. */
export type Bound<Q extends Preparable> = RunnableQuery<Q['_']['result'], 'sqlite'> & PromiseLike<Q['_']['result']>;

/** drizzle's prepared query, as far as this module uses it. */
interface DrizzlePrepared {
  query: { sql: string; params: unknown[] };
  stmt: D1PreparedStatement;
  execute(): Promise<unknown>;
}

// The client shapes are built with: statements are prepared on it but never run.
const neverRun = { prepare: () => null } as unknown as D1Database;
let builder: Db | undefined;

const slots = new Proxy({}, { get: (_, name) => sql.placeholder(String(name)) });

/** A param of the built query: a constant, a placeholder's name, or a placeholder with its column's encoder. */
type Fill = { value: unknown } | { name: string; encode?: (v: unknown) => unknown };

function fillers(params: unknown[]): Fill[] {
  return params.map((p) => {
    if (is(p, Placeholder)) return { name: p.name };
    if (is(p, Param) && is(p.value, Placeholder)) {
      const encoder = p.encoder;
      return { name: p.value.name, encode: (v: unknown) => encoder.mapToDriverValue(v) };
    }
    return { value: p };
  });
}

function shapeOf<V, Q extends Preparable>(build: (d: Db, $: Slots<V>) => Q) {
  builder ??= drizzle(neverRun) as Db;
  const template = build(builder, slots as Slots<V>).prepare() as DrizzlePrepared;
  template.stmt = undefined as unknown as D1PreparedStatement;
  return { template, text: template.query.sql, fill: fillers(template.query.params) };
}

function bind<V extends object, Q extends Preparable>(shape: ReturnType<typeof shapeOf<V, Q>>, d: Db, values: V): Bound<Q> {
  const named = values as Record<string, unknown>;
  const params = shape.fill.map((f) => {
    if ('value' in f) return f.value;
    if (!(f.name in named)) throw new Error(`no value for placeholder ${f.name}`);
    const v = named[f.name];
    return f.encode ? f.encode(v) : v;
  });
  // drizzle's prepared query with this request's statement and values: its `all`/`execute`
  // fill nothing more (the params hold no placeholders), and its result mapping is the template's.
  const q = Object.create(shape.template) as DrizzlePrepared;
  q.query = { sql: shape.text, params };
  q.stmt = d.$client.prepare(shape.text);
  return {
    _prepare: () => q,
    then: (ok: (v: unknown) => unknown, fail: (e: unknown) => unknown) => q.execute().then(ok, fail),
  } as unknown as Bound<Q>;
}

/**
 * A statement shape built on first use and kept for the isolate: returns `(d, values) => item`.
 * `$` names the placeholders; annotate it (`$: Slots<{…}>`) to type the values.
 */
export function prepared<V extends object, Q extends Preparable>(build: (d: Db, $: Slots<V>) => Q): (d: Db, values: V) => Bound<Q> {
  let shape: ReturnType<typeof shapeOf<V, Q>> | undefined;
  return (d, values) => bind((shape ??= shapeOf(build)), d, values);
}

/**
 * Shapes that vary with a small key (e.g. how many tags an If-None-Match names): one cached shape
 * per key. `build` must give the same SQL for the same key.
 */
export function preparedByShape<K extends string | number, V extends object, Q extends Preparable>(
  build: (key: K, d: Db, $: Slots<V>) => Q,
): (key: K, d: Db, values: V) => Bound<Q> {
  const shapes = new Map<K, ReturnType<typeof shapeOf<V, Q>>>();
  return (key, d, values) => {
    let shape = shapes.get(key);
    if (!shape) {
      shape = shapeOf((b: Db, $: Slots<V>) => build(key, b, $));
      shapes.set(key, shape);
    }
    return bind(shape, d, values);
  };
}
