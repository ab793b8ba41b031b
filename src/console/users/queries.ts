/**
 * Every D1 statement of a user's own console resources (settings, per-user app flags), typed against
 * the schema (an ended account's live play seats are read in `play/queries.ts`, which owns that
 * table). Functions take the drizzle client first; the ones named `…Statement` return an unexecuted
 * statement for the caller's `d.batch([...])`, so a change and its audit row land together.
 *
 *   const d = db(c.env);
 *   await d.batch([upsertSettingsStatement(d, userId, text, nowIso()), auditStatement(c, …)]);
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { userApps, userSettings } from '../../db/schema';

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
