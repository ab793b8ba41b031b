/**
 * Every D1 statement of the DVR control plane (the recordings catalog keeps its own in
 * recordings/), written with drizzle column references and returning camelCase rows. Routers and
 * the DVR Durable Objects (SourceMonitor, OverseerLink) call these; nothing else in the DVR touches
 * `env.DB`. The rules that must agree everywhere are defined once here: what an active subscriber
 * is (`isActiveSubscription`, `activeCount`) and which sources are live (`liveSources`).
 *
 * Functions take the drizzle client first, `const d = db(c.env)` made once per request or DO call;
 * the ones named `…Statement` return an unexecuted statement for the caller's `d.batch([...])`.
 * Posture writes read the active count in the same atomic batch, so two resumes at the same
 * moment cannot both see "2 active" (issue 11 item 13); the audit row rides in that batch.
 *
 *   const d = db(c.env);
 *   const { changed, active } = await writePosture(d, { subId: 12, sourceId: 7, posture: 'active' }, auditStatement(c, …));
 */
import { and, count, desc, eq, gt, isNotNull, ne, notExists, or, sql, type Placeholder, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/client';
import { outer } from '../db/helpers';
import { prepared, type Slots } from '../db/prepared';
import { changeCounters, config, sources, subscriptions, users, workerEvents } from '../db/schema';
import { nowIso } from '../world';
import type { RuntimeState } from './runtime';

export type Posture = 'active' | 'paused' | 'archived';

/** An extra statement that rides in a query's batch (the audit row). */
export type Companion = BatchItem<'sqlite'>;

/** A value, or the placeholder of a statement built once per isolate (src/db/prepared.ts). */
type Bindable<T> = T | Placeholder<string, T>;

// ───────────── the active-subscriber rule ─────────────

/** A source records while it has ≥ 1 subscription in this posture (contract §7). */
export const isActiveSubscription: SQL = eq(subscriptions.posture, 'active');

/** The active subscriptions of the source whose id is `sourceId` (a column of the outer query). */
export function activeCount(sourceId: SQLiteColumn) {
  return sql<number>`(SELECT count(*) FROM ${subscriptions} WHERE ${subscriptions.sourceId} = ${outer(sourceId)} AND ${isActiveSubscription})`.mapWith(Number);
}

function activeOf(d: Db, sourceId: number) {
  return d
    .select({ n: count() })
    .from(subscriptions)
    .where(and(eq(subscriptions.sourceId, sourceId), isActiveSubscription));
}

export async function activeSubscriptions(d: Db, sourceId: number): Promise<number> {
  const [row] = await activeOf(d, sourceId);
  return row?.n ?? 0;
}

// ───────────── subscription status rows ─────────────

/** The runtime columns of `sources` as D1 holds them (states as plain strings: a row written by an
 * older version may hold a value this one no longer names; status.ts falls back). */
type RuntimeColumns = Omit<RuntimeState, 'taskId' | 'workerState' | 'recordingState'> & { workerState: string; recordingState: string | null };

/** One joined row: subscription + source + the source's runtime mirror (+ the config JSON). */
export type StatusRow = RuntimeColumns & {
  subId: number;
  userId: number;
  posture: Posture;
  createdAt: string;
  updatedAt: string;
  sourceId: number;
  driver: string;
  username: string;
  configData: string | null;
};

const sourceColumns = {
  // Aliased: `subscriptions.id` is also selected, and drizzle maps a D1 batch's rows by column
  // name, so two columns named `id` would shift every field after them.
  sourceId: sql<number>`${sources.id}`.mapWith(Number).as('source_id'),
  driver: sources.driver,
  username: sources.username,
  workerState: sources.workerState,
  pid: sources.pid,
  recordingState: sources.recordingState,
  recordingSessionActive: sources.sessionActive,
  recordingSessionStartedAt: sources.sessionStartedAt,
  recordingSessionDuration: sources.sessionDuration,
  lastHeartbeat: sources.lastHeartbeat,
  lastRecordingAt: sources.lastRecordingAt,
  errorMessage: sources.errorMessage,
};

const statusColumns = {
  subId: subscriptions.id,
  userId: subscriptions.userId,
  posture: subscriptions.posture,
  createdAt: subscriptions.createdAt,
  updatedAt: subscriptions.updatedAt,
  ...sourceColumns,
};

const storedConfig = sql<string | null>`(SELECT ${config.data} FROM ${config} WHERE ${config.id} = 1)`;

/** A list's row: a status row without the config (a list statement reads it once per part, `listStatusJsonQuery`). */
export type ListRow = Omit<StatusRow, 'configData'>;

// ───────────── a list's JSON, built by SQLite (issue 17 target 3) ─────────────

/** `last_heartbeat` of a source that never sent one (contract §3.2). */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Subscriptions per part of a list's JSON: D1 refuses a value over 2 MB, and a part holds at most
 * this many rows (of a few hundred bytes each: a 1,000-row list is a handful of parts). */
const IDS_PER_PART = 256;

/**
 * One SubscriptionStatus as JSON text, field for field what status.ts `present` makes of the same
 * row with `logs: []` (the same order; optional fields left out when empty, via `json_patch`,
 * which drops null members). Only the lists use it: SQLite builds them, so a changed 1,000-row
 * list costs the Worker a few strings instead of 1,000 mapped and serialised objects.
 * `templates` is the JSON object `{driver: URL template}` of the config (status.ts
 * `canonicalTemplates`). test/dvr/list-json.test.ts holds the two to the same bytes.
 */
function statusJson(templates: Bindable<string>): SQL<string> {
  const sessionActive = sql`${sources.sessionActive} = 1`;
  const status = sql`CASE WHEN ${subscriptions.posture} <> 'active' THEN 'inactive' WHEN ${sources.workerState} = 'errored' THEN 'error' WHEN ${sources.workerState} = 'running' THEN (CASE WHEN ${sources.recordingState} = 'recording' OR ${sessionActive} THEN 'recording' ELSE 'waiting' END) ELSE 'starting' END`;
  const workerState = sql`CASE WHEN ${sources.workerState} IN ('idle', 'starting', 'running', 'errored') THEN ${sources.workerState} ELSE 'idle' END`;
  const recordingState = sql`CASE WHEN ${sources.recordingState} IN ('recording', 'sleeping', 'idle') THEN ${sources.recordingState} END`;
  const canonicalUrl = sql`(SELECT replace(value, '{{.Username}}', ${sources.username}) FROM json_each(${templates}) WHERE key = ${sources.driver})`;
  return sql<string>`json_patch(json_object('driver', ${sources.driver}, 'username', ${sources.username}, 'source_id', ${sources.id}, 'sub_id', ${subscriptions.id}, 'user_id', ${subscriptions.userId}, 'posture', ${subscriptions.posture}, 'created_at', ${subscriptions.createdAt}, 'updated_at', ${subscriptions.updatedAt}, 'status', ${status}, 'worker_state', ${workerState}, 'logs', json_array(), 'last_heartbeat', coalesce(${sources.lastHeartbeat}, ${ZERO_TIME}), 'session_active', json(CASE WHEN ${sessionActive} THEN 'true' ELSE 'false' END)), json_object('pid', nullif(${sources.pid}, 0), 'error_message', nullif(${sources.errorMessage}, ''), 'recording_state', ${recordingState}, 'session_duration', nullif(${sources.sessionDuration}, ''), 'last_recording_at', nullif(${sources.lastRecordingAt}, ''), 'session_started_at', nullif(${sources.sessionStartedAt}, ''), 'canonical_url', ${canonicalUrl}))`;
}

/**
 * One statement: every subscription (optionally of one user) as JSON, so a list costs one
 * statement at any length, config included: rows of `part`, each the comma-joined
 * SubscriptionStatus objects of up to IDS_PER_PART consecutive sub_ids, in sub_id order
 * (`'[' + parts.join(',') + ']'` is the list; no row for an empty list), each carrying the stored
 * config (`config`, null before the first `PUT /api/config`) the canonical URLs must follow — read
 * in the list's own statement rather than beside it, so a poll's batch has one statement fewer and
 * a 304 (no part) reads no config at all. No window function: it made SQLite materialise every row
 * in a co-routine before the scan (~3× the work per row). `when` is a row-independent condition
 * (SQLite tests it once, before reading any row): a conditional poll whose tag is still current
 * passes `false` in effect and reads nothing.
 */
export function listStatusJsonQuery(d: Db, filter: { userId?: Bindable<number> }, templates: Bindable<string>, when?: SQL) {
  return listPartsOf(d, filter, templates, when).orderBy(sql`chunk`);
}

/** `listStatusJsonQuery` before its ORDER BY (a compound orders once, after its last arm). */
function listPartsOf(d: Db, filter: { userId?: Bindable<number> }, templates: Bindable<string>, when?: SQL) {
  const listed = d
    .select({ subId: sql<number>`${subscriptions.id}`.as('sub_id'), chunk: sql<number>`${subscriptions.id} / ${sql.raw(String(IDS_PER_PART))}`.as('chunk'), item: statusJson(templates).as('item') })
    .from(subscriptions)
    .innerJoin(sources, eq(sources.id, subscriptions.sourceId))
    .where(and(filter.userId === undefined ? undefined : eq(subscriptions.userId, filter.userId), when))
    .as('listed');
  // The aggregate's own ORDER BY (SQLite 3.44+) fixes the order inside a part.
  return d
    .select({
      part: sql<string>`group_concat(${listed.item}, ',' ORDER BY ${listed.subId})`.as('part'),
      chunk: sql<number>`${listed.chunk}`.as('chunk'),
      config: sql<string | null>`${storedConfig}`.as('config'),
    })
    .from(listed)
    .groupBy(sql`${listed.chunk}`);
}

/** A list statement's rows (`listStatusJsonQuery`): the parts, each with the stored config. */
export type ListParts = ReadonlyArray<{ part: string; config: string | null }>;

/** What `GET /api/subscriptions` binds to its guarded list: the caller, the templates, and the
 * client's tag (plus any kept body's version) for each of the two views (`TagClaim`). */
type ListValues = { userId: number; templates: string; allAny: 0 | 1; allScopes: string; allClaimed: string; ownAny: 0 | 1; ownScopes: string; ownClaimed: string };

// `GET /api/subscriptions`'s two views in ONE statement, built once per isolate: everyone's list
// reads rows only for an admin caller, the caller's own only for anyone else, and neither when the
// client's tag (or the kept body) for it is current (`unlessTagCurrent`): at most one arm yields
// parts. The role test reads the users row the caller check reads. Two arms of a UNION ALL rather
// than one OR'ed WHERE, so each keeps its own plan (the own list by user_id).
const eitherList = prepared((d, $: Slots<ListValues>) =>
  listPartsOf(d, {}, $.templates, unlessTagCurrent({ any: $.allAny, scopes: $.allScopes, claimed: $.allClaimed }, isAdminUser($.userId)))
    .unionAll(listPartsOf(d, { userId: $.userId }, $.templates, unlessTagCurrent({ any: $.ownAny, scopes: $.ownScopes, claimed: $.ownClaimed }, isNotAdminUser($.userId))))
    .orderBy(sql`chunk`),
);

/**
 * The list `userId` may see as parts (`listStatusJsonQuery`): every subscription's when `userId` is
 * an admin and `all` is not current, `userId`'s own when not an admin and `own` is not current;
 * else no row.
 */
export function subscriptionListJsonQuery(d: Db, userId: number, templates: string, claims: { all: TagClaim; own: TagClaim }) {
  const { all, own } = claims;
  return eitherList(d, { userId, templates, allAny: all.any, allScopes: all.scopes, allClaimed: all.claimed, ownAny: own.any, ownScopes: own.scopes, ownClaimed: own.claimed });
}

/** The caller's own subscription to `(driver, username)`: no row for an unknown source, a row
 * with `subId: null` for a known source the caller does not subscribe to. Unexecuted (at most one
 * row), for a handler's batch. */
export function ownStatusRowQuery(d: Db, userId: number, driver: string, username: string) {
  return d
    .select({ ...statusColumns, configData: storedConfig })
    .from(sources)
    .leftJoin(subscriptions, and(eq(subscriptions.sourceId, sources.id), eq(subscriptions.userId, userId)))
    .where(and(eq(sources.driver, driver), eq(sources.username, username)))
    .limit(1);
}

export async function findOwnStatusRow(d: Db, userId: number, driver: string, username: string) {
  return (await ownStatusRowQuery(d, userId, driver, username))[0];
}

/** True when `userId` holds the platform admin role: the same column the caller check reads, so in
 * one batch both agree. Row-independent (tested once per statement). */
export function isAdminUser(userId: Bindable<number>): SQL {
  return sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.role} = 'admin')`;
}

/** `isAdminUser`'s negation, for the other view's guard in the same batch. */
export function isNotAdminUser(userId: Bindable<number>): SQL {
  return sql`NOT ${isAdminUser(userId)}`;
}

export async function findStatusRowBySubId(d: Db, subId: number): Promise<StatusRow | undefined> {
  return d
    .select({ ...statusColumns, configData: storedConfig })
    .from(subscriptions)
    .innerJoin(sources, eq(sources.id, subscriptions.sourceId))
    .where(eq(subscriptions.id, subId))
    .get();
}

// ───────────── posture writes ─────────────

/** Subscribe (§3.4): get-or-create the source, insert or reactivate the caller's subscription, read
 * the active count — one atomic batch with `audit`. */
export async function subscribe(d: Db, target: { userId: number; driver: string; username: string }, audit: Companion): Promise<{ sourceId: number; active: number }> {
  const { userId, driver, username } = target;
  const now = nowIso();
  const thisSource = and(eq(sources.driver, driver), eq(sources.username, username));
  const [, , rows] = await d.batch([
    d.insert(sources).values({ driver, username, createdAt: now }).onConflictDoNothing({ target: [sources.driver, sources.username] }),
    d
      .insert(subscriptions)
      .values({ userId, sourceId: sql`(SELECT ${sources.id} FROM ${sources} WHERE ${thisSource})`, posture: 'active', createdAt: now, updatedAt: now })
      .onConflictDoUpdate({ target: [subscriptions.userId, subscriptions.sourceId], set: { posture: 'active', updatedAt: now } }),
    d.select({ sourceId: sources.id, active: activeCount(sources.id) }).from(sources).where(thisSource),
    audit,
  ]);
  return rows[0]!;
}

/**
 * Writes a posture and reads the source's active count in one atomic batch: the count is the one
 * this write produced, whatever other requests do at the same moment. `pause`/`resume` write only
 * when the posture differs (`updated_at` kept otherwise); `archive` always writes.
 */
export async function writePosture(d: Db, target: { subId: number; sourceId: number; posture: Posture }, audit: Companion): Promise<{ changed: boolean; active: number }> {
  const { subId, sourceId, posture } = target;
  const where = posture === 'archived' ? eq(subscriptions.id, subId) : and(eq(subscriptions.id, subId), ne(subscriptions.posture, posture));
  const [updated, active] = await d.batch([
    d.update(subscriptions).set({ posture, updatedAt: nowIso() }).where(where).returning({ id: subscriptions.id }),
    activeOf(d, sourceId),
    audit,
  ]);
  return { changed: updated.length > 0, active: active[0]?.n ?? 0 };
}

// ───────────── sources ─────────────

export interface LiveSource {
  sourceId: number;
  driver: string;
  username: string;
  workerState: string;
  overseerTaskId: string | null;
  active: number;
}

/**
 * The sources something may have to happen to: running (or not idle), wanted (an active
 * subscriber) or, with `withTaskHolders`, still holding an overseer task id (the reconciler).
 */
export function liveSources(d: Db, opts: { withTaskHolders: boolean }): Promise<LiveSource[]> {
  const active = activeCount(sources.id);
  const live = [ne(sources.workerState, 'idle'), gt(active, 0)];
  if (opts.withTaskHolders) live.push(isNotNull(sources.overseerTaskId));
  return d
    .select({ sourceId: sources.id, driver: sources.driver, username: sources.username, workerState: sources.workerState, overseerTaskId: sources.overseerTaskId, active })
    .from(sources)
    .where(or(...live));
}

export async function sourceIdOf(d: Db, driver: string, username: string): Promise<number | undefined> {
  const row = await d
    .select({ id: sources.id })
    .from(sources)
    .where(and(eq(sources.driver, driver), eq(sources.username, username)))
    .get();
  return row?.id;
}

/** A source's id and whether `userId` has a subscription of any posture to it (access.ts). */
export function sourceVisibility(d: Db, driver: string, username: string, userId: number) {
  return sourceVisibilityQuery(d, driver, username, userId).get();
}

/** `sourceVisibility` unexecuted, for a handler's batch (at most one row). */
export function sourceVisibilityQuery(d: Db, driver: string, username: string, userId: number) {
  return d
    .select({
      id: sources.id,
      subscribed: sql<boolean>`EXISTS (SELECT 1 FROM ${subscriptions} WHERE ${subscriptions.sourceId} = ${outer(sources.id)} AND ${subscriptions.userId} = ${userId})`.mapWith(
        (v) => Number(v) === 1,
      ),
    })
    .from(sources)
    .where(and(eq(sources.driver, driver), eq(sources.username, username)))
    .limit(1);
}

/** Row-independent: `userId` may read the source `(driver, username)` (a subscription of any
 * posture, or the admin role) — access.ts's rule, for a guard inside a batch. */
export function mayReadSource(driver: string, username: string, userId: number): SQL {
  return sql`(EXISTS (SELECT 1 FROM ${subscriptions} WHERE ${subscriptions.sourceId} = ${sourceIdByName(driver, username)} AND ${subscriptions.userId} = ${userId}) OR ${isAdminUser(userId)})`;
}

/** A source's subscribers (all postures) with their stored username, by `sub_id`. */
export function subscribersOf(d: Db, sourceId: number) {
  return d
    .select({ subId: subscriptions.id, posture: subscriptions.posture, id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest })
    .from(subscriptions)
    .innerJoin(users, eq(users.id, subscriptions.userId))
    .where(eq(subscriptions.sourceId, sourceId))
    .orderBy(subscriptions.id);
}

/** Sources whose only active subscriber is `userId` (they stop when that user is deleted). */
export function soleSubscribedSources(d: Db, userId: number) {
  return d
    .select({ sourceId: sources.id, driver: sources.driver, username: sources.username })
    .from(sources)
    .innerJoin(subscriptions, and(eq(subscriptions.sourceId, sources.id), eq(subscriptions.userId, userId), isActiveSubscription))
    .where(eq(activeCount(sources.id), 1));
}

// ───────────── worker events and the runtime mirror (SourceMonitor) ─────────────

export type WorkerEventType = 'started' | 'exited' | 'errored' | 'stopped';

export type WorkerEventRow = { id: number; sourceId: number; pid: number; eventType: WorkerEventType; exitCode: number | null; ts: string };

/** The newest worker events of a source (an id, or the id found by `sourceIdByName`), newest
 * first (rows are `WorkerEventRow`s); `when` as in `listStatusJsonQuery`. */
export function workerEventsOf(d: Db, sourceId: number | SQL, limit: number, when?: SQL) {
  return d
    .select({ id: workerEvents.id, sourceId: workerEvents.sourceId, pid: workerEvents.pid, eventType: workerEvents.eventType, exitCode: workerEvents.exitCode, ts: workerEvents.ts })
    .from(workerEvents)
    .where(and(eq(workerEvents.sourceId, sourceId), when))
    .orderBy(desc(workerEvents.ts), desc(workerEvents.id))
    .limit(limit);
}

/** The id of the source `(driver, username)` as a scalar subquery (NULL when unknown). */
export function sourceIdByName(driver: string, username: string): SQL {
  return sql`(SELECT ${sources.id} FROM ${sources} WHERE ${sources.driver} = ${driver} AND ${sources.username} = ${username})`;
}

/** The counter row of the events scope of `(driver, username)`, unexecuted (none before the first event). */
export function eventCounterQuery(d: Db, driver: string, username: string) {
  return d
    .select({ scope: changeCounters.scope, version: changeCounters.version })
    .from(changeCounters)
    .where(eq(changeCounters.scope, sql`'events:' || ${sourceIdByName(driver, username)}`));
}

/** The runtime mirror a SourceMonitor keeps in `sources` so lists are one query. */
export type RuntimeMirror = Omit<RuntimeState, 'taskId'> & { overseerTaskId: string | null };

export function mirrorRuntimeStatement(d: Db, sourceId: number, mirror: RuntimeMirror) {
  return d
    .update(sources)
    .set({
      workerState: mirror.workerState,
      pid: mirror.pid,
      recordingState: mirror.recordingState,
      sessionActive: mirror.recordingSessionActive,
      sessionStartedAt: mirror.recordingSessionStartedAt,
      sessionDuration: mirror.recordingSessionDuration,
      lastHeartbeat: mirror.lastHeartbeat,
      lastRecordingAt: mirror.lastRecordingAt,
      errorMessage: mirror.errorMessage,
      overseerTaskId: mirror.overseerTaskId,
      runtimeUpdatedAt: nowIso(),
    })
    .where(eq(sources.id, sourceId));
}

/** A worker event from the monitor's outbox; a redelivery of the same event inserts nothing. */
export function recordWorkerEventStatement(d: Db, sourceId: number, e: { type: string; pid: number; exitCode: number | null; ts: string }) {
  const same = d
    .select({ one: sql`1` })
    .from(workerEvents)
    .where(and(eq(workerEvents.sourceId, sourceId), eq(workerEvents.ts, e.ts), eq(workerEvents.eventType, e.type), eq(workerEvents.pid, e.pid)));
  return d.insert(workerEvents).select(
    d
      // drizzle wants every column, in table order; a NULL id is SQLite's "next rowid".
      .select({
        id: sql<number>`NULL`.as('id'),
        sourceId: sources.id,
        pid: sql<number>`${e.pid}`.as('pid'),
        eventType: sql<string>`${e.type}`.as('event_type'),
        exitCode: sql<number | null>`${e.exitCode}`.as('exit_code'),
        ts: sql<string>`${e.ts}`.as('ts'),
      })
      .from(sources)
      .where(and(eq(sources.id, sourceId), notExists(same))),
  );
}

// ───────────── change counters (cheap polls) ─────────────

/** The scopes a list depends on (migration 0003's triggers bump them with every write). */
export const scopes = {
  subscriptions: 'subscriptions',
  sources: 'sources',
  config: 'config',
  users: 'users',
  user: (id: number) => `user:${id}`,
  events: (sourceId: number) => `events:${sourceId}`,
} as const;

// One SQL text for any number of scopes (a JSON array), so it is built once per isolate.
const counterVersions = prepared((d, $: Slots<{ scopes: string }>) =>
  d
    .select({ scope: changeCounters.scope, version: changeCounters.version })
    .from(changeCounters)
    .where(sql`${changeCounters.scope} IN (SELECT value FROM json_each(${$.scopes}))`),
);

/** The counter rows of `wanted` (unexecuted, for a handler's batch); read them with `versionsIn`. */
export function counterVersionsQuery(d: Db, wanted: readonly string[]) {
  return counterVersions(d, { scopes: JSON.stringify(wanted) });
}

/** The versions of `wanted`, in that order, from `counterVersionsQuery` rows; never bumped reads 0. */
export function versionsIn(rows: ReadonlyArray<{ scope: string; version: number }>, wanted: readonly string[]): number[] {
  const by = new Map(rows.map((r) => [r.scope, r.version]));
  return wanted.map((s) => by.get(s) ?? 0);
}


/**
 * What an If-None-Match claims of a list view, as bound values (conditional.ts `tagClaim`): `any`
 * 1 for `*`; else `claimed`, a JSON array of the tags' version lists, each in the order of
 * `scopes` (a JSON array of scope names).
 */
export interface TagClaim {
  any: 0 | 1;
  scopes: string;
  claimed: string;
}

/**
 * Row-independent: the claim is `*`, or some claimed tag still names every scope's current version
 * (a scope never bumped is at 0). A statement guarded by its negation reads no row for a poll whose
 * tag is current. One SQL text for any number of tags and scopes, so guarded statements can be
 * built once per isolate.
 */
export function tagCurrent(c: { [K in keyof TagClaim]: Bindable<TagClaim[K]> }): SQL {
  const version = sql`coalesce((SELECT ${changeCounters.version} FROM ${changeCounters} WHERE ${changeCounters.scope} = s.value), 0)`;
  return sql`(${c.any} = 1 OR EXISTS (SELECT 1 FROM json_each(${c.claimed}) AS t WHERE NOT EXISTS (SELECT 1 FROM json_each(${c.scopes}) AS s WHERE ${version} <> json_extract(${c.claimed}, '$[' || t.key || '][' || s.key || ']'))))`;
}

/** Row-independent: `when` holds and the claim is not current (a list's guard). */
export function unlessTagCurrent(c: { [K in keyof TagClaim]: Bindable<TagClaim[K]> }, when: SQL = sql`1`): SQL {
  return sql`(${when}) AND NOT ${tagCurrent(c)}`;
}

// ───────────── config and users ─────────────

export async function storedConfigData(d: Db): Promise<string | undefined> {
  const row = await d.select({ data: config.data }).from(config).where(eq(config.id, 1)).get();
  return row?.data;
}

export function putConfigStatement(d: Db, data: string) {
  const now = nowIso();
  return d.insert(config).values({ id: 1, data, updatedAt: now }).onConflictDoUpdate({ target: config.id, set: { data, updatedAt: now } });
}

/** Every account for `/api/users`, by id (usernames are decrypted by auth/accounts.ts); `when` as
 * in `listStatusJsonQuery`. */
export function listUserRows(d: Db, when?: SQL) {
  return d
    .select({ id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest, role: users.role, createdAt: users.createdAt, updatedAt: users.updatedAt })
    .from(users)
    .where(when)
    .orderBy(users.id);
}

// ───────────── the progress mirror, batched across sources (OverseerLink, issue 17 target 4) ─────────────

/** A source's progress fields only (what heartbeats move): a link writes many of these in one
 * batch, and never the state columns, which the source's monitor writes itself at once. */
export function mirrorProgressStatement(d: Db, sourceId: number, p: { lastHeartbeat: string | null; sessionDuration: string | null }) {
  return d.update(sources).set({ lastHeartbeat: p.lastHeartbeat, sessionDuration: p.sessionDuration, runtimeUpdatedAt: nowIso() }).where(eq(sources.id, sourceId));
}
