/**
 * Console play-session events (`session.started`, `session.ended`), produced by the OrgAllocator
 * from its OWN state transitions: each decision records the event in the allocator's storage in
 * the same transaction as the decision, and the allocator hands the events here once D1 has the
 * rows they describe (so a receiver that calls the API finds the session). No D1 read decides
 * whether something started or ended; a re-delivered row carries no event, so nothing is announced
 * twice.
 *
 *   announcePlayEvents(env, ctx, orgId, [{ type: 'session.started', sessionId, userId, gameId, status: 'provisioning', reason: null }]);
 *
 * `session.started` when a session takes a seat (allocated, or promoted from the queue);
 * `session.ended` when a live one reaches ended, failed or terminated. A session that left the
 * queue without ever playing is not announced. One endpoint lookup per call, however many events
 * and types (the allocator hands over a whole coalesced delivery at once).
 */
import { db, type Db } from '../db/client';
import { createLogger } from '../http/log';
import { nowIso } from '../world';
import type { WebhookEvent } from './events';
import { deliveryMessages, enqueueDeliveries, type Waiter } from './publish';
import { audienceEndpoints, audienceEndpointsQuery, eventsOf, type EndpointRow } from './queries';

const log = createLogger({ area: 'notifications' });

export interface PlayEvent {
  type: 'session.started' | 'session.ended';
  sessionId: number;
  userId: number;
  gameId: number;
  /** The status the transition reached (for `session.ended`: ended, failed or terminated). */
  status: string;
  reason: string | null;
}

/** The org's audience as `playEventEndpointsQuery` read it (in the same D1 batch as the rows the events describe). */
export type PlayEventEndpoints = Array<Pick<EndpointRow, 'id' | 'events'>>;

/**
 * The endpoint lookup of a delivery round, unexecuted: the allocator puts it in its mirror write's
 * D1 batch, so a round costs one D1 call, and the list is as fresh as a read made at publishing.
 */
export function playEventEndpointsQuery(d: Db, orgId: number) {
  return audienceEndpointsQuery(d, { orgId });
}

/**
 * Queues the deliveries in `ctx`'s waitUntil; never throws (a failure is logged). `endpoints`, when
 * the caller already read them (`playEventEndpointsQuery`), saves the lookup.
 */
export function announcePlayEvents(
  env: Pick<Env, 'DB' | 'WEBHOOK_QUEUE'>,
  ctx: Waiter,
  orgId: number,
  events: readonly PlayEvent[],
  endpoints?: PlayEventEndpoints,
): void {
  if (events.length === 0) return;
  // Nobody listens: nothing to queue and nothing to log (the lookup was just made).
  if (endpoints && endpoints.length === 0) return;
  ctx.waitUntil(
    publishAll(env, orgId, events, endpoints).catch((e: unknown) =>
      log.error('webhook event not queued', { org_id: orgId, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
    ),
  );
}

/**
 * One endpoint read, one D1 batch and one Queue send for the whole coalesced delivery, however many
 * events and types. The read cannot join the log rows' batch: those rows are one per endpoint, with
 * ids made here, and the messages name them.
 */
async function publishAll(env: Pick<Env, 'DB' | 'WEBHOOK_QUEUE'>, orgId: number, events: readonly PlayEvent[], known?: PlayEventEndpoints): Promise<void> {
  const endpoints = known ?? (await audienceEndpoints(db(env), { orgId }));
  const targets = new Map<PlayEvent['type'], string[]>();
  for (const type of new Set(events.map((e) => e.type))) targets.set(type, endpoints.filter((r) => eventsOf(r).includes(type)).map((r) => r.id));
  const messages = events.flatMap((e) => {
    const data: Record<string, unknown> = { org_id: orgId, session_id: e.sessionId, user_id: e.userId, game_id: e.gameId };
    if (e.type === 'session.ended') Object.assign(data, { status: e.status, reason: e.reason });
    const event: WebhookEvent = { type: e.type, timestamp: nowIso(), data };
    return deliveryMessages(targets.get(e.type) ?? [], event);
  });
  await enqueueDeliveries(env, messages);
}
