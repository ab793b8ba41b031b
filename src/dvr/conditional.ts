/**
 * Cheap polls (issue 17 targets 1 and 3): a list route's strong `ETag` is built from the change
 * counters of the scopes the list depends on (queries.ts `scopes`), and an `If-None-Match` that
 * is still current answers 304 without reading or building the list — in ONE storage round trip
 * with the caller's check:
 *
 *   one `d.batch([...])` = [ the caller's D1 check (auth `callerCheck`),
 *                            the view's counter rows,
 *                            the list, guarded by NOT stillCurrent(If-None-Match, view) ]
 *
 * The guard is row-independent SQL ("every scope the client's tag names is still at the version
 * the tag names"), which SQLite tests once before reading any row: a current tag makes the list
 * statement read nothing, any other poll gets the list in the same trip. A batch is one
 * transaction, so the counters, the guard and the list see the same state (no race between the tag
 * and the body). The header is read by `src/http/etag.ts` (weak comparison, `*`); the guard built
 * from its tags is the DVR's own. The answer is decided after the caller's check and the route's
 * own authorization (a refused caller gets the same 401/403 as before, never a 304), and the tag
 * names the view (`subs-u7`, `subs-all`…), so one user's tag never matches another's list.
 *
 *   return conditionalList(c, d, { view: { key: 'users', scopes: [scopes.users] }, authorize: adminOnly,
 *     rows: (unlessCurrent) => listUserRows(d, unlessCurrent), present: (rows) => … });
 */
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import { and, or, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { AppEnv, AuthUser } from '../env';
import { callerCheck } from '../auth/middleware';
import type { Db } from '../db/client';
import { ifNoneMatchTags, matchesEtag } from '../http/etag';
import { Forbidden } from '../http/errors';
import { builtList, gzipOf, keepBuiltList, MIN_GZIP_BYTES, prefersGzip, sameVersions, type BuiltList } from './list-cache';
import { counterVersionsQuery, isAdminUser, mayReadSource, scopes, sourceIdByName, tagCurrent, unlessTagCurrent, versionsIn, type TagClaim } from './queries';

/** The request header, validated (a list of tags or `*`; more than this is not a dashboard's). */
export const IfNoneMatchHeaders = z.object({ 'if-none-match': z.string().max(1024).optional() });

/** The 304 answer every conditional list declares. */
export const notModified = { 304: { description: 'Not modified: the If-None-Match tag is still current (no body)' } } as const;

/** A list as the client sees it: the tag's key and the scopes whose counters version it. */
export interface ListView {
  key: string;
  scopes: readonly string[];
}

/** A version as the tag spells it (no sign, no leading zero): the string and the number agree. */
const VERSION = /^(?:0|[1-9][0-9]{0,15})$/;
/** Tags looked at per header (a dashboard sends one): each claimed tag adds a term to the SQL guard. */
const MAX_TAGS = 8;

/**
 * What `If-None-Match` claims about `view`: `any` for `*`, else the version lists of the tags
 * that carry the view's key (malformed and foreign tags ignored).
 */
export function claimedVersions(header: string | undefined, view: ListView): 'any' | number[][] {
  const tags = ifNoneMatchTags(header, MAX_TAGS);
  if (tags === 'any') return 'any';
  const out: number[][] = [];
  for (const tag of tags) {
    if (!tag.startsWith(`${view.key}-`)) continue;
    const parts = tag.slice(view.key.length + 1).split('.');
    if (parts.length !== view.scopes.length || !parts.every((p) => VERSION.test(p))) continue;
    out.push(parts.map(Number));
  }
  return out;
}

/**
 * The header's claim about `view` as the values queries.ts `tagCurrent` binds. `kept` adds the
 * version of the body this isolate holds for the view (list-cache.ts): the list is then read only
 * when neither the client's tag nor the kept body is current, so a poll this isolate can answer
 * from memory reads only the counters, and any other still gets the list in the same trip.
 */
export function tagClaim(header: string | undefined, view: ListView, kept?: BuiltList): TagClaim {
  const claimed = claimedVersions(header, view);
  const versions: Array<readonly number[]> = claimed === 'any' ? [] : claimed;
  // A dashboard polling with the tag of the body this isolate keeps (the usual case) claims it once.
  if (kept && claimed !== 'any' && !claimed.some((v) => sameVersions(v, kept.versions))) versions.push(kept.versions);
  return { any: claimed === 'any' ? 1 : 0, scopes: JSON.stringify(view.scopes), claimed: JSON.stringify(versions) };
}

/** Row-independent SQL, true when a tag of the header is still current for `view`. */
export function stillCurrent(header: string | undefined, view: ListView): SQL {
  return tagCurrent(tagClaim(header, view));
}

/** Row-independent SQL, true when the list must be read: `when` holds and neither a claimed tag
 * nor the `kept` body is current. */
export function unlessCurrent(header: string | undefined, view: ListView, when?: SQL, kept?: BuiltList): SQL {
  return unlessTagCurrent(tagClaim(header, view, kept), when);
}

/** A source's events as a list view: the tag carries the source id, so a source re-created under
 * the same name starts a new tag. */
export const eventsView = (sourceId: number): ListView => ({ key: `events-${sourceId}`, scopes: [scopes.events(sourceId)] });

/**
 * Row-independent: a tag of the header (or the `kept` body's) is the current one of this source's
 * events. The route knows the source only by name, so each id a tag names must still be this name's id.
 */
function eventsTagCurrent(header: string | undefined, driver: string, username: string, kept?: BuiltList): SQL {
  const tags = ifNoneMatchTags(header, MAX_TAGS);
  if (tags === 'any') return sql`1`;
  const keptId = kept ? Number(/^"events-([1-9][0-9]{0,15})-/.exec(kept.etag)?.[1]) : NaN;
  const ids = new Set(tags.flatMap((t) => /^events-([1-9][0-9]{0,15})-/.exec(t)?.[1] ?? []).map(Number));
  if (Number.isFinite(keptId)) ids.add(keptId);
  if (ids.size === 0) return sql`0`;
  return or(
    ...[...ids].map((id) => and(sql`${sourceIdByName(driver, username)} = ${id}`, tagCurrent(tagClaim(header, eventsView(id), id === keptId ? kept : undefined)))),
  )!;
}

/** The events read's guard: the caller may read the source and neither a claimed tag nor the
 * `kept` body (list-cache.ts, under `eventsCacheKey`) is current. */
export function unlessEventsCurrent(header: string | undefined, driver: string, username: string, userId: number, kept?: BuiltList): SQL {
  return sql`${mayReadSource(driver, username, userId)} AND NOT (${eventsTagCurrent(header, driver, username, kept)})`;
}

/** Where a source's events body is kept: by name, the only thing the route knows before its batch
 * (the kept body's tag names the source id, which the guard and `answerList` check). */
export const eventsCacheKey = (driver: string, username: string) => `events:${driver}/${username}`;

export function etagOf(view: ListView, versions: readonly number[]): string {
  return `"${view.key}-${versions.join('.')}"`;
}

type CounterRows = ReadonlyArray<{ scope: string; version: number }>;

/**
 * The answer for `view` from the batch's counter rows: 304 with the tag when a claimed tag is
 * current (the same test as `stillCurrent`, so the guarded list read nothing), else 200 with the
 * tag and `present()`.
 *
 * With `cache` (the view's body this isolate held when the batch was built, whose version was in
 * the list's guard: `tagClaim`), a 200 at that same version is answered from the kept bytes — the
 * guarded list read nothing — and any other 200 keeps what `present()` built for the next poll.
 * The entry is the one captured before the batch, never looked up again: another request of the
 * isolate may replace it meanwhile, and only the captured one's version was in this batch's guard.
 */
export async function answerList<T>(
  c: Context<AppEnv>,
  view: ListView,
  counters: CounterRows,
  present: () => T | JsonText<T> | Promise<T | JsonText<T>>,
  cache?: { kept: BuiltList | undefined; key?: string },
) {
  const versions = versionsIn(counters, view.scopes);
  const etag = etagOf(view, versions);
  c.header('ETag', etag);
  const claimed = claimedVersions(c.req.header('If-None-Match'), view);
  if (claimed === 'any' || claimed.some((v) => sameVersions(v, versions))) return c.body(null, 304);
  if (cache) {
    // The tag names the view and its versions: the same tag is the same body.
    const built = cache.kept?.etag === etag ? cache.kept : keepBuiltList(cache.key ?? view.key, versions, etag, jsonText(await present()));
    // Typed as the c.json answer its bytes equal.
    return (await sendBuilt(c, built)) as unknown as ReturnType<typeof c.json<T, 200>>;
  }
  const body = await present();
  if (body instanceof JsonText) {
    // Already JSON (c.json would encode the string again); typed as the c.json answer it equals.
    return c.body(body.text, 200, { 'Content-Type': 'application/json' }) as unknown as ReturnType<typeof c.json<T, 200>>;
  }
  return c.json(body, 200);
}

const jsonText = <T>(body: T | JsonText<T>): string => (body instanceof JsonText ? body.text : JSON.stringify(body));

/**
 * A kept body as the 200. A client whose preferred compression is gzip (every browser lists it
 * first) gets the kept gzip bytes as they are (`encodeBody: 'manual'`: the runtime does not encode
 * them again); any other client gets the plain bytes, which the edge compresses as before.
 */
async function sendBuilt(c: Context<AppEnv>, built: BuiltList): Promise<Response> {
  const accepted = (c.req.raw.cf as { clientAcceptEncoding?: string } | undefined)?.clientAcceptEncoding || c.req.header('Accept-Encoding');
  if (built.bytes.byteLength >= MIN_GZIP_BYTES && prefersGzip(accepted)) {
    const gzip = await gzipOf(built);
    const headers = new Headers({ 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding', ETag: built.etag });
    return new Response(gzip, { status: 200, headers, encodeBody: 'manual' });
  }
  return c.body(built.bytes, 200, { 'Content-Type': 'application/json', Vary: 'Accept-Encoding' });
}

/** A body SQLite already serialised as the `T` the route declares (queries.ts
 * `listStatusJsonQuery`): `answerList` sends it as is. */
export class JsonText<T> {
  declare readonly shape?: T;
  constructor(readonly text: string) {}
}

/** The DVR's admin-only refusal (as `requireAdmin` answers). */
export function adminOnly(user: AuthUser): void {
  if (user.role !== 'admin') throw new Forbidden('admin role required', 'admin_required');
}

/**
 * A conditional list in one round trip, for a route with `middleware: [requireCallerDeferred]`:
 * the caller's check, the view's counters and the guarded list in one batch. `authorize` runs
 * after the check (what a `requireAdmin` middleware did); with `adminList`, a non-admin's batch
 * reads no list row at all.
 */
export async function conditionalList<Row, T>(
  c: Context<AppEnv>,
  d: Db,
  opts: {
    view: ListView;
    rows: (guard: SQL) => BatchItem<'sqlite'>;
    present: (rows: Row[]) => T | JsonText<T> | Promise<T | JsonText<T>>;
    authorize?: (user: AuthUser) => void;
    adminList?: boolean;
  },
) {
  const caller = callerCheck(c, d);
  const header = c.req.header('If-None-Match');
  const when = opts.adminList ? isAdminUser(caller.userId) : undefined;
  const kept = builtList(opts.view.key);
  const statements: [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]] = [caller.query, counterVersionsQuery(d, opts.view.scopes), opts.rows(unlessCurrent(header, opts.view, when, kept))];
  const [callerRows, counters, rows] = (await d.batch(statements)) as [Array<{ id: number; role: AuthUser['role'] }>, CounterRows, Row[]];
  const user = caller.confirm(callerRows);
  opts.authorize?.(user);
  return answerList(c, opts.view, counters, () => opts.present(rows), { kept });
}

/**
 * For answers no D1 counter can version (a source's log tail lives in its SourceMonitor,
 * diagnostics and `/api/workers` are asked of the overseer on every call): a strong tag from the
 * body's SHA-256, and 304 without a body when it is the client's. This saves the transfer and the
 * page's re-render, NOT the read behind it (that needs a version kept by those objects).
 */
export async function answerByDigest<T>(c: Context<AppEnv>, key: string, body: T) {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const etag = `"${key}-${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')}"`;
  c.header('ETag', etag);
  if (matchesEtag(c.req.header('If-None-Match'), etag, MAX_TAGS)) return c.body(null, 304);
  return c.json(body, 200);
}
