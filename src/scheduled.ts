/**
 * Cron dispatch. `15 6 * * *` is the daily chart scrape; `*\/5 * * * *` is housekeeping
 * (expired refresh sessions, OpenID nonces, chart retries, the overseer link, play-session leases).
 * Each job is independent: one failing never stops the others.
 */
import { sql } from 'drizzle-orm';
import { purgeExpiredSessions } from './auth/refresh';
import { chartRetryJob, dailyChartJob } from './console/charts/jobs';
import { sweepPlaySessions } from './console/play-sessions';
import { db } from './db/client';
import { keepOverseerLinkUp } from './dvr/cron';
import { configureLogging, createLogger } from './http/log';
import { pruneMetrics } from './metrics/record';
import { world } from './world';

export type Job = (env: Env, controller: ScheduledController) => Promise<void>;

const housekeeping: Job[] = [
  async (env) => {
    await purgeExpiredSessions(env);
  },
  async (env) => {
    const cutoff = new Date(world.now() - 24 * 3600_000).toISOString();
    await db(env).run(sql`DELETE FROM openid_nonces WHERE seen_at < ${cutoff}`);
  },
  // Play-session leases and offline nodes, in case an OrgAllocator alarm was lost.
  sweepPlaySessions,
  // The overseer link's safety net: re-dial even when no dashboard is open and no alarm survived.
  keepOverseerLinkUp,
  // The local metric store's retention window.
  (env) => pruneMetrics(env),
];

/** Jobs registered by product areas: `daily` runs on the chart cron, `frequent` every 5 minutes. */
export const jobs: { daily: Job[]; frequent: Job[] } = { daily: [dailyChartJob], frequent: [...housekeeping, chartRetryJob] };

/** The housekeeping schedule; every other cron in wrangler.toml is the daily one, so its time can be
 * changed there alone. */
export const FREQUENT_CRON = '*/5 * * * *';

export async function runScheduled(controller: ScheduledController, env: Env): Promise<void> {
  configureLogging(env);
  const log = createLogger({ cron: controller.cron });
  const list = controller.cron === FREQUENT_CRON ? jobs.frequent : jobs.daily;
  const results = await Promise.allSettled(list.map((job) => job(env, controller)));
  for (const r of results) if (r.status === 'rejected') log.error('cron job failed', { error: String(r.reason) });
}
