/**
 * Every D1 statement of a user's own console resources (settings, per-user app flags) and of the
 * console's share of ending an account, typed against the schema. Functions take the drizzle client
 * first; the ones named `…Statement` return an unexecuted statement for the caller's
 * `d.batch([...])`, so a change and its audit row land together.
 *
 *   const d = db(c.env);
 *   await d.batch([upsertSettingsStatement(d, userId, text, nowIso()), auditStatement(c, …)]);
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { playSessions, userApps, userSettings } from '../../db/schema';
import { LIVE_STATUSES } from '../play/model';

/** The stored settings text, or undefined when the user never saved any. */
export async function settingsJsonOf(d: Db, userId: number): Promise<string | undefined> {
  return (await d.select({ json: userSettings.settingsJson }).from(userSettings).where(eq(userSettings.userId, userId)).get())?.json;
}

/** Replaces the whole blob. */
export function upsertSettingsStatement(d: Db, userId: number, settingsJson: string, now: string) {
  return d
    .insert(userSettings)
    .values({ userId, settingsJson, updatedAt: now })
    .onConflictDoUpdate({ target: userSettings.userId, set: { settingsJson, updatedAt: now } });
}

/** The user's own `installed` flag for an app (not the org's install-ready state). */
export function setUserAppInstalledStatement(d: Db, userId: number, appId: string, installed: boolean) {
  return d
    .insert(userApps)
    .values({ userId, appId, installed })
    .onConflictDoUpdate({ target: [userApps.userId, userApps.appId], set: { installed: sql`excluded.installed` } });
}

/** The user's play sessions that hold a seat, with their org (whose allocator ends them). */
export function livePlaySessionsOfUser(d: Db, userId: number) {
  return d
    .select({ id: playSessions.id, orgId: playSessions.orgId })
    .from(playSessions)
    .where(and(eq(playSessions.userId, userId), inArray(playSessions.status, [...LIVE_STATUSES])));
}
