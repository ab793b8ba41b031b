/**
 * Storage round trips as a counted figure (issue 17): with `COUNT_ROUND_TRIPS = "true"` every
 * request's D1 binding and Durable Object namespaces are wrapped so each call is timed against
 * the others, and the answer carries `X-Storage-Round-Trips: <n>` (plus `Server-Timing`).
 *
 *   base.use('*', countRoundTrips);      // early, so auth middleware is counted too
 *   curl -si /charts/top10?org_id=1 | grep -i x-storage-round-trips   →  X-Storage-Round-Trips: 1
 *
 * What counts is the number of SEQUENTIAL trips on the request's critical path: calls that overlap
 * in time (a `Promise.all`, a `d.batch([...])`) are one trip, because in production D1 and a
 * Durable Object live elsewhere and each trip the request waits on is a network round trip. A new
 * trip starts when a call begins while none is in flight. A Durable Object's own D1 calls happen
 * inside its call and are not seen here. Off (the default) the middleware only calls `next()`.
 *
 * The counted env is built once per env object (the isolate's), not per request: its wrappers find
 * the request's counter through an AsyncLocalStorage, so concurrent requests in one isolate each
 * count their own calls (rebuilding it per request was 4-16 % of the bench's floor in profiles).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';

/** What the wrappers report each call to. */
interface Tracker {
  track<T>(call: () => T): T;
}

/** Counts sequential trips: overlapping calls share one. */
export class RoundTripCounter implements Tracker {
  trips = 0;
  private inFlight = 0;
  private started = 0;
  /** Wall time (ms) during which at least one call was in flight. */
  waitedMs = 0;

  track<T>(call: () => T): T {
    if (this.inFlight === 0) {
      this.trips++;
      this.started = Date.now();
    }
    this.inFlight++;
    const settle = () => {
      this.inFlight--;
      if (this.inFlight === 0) this.waitedMs += Date.now() - this.started;
    };
    let result: T;
    try {
      result = call();
    } catch (e) {
      settle();
      throw e;
    }
    if (result && typeof (result as { then?: unknown }).then === 'function') {
      // A settled copy is returned so the caller awaits the same outcome; RPC pipelining is not
      // used by this code base, so handing back a plain promise changes nothing it relies on.
      return Promise.resolve(result).finally(settle) as T;
    }
    settle();
    return result;
  }
}

const RAW = Symbol('round-trips.raw');
type Wrapped = { [RAW]?: unknown };
const unwrap = <T>(v: T): T => ((v as Wrapped | null)?.[RAW] as T | undefined) ?? v;

function wrapStatement(s: D1PreparedStatement, n: Tracker): D1PreparedStatement {
  const w = {
    [RAW]: s,
    bind: (...values: unknown[]) => wrapStatement(s.bind(...values), n),
    first: (col?: string) => n.track(() => (col === undefined ? s.first() : s.first(col))),
    all: () => n.track(() => s.all()),
    run: () => n.track(() => s.run()),
    raw: (opts?: { columnNames?: boolean }) => n.track(() => s.raw(opts as { columnNames: true })),
  };
  return w as unknown as D1PreparedStatement;
}

/** The query surface D1Database and D1DatabaseSession share. */
function wrapQueries<T extends Pick<D1Database, 'prepare' | 'batch'>>(d: T, n: Tracker) {
  return {
    [RAW]: d,
    prepare: (query: string) => wrapStatement(d.prepare(query), n),
    batch: <R>(statements: D1PreparedStatement[]) => n.track(() => d.batch<R>(statements.map(unwrap))),
  };
}

export function countedD1(d: D1Database, n: Tracker): D1Database {
  const w = {
    ...wrapQueries(d, n),
    exec: (query: string) => n.track(() => d.exec(query)),
    dump: () => n.track(() => d.dump()),
    withSession: (constraint?: string) => {
      const session = d.withSession(constraint);
      return { ...wrapQueries(session, n), getBookmark: () => session.getBookmark() };
    },
  };
  return w as unknown as D1Database;
}

/** A stub whose every method call (RPC or `fetch`) is one tracked call. */
function countedStub<S extends object>(stub: S, n: Tracker): S {
  return new Proxy(stub, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      // `then` must stay what it is, or awaiting the stub itself would call into the object.
      if (typeof prop !== 'string' || prop === 'then' || typeof v !== 'function') return v;
      // Reflect.apply: on an RPC method stub, `.apply` would itself be sent as a remote call.
      return (...args: unknown[]) => n.track(() => Reflect.apply(v as (...a: unknown[]) => unknown, target, args));
    },
  });
}

export function countedNamespace<N extends DurableObjectNamespace>(ns: N, n: Tracker): N {
  return new Proxy(ns, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (...args: unknown[]) => Reflect.apply(v as (...a: unknown[]) => unknown, target, args);
      // `get` and `getByName` hand out stubs (no I/O yet); ids and jurisdictions pass through.
      if (prop === 'get' || prop === 'getByName') return (...args: unknown[]) => countedStub(fn(...args) as object, n);
      return fn;
    },
  });
}

function isNamespace(v: unknown): v is DurableObjectNamespace {
  return typeof v === 'object' && v !== null && typeof (v as DurableObjectNamespace).idFromName === 'function' && typeof (v as DurableObjectNamespace).get === 'function';
}

/** The env with its storage bindings counted by `n`; every other binding is the same object. */
export function countedEnv(env: Env, n: Tracker): Env {
  const out: Record<string, unknown> = { ...env };
  for (const [k, v] of Object.entries(env)) {
    if (k === 'DB') out[k] = countedD1(v as D1Database, n);
    else if (isNamespace(v)) out[k] = countedNamespace(v, n);
  }
  return out as unknown as Env;
}

/** The counter of the request whose code is running. */
const requestCounter = new AsyncLocalStorage<RoundTripCounter>();

/** Reports to the running request's counter (a call outside any counted request is not counted). */
const toRunningRequest: Tracker = {
  track<T>(call: () => T): T {
    const n = requestCounter.getStore();
    return n ? n.track(call) : call();
  },
};

const countedEnvs = new WeakMap<Env, Env>();

export const countRoundTrips: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.env?.COUNT_ROUND_TRIPS !== 'true') return next();
  const n = new RoundTripCounter();
  let counted = countedEnvs.get(c.env);
  if (!counted) {
    counted = countedEnv(c.env, toRunningRequest);
    countedEnvs.set(c.env, counted);
  }
  c.env = counted;
  await requestCounter.run(n, next);
  const headers = { 'X-Storage-Round-Trips': String(n.trips), 'Server-Timing': `storage;desc="${n.trips} round trips";dur=${n.waitedMs}` };
  try {
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
  } catch {
    // Immutable headers (a response passed through from another fetch): copy it once.
    c.res = new Response(c.res.body, c.res);
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
  }
};
