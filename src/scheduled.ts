/**
 * Cron dispatch. `15 6 * * *` is the daily chart scrape; `*\/5 * * * *` is housekeeping
 * (expired refresh sessions, retention, chart retries, the overseer link, play-session leases,
 * webhook deliveries that never reached the queue).
 * Each job is independent: one failing never stops the others.
 */
import { purgeExpiredRefreshSessions } from './auth/refresh';
import { purgeDevicePairing } from './auth/device';
import { chartRetryJob, dailyChartJob } from './console/charts/jobs';
import { sweepPlaySessions } from './console/play/jobs';
import { keepOverseerLinkUp } from './dvr/cron';
import { retentionJob } from './dvr/recordings/retention';
import { configureLogging, createLogger } from './http/log';
import { pruneMetricsJob } from './metrics/jobs';
import { failUnqueuedDeliveriesJob } from './notifications/jobs';
import { runRetention } from './retention';

export type Job = (env: Env, controller: ScheduledController) => Promise<void>;

const housekeeping: Job[] = [
  async (env) => {
    await purgeExpiredRefreshSessions(env);
  },
  // Retention of audit log, worker events, finished play sessions, throttle counters and spent
  // OpenID nonces, in bounded batches (src/retention.ts).
  async (env) => {
    const deleted = await runRetention(env);
    if (Object.values(deleted).some((n) => n > 0)) createLogger({ job: 'retention' }).info('retention', deleted);
  },
  // Device sign-in codes that ended unused, and spent wrong-code counters.
  async (env) => {
    await purgeDevicePairing(env);
  },
  // Play-session leases and offline nodes, in case an OrgAllocator alarm was lost.
  sweepPlaySessions,
  // The overseer link's safety net: re-dial even when no dashboard is open and no alarm survived.
  keepOverseerLinkUp,
  // Recordings retention, one bounded batch per run (src/dvr/recordings/retention.ts).
  retentionJob,
  // The local metric store's retention window.
  (env) => pruneMetricsJob(env),
  // Webhook deliveries logged but never queued: failed in the owner's log, not pending for ever.
  async (env) => {
    await failUnqueuedDeliveriesJob(env);
  },
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
