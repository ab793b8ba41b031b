/**
 * Statements on the failure counters of `login_throttle` (keyed by username digest or by a
 * prefixed key, see `../throttle.ts` for the rules).
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { loginThrottle } from '../../db/schema';

export async function throttleRow(d: Db, key: string) {
  return d.select().from(loginThrottle).where(eq(loginThrottle.usernameDigest, key)).get();
}

/**
 * Counts one failure in one statement: increments inside the window, restarts a window that
 * started before `windowStart`, locks until `lockUntil` at `maxFailures`. Returns the new count.
 */
export async function countThrottleFailure(
  d: Db,
  key: string,
  at: { now: string; windowStart: string; lockUntil: string; maxFailures: number },
): Promise<number | undefined> {
  const stale = sql`${loginThrottle.windowStartedAt} < ${at.windowStart}`;
  const next = sql`CASE WHEN ${stale} THEN 1 ELSE ${loginThrottle.failures} + 1 END`;
  const row = await d
    .insert(loginThrottle)
    .values({ usernameDigest: key, failures: 1, windowStartedAt: at.now, lockedUntil: at.maxFailures <= 1 ? at.lockUntil : null })
    .onConflictDoUpdate({
      target: loginThrottle.usernameDigest,
      set: {
        failures: next,
        windowStartedAt: sql`CASE WHEN ${stale} THEN ${at.now} ELSE ${loginThrottle.windowStartedAt} END`,
        lockedUntil: sql`CASE WHEN (${next}) >= ${at.maxFailures} THEN ${at.lockUntil} ELSE NULL END`,
      },
    })
    .returning({ failures: loginThrottle.failures })
    .get();
  return row?.failures;
}

export async function clearThrottle(d: Db, key: string): Promise<void> {
  await d.delete(loginThrottle).where(eq(loginThrottle.usernameDigest, key)).run();
}
