/**
 * Storage of device pairing (RFC 8628): the grants in `device_authorizations`, the wrong-code
 * counters in `device_pairing_throttle`, and the paired-devices view (a grant joined to the live
 * refresh session of the login it produced). Every state change is one conditional UPDATE whose
 * changed-row count says whether this caller won, so two phones approving, or two polls exchanging,
 * can never both succeed.
 *
 *   const d = db(env);
 *   const inserted = await insertGrant(d, { ... });            // false on a user-code collision
 *   const won = await decideGrant(d, id, userId, 'approved', orgId, now);
 *   const rows = await pairedDevices(d, userId, now);
 */
import { and, desc, eq, gt, isNotNull, isNull, lte, ne, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { changes, type Db } from '../../db/client';
import { refreshSessions, deviceAuthorizations, devicePairingThrottle } from '../../db/schema';

export type Grant = typeof deviceAuthorizations.$inferSelect;

export async function insertGrant(d: Db, row: typeof deviceAuthorizations.$inferInsert): Promise<boolean> {
  const res = await d.insert(deviceAuthorizations).values(row).onConflictDoNothing().run();
  return changes(res) === 1;
}

export async function grantByDeviceCodeHash(d: Db, hash: string): Promise<Grant | undefined> {
  return d.select().from(deviceAuthorizations).where(eq(deviceAuthorizations.deviceCodeHash, hash)).get();
}

export async function grantByUserCode(d: Db, userCode: string): Promise<Grant | undefined> {
  return d.select().from(deviceAuthorizations).where(eq(deviceAuthorizations.userCode, userCode)).get();
}

/**
 * A poll that respects the interval moves `last_polled_at`; one that comes too soon does not, and
 * instead grows the interval by 5 s and restarts the wait (RFC 8628 §3.5). Returns whether the poll
 * was on time. The move is a compare-and-set on the `last_polled_at` just read, so of two polls
 * racing on one device code only one counts as on time. `graceMs` absorbs network jitter between
 * two polls sent exactly `interval` apart.
 */
export async function pacePoll(d: Db, grant: Pick<Grant, 'id' | 'lastPolledAt' | 'intervalSeconds'>, nowMs: number, graceMs: number): Promise<boolean> {
  const now = new Date(nowMs).toISOString();
  const due = Date.parse(grant.lastPolledAt) + grant.intervalSeconds * 1000 - graceMs;
  if (nowMs >= due) {
    const onTime = await d
      .update(deviceAuthorizations)
      .set({ lastPolledAt: now })
      .where(and(eq(deviceAuthorizations.id, grant.id), eq(deviceAuthorizations.lastPolledAt, grant.lastPolledAt)))
      .run();
    if (changes(onTime) === 1) return true;
  }
  await d
    .update(deviceAuthorizations)
    .set({ lastPolledAt: now, intervalSeconds: sql`${deviceAuthorizations.intervalSeconds} + 5` })
    .where(eq(deviceAuthorizations.id, grant.id))
    .run();
  return false;
}

/** pending → approved|denied by this user, only while unexpired. */
export async function decideGrant(
  d: Db,
  id: string,
  userId: number,
  status: 'approved' | 'denied',
  orgId: number | null,
  now: string,
): Promise<boolean> {
  const res = await d
    .update(deviceAuthorizations)
    .set({ status, userId, orgId, decidedAt: now })
    .where(and(eq(deviceAuthorizations.id, id), eq(deviceAuthorizations.status, 'pending'), gt(deviceAuthorizations.expiresAt, now)))
    .run();
  return changes(res) === 1;
}

/** approved → exchanged, once: of two concurrent exchanges exactly one changes the row. */
export async function claimExchange(d: Db, id: string, now: string): Promise<boolean> {
  const res = await d
    .update(deviceAuthorizations)
    .set({ status: 'exchanged', exchangedAt: now })
    .where(and(eq(deviceAuthorizations.id, id), eq(deviceAuthorizations.status, 'approved'), gt(deviceAuthorizations.expiresAt, now)))
    .run();
  return changes(res) === 1;
}

/** Ties the grant to the refresh session its exchange started (column `session_id`). */
export async function attachRefreshSession(d: Db, id: string, refreshSessionId: string): Promise<void> {
  await d.update(deviceAuthorizations).set({ refreshSessionId }).where(eq(deviceAuthorizations.id, id)).run();
}

const first = alias(refreshSessions, 'first_refresh_session');
const live = alias(refreshSessions, 'live_refresh_session');

/**
 * The user's paired devices that still hold a live login: the grant, joined to the first refresh
 * session of its login (the family), joined to the family's current (unrotated, unrevoked, unexpired) row.
 */
export async function pairedDevices(d: Db, userId: number, now: string) {
  return d
    .select({
      id: deviceAuthorizations.id,
      clientName: deviceAuthorizations.clientName,
      country: deviceAuthorizations.country,
      pairedAt: deviceAuthorizations.exchangedAt,
      lastSeenAt: live.createdAt,
      refreshSessionId: deviceAuthorizations.refreshSessionId,
    })
    .from(deviceAuthorizations)
    .innerJoin(first, eq(first.id, deviceAuthorizations.refreshSessionId))
    .innerJoin(
      live,
      and(
        eq(live.familyId, first.familyId),
        isNull(live.revokedAt),
        isNull(live.rotatedAt),
        gt(live.expiresAt, now),
        gt(live.familyExpiresAt, now),
      ),
    )
    .where(and(eq(deviceAuthorizations.userId, userId), eq(deviceAuthorizations.status, 'exchanged')))
    .orderBy(desc(deviceAuthorizations.exchangedAt));
}

/** One paired device of this user (any state of its login), for revocation. */
export async function pairedDeviceOf(d: Db, userId: number, id: string) {
  return d
    .select({ id: deviceAuthorizations.id, refreshSessionId: deviceAuthorizations.refreshSessionId, clientName: deviceAuthorizations.clientName })
    .from(deviceAuthorizations)
    .where(
      and(
        eq(deviceAuthorizations.id, id),
        eq(deviceAuthorizations.userId, userId),
        eq(deviceAuthorizations.status, 'exchanged'),
        isNotNull(deviceAuthorizations.refreshSessionId),
      ),
    )
    .get();
}

// ─────────────── wrong-code throttle ───────────────

/** Milliseconds until the key's window ends when it is at or over `max` failures, else 0. */
export async function throttledFor(d: Db, key: string, max: number, windowMs: number, nowMs: number): Promise<number> {
  const row = await d.select().from(devicePairingThrottle).where(eq(devicePairingThrottle.key, key)).get();
  if (!row || row.failures < max) return 0;
  const left = Date.parse(row.windowStartedAt) + windowMs - nowMs;
  return left > 0 ? left : 0;
}

/** Counts one wrong code for the key: one statement that also restarts a window that ran out. */
export async function countFailure(d: Db, key: string, windowMs: number, nowMs: number): Promise<void> {
  const now = new Date(nowMs).toISOString();
  const windowStart = new Date(nowMs - windowMs).toISOString();
  const stale = sql`${devicePairingThrottle.windowStartedAt} <= ${windowStart}`;
  await d
    .insert(devicePairingThrottle)
    .values({ key, failures: 1, windowStartedAt: now })
    .onConflictDoUpdate({
      target: devicePairingThrottle.key,
      set: {
        failures: sql`CASE WHEN ${stale} THEN 1 ELSE ${devicePairingThrottle.failures} + 1 END`,
        windowStartedAt: sql`CASE WHEN ${stale} THEN ${now} ELSE ${devicePairingThrottle.windowStartedAt} END`,
      },
    })
    .run();
}

/** Housekeeping: grants that ended unused a day ago (paired devices stay while their login lives),
 * and counters whose window ran out. */
export async function purgeDeviceGrants(d: Db, nowMs: number, windowMs: number): Promise<void> {
  const dayAgo = new Date(nowMs - 24 * 3600_000).toISOString();
  const windowStart = new Date(nowMs - windowMs).toISOString();
  await d.batch([
    d
      .delete(deviceAuthorizations)
      .where(
        and(
          lte(deviceAuthorizations.expiresAt, dayAgo),
          or(ne(deviceAuthorizations.status, 'exchanged'), isNull(deviceAuthorizations.refreshSessionId)),
        ),
      ),
    d.delete(devicePairingThrottle).where(lte(devicePairingThrottle.windowStartedAt, windowStart)),
  ]);
}
