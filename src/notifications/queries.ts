/**
 * Every D1 statement of the notifications area (webhook endpoints and their delivery log), with
 * camelCase rows. Query functions take the drizzle client first so callers can batch them.
 *
 *   const d = db(env);
 *   const mine = await listManageableEndpoints(d, user);
 *   const targets = await matchingEndpoints(d, 'recording.stored', { source: { driver, username } });
 */
import { and, desc, eq, getTableColumns, gte, inArray, isNotNull, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { chunk, type Db } from '../db/client';
import { auditLog, memberships, sources, subscriptions, webhookDeliveries, webhookEndpoints } from '../db/schema';
import type { EventType, Format, Scope, SourceKey } from './events';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeliveryStatus = DeliveryRow['status'];

/** Endpoints one user may own at most (all scopes together). */
export const MAX_ENDPOINTS_PER_OWNER = 25;

export function eventsOf(row: Pick<EndpointRow, 'events'>): EventType[] {
  try {
    const v: unknown = JSON.parse(row.events);
    return Array.isArray(v) ? (v.filter((x) => typeof x === 'string') as EventType[]) : [];
  } catch {
    return [];
  }
}

export function insertEndpoint(
  d: Db,
  row: { id: string; ownerId: number; scope: Scope; orgId: number | null; url: string; description: string; format: Format; events: EventType[]; secretEnc: string },
) {
  return d.insert(webhookEndpoints).values({ ...row, events: JSON.stringify(row.events) });
}

export function countEndpointsOf(d: Db, ownerId: number) {
  return d.select({ n: sql<number>`count(*)` }).from(webhookEndpoints).where(eq(webhookEndpoints.ownerId, ownerId)).get();
}

export function getEndpoint(d: Db, id: string) {
  return d.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get();
}

/** Org ids where the user is an admin or owner (whose org endpoints they manage). */
function adminOrgIds(d: Db, userId: number) {
  return d
    .select({ id: memberships.orgId })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), inArray(memberships.role, ['admin', 'owner'])));
}

/** The endpoints a user manages: their own, their admin orgs' org endpoints; every one for a platform admin. */
export function listManageableEndpoints(d: Db, user: { id: number; role: 'admin' | 'user' }) {
  const q = d.select().from(webhookEndpoints);
  const scoped =
    user.role === 'admin'
      ? q
      : q.where(or(eq(webhookEndpoints.ownerId, user.id), and(eq(webhookEndpoints.scope, 'org'), inArray(webhookEndpoints.orgId, adminOrgIds(d, user.id)))));
  return scoped.orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id)).limit(200).all();
}

export function updateEndpoint(d: Db, id: string, patch: Partial<{ url: string; description: string; format: Format; events: EventType[]; enabled: boolean; secretEnc: string }>) {
  const { events, ...rest } = patch;
  return d
    .update(webhookEndpoints)
    .set({ ...rest, ...(events ? { events: JSON.stringify(events) } : {}), updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
    .where(eq(webhookEndpoints.id, id))
    .returning();
}

export function deleteEndpoint(d: Db, id: string) {
  return d.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
}

export type Audience = { source: SourceKey } | { orgId: number };

/**
 * The enabled endpoints an event reaches: platform endpoints always; for a source's event, the
 * `user` endpoints of its subscribers (any posture but archived); for an org's event, the org's
 * `org` endpoints. The event-type filter is applied by the caller on the (few) rows.
 */
export async function matchingEndpoints(d: Db, type: EventType, audience: Audience): Promise<Array<Pick<EndpointRow, 'id' | 'events'>>> {
  return (await audienceEndpoints(d, audience)).filter((r) => eventsOf(r).includes(type));
}

/** `matchingEndpoints` of every event type at once: one read for a whole batch of events. */
export function audienceEndpoints(d: Db, audience: Audience): Promise<Array<Pick<EndpointRow, 'id' | 'events'>>> {
  return audienceEndpointsQuery(d, audience).all();
}

/** `audienceEndpoints` unexecuted, for a caller's `d.batch([...])` (the play mirror write carries it). */
export function audienceEndpointsQuery(d: Db, audience: Audience) {
  const own =
    'source' in audience
      ? and(
          eq(webhookEndpoints.scope, 'user'),
          inArray(
            webhookEndpoints.ownerId,
            d
              .select({ id: subscriptions.userId })
              .from(subscriptions)
              .innerJoin(sources, eq(sources.id, subscriptions.sourceId))
              .where(and(eq(sources.driver, audience.source.driver), eq(sources.username, audience.source.username), ne(subscriptions.posture, 'archived'))),
          ),
        )
      : and(eq(webhookEndpoints.scope, 'org'), eq(webhookEndpoints.orgId, audience.orgId));
  return d
    .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.enabled, true), or(eq(webhookEndpoints.scope, 'platform'), own)));
}

/**
 * Delivery log rows, `pending`, one per endpoint, each keeping its event (JSON) so a lost message
 * can be sent again. Chunked: 4 parameters a row, under D1's 100 bound parameters a statement.
 */
export function insertDeliveries(d: Db, rows: Array<{ id: string; endpointId: string; eventType: string; eventJson: string }>) {
  return chunk(rows, 24).map((part) => d.insert(webhookDeliveries).values(part));
}

/** Rows whose Queue message was never sent: `failed`, with the reason, for the owner's log. */
export async function markNotQueued(d: Db, ids: readonly string[], error: string): Promise<void> {
  const stmts = chunk(ids, 90).map((part) =>
    d
      .update(webhookDeliveries)
      .set({ status: 'failed', error, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
      .where(and(inArray(webhookDeliveries.id, part), eq(webhookDeliveries.status, 'pending'), eq(webhookDeliveries.attempts, 0))),
  );
  if (stmts.length > 0) await d.batch(stmts as [(typeof stmts)[0], ...typeof stmts]);
}

/**
 * Claims the rows never attempted, created in [from, to), that keep their event and were not re-sent
 * yet (`pending` whose message was lost, or `failed` as not queued: an attempt always counts), for
 * one more send: back to `pending`, `requeued_at` set, so a concurrent sweep claims none of them.
 * The window keeps the sweep to recent rows (the created_at index), not the whole 30-day log.
 */
export function requeueUnattemptedDeliveries(d: Db, from: string, to: string, now: string) {
  return d
    .update(webhookDeliveries)
    .set({ status: 'pending', error: null, requeuedAt: now, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
    .where(
      and(
        gte(webhookDeliveries.createdAt, from),
        lt(webhookDeliveries.createdAt, to),
        inArray(webhookDeliveries.status, ['pending', 'failed']),
        eq(webhookDeliveries.attempts, 0),
        isNull(webhookDeliveries.requeuedAt),
        isNotNull(webhookDeliveries.eventJson),
      ),
    )
    .returning({ id: webhookDeliveries.id, endpointId: webhookDeliveries.endpointId, eventJson: webhookDeliveries.eventJson });
}

/**
 * `pending` rows never attempted, created in [from, to), that cannot be sent again: re-sent once
 * already before `to` (and still not attempted), or without a stored event (rows older than
 * migration 0004). Their message was lost between the log row and the Queue send (or the queue is
 * that far behind: a later attempt overwrites the row).
 */
export function failUnattemptedDeliveries(d: Db, from: string, to: string, error: string) {
  return d
    .update(webhookDeliveries)
    .set({ status: 'failed', error, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
    .where(
      and(
        gte(webhookDeliveries.createdAt, from),
        lt(webhookDeliveries.createdAt, to),
        eq(webhookDeliveries.status, 'pending'),
        eq(webhookDeliveries.attempts, 0),
        or(isNull(webhookDeliveries.eventJson), lt(webhookDeliveries.requeuedAt, to)),
      ),
    )
    .run();
}

/** What the delivery log shows: every column but the stored event body (kept only for re-sends). */
const logColumns = (({ eventJson: _body, requeuedAt: _requeued, ...shown }) => shown)(getTableColumns(webhookDeliveries));
export type DeliveryLogRow = Omit<DeliveryRow, 'eventJson' | 'requeuedAt'>;

/**
 * An owner's "Retry" of a `failed` delivery that keeps its event: back to `pending` (the same id, so
 * the same `webhook-id`), in one conditional write, so two clicks queue it once. Returns the claimed
 * row (none: not this endpoint's, not failed, or no stored event). `attempts` is kept: the consumer
 * counts the new attempts on top of it.
 */
export function claimFailedDeliveryStatement(d: Db, endpointId: string, id: string) {
  return d
    .update(webhookDeliveries)
    .set({ status: 'pending', error: null, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'failed'), isNotNull(webhookDeliveries.eventJson)))
    .returning({ ...logColumns, eventJson: webhookDeliveries.eventJson });
}

/** A claimed retry whose Queue send was refused: failed again (only while nothing attempted it since). */
function unclaimRetryStatement(d: Db, id: string, error: string) {
  return d
    .update(webhookDeliveries)
    .set({ status: 'failed', error, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending')));
}

/**
 * Undoes a retry claimed with its audit row (one batch) whose message was never queued: the delivery
 * failed again and that audit row removed, in one batch. The row recorded a retry that did not
 * happen; the unit is rolled back as a whole, as a transaction would, so the log stays true.
 */
export function undoRetryClaim(d: Db, id: string, error: string, auditId: number | undefined) {
  const unclaim = unclaimRetryStatement(d, id, error);
  return auditId === undefined ? unclaim.run() : d.batch([unclaim, d.delete(auditLog).where(eq(auditLog.id, auditId))]);
}

export function getDelivery(d: Db, id: string) {
  return d.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get();
}

export function recordAttempt(
  d: Db,
  id: string,
  a: { status: DeliveryStatus; attempts: number; responseStatus: number | null; latencyMs: number | null; error: string | null },
) {
  return d
    .update(webhookDeliveries)
    .set({ ...a, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
    .where(eq(webhookDeliveries.id, id))
    .run();
}

/** Newest first; `before` (a created_at) pages back. */
export function listDeliveries(d: Db, endpointId: string, limit: number, before?: string): Promise<DeliveryLogRow[]> {
  return d
    .select(logColumns)
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.endpointId, endpointId), before ? lt(webhookDeliveries.createdAt, before) : undefined))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit)
    .all();
}
