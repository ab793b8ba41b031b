/**
 * The DVR's cron job: every 5 minutes (`jobs.frequent`) every overseer link is woken, so it is
 * re-dialled even when no dashboard is open and no alarm survived (the alarm chain normally keeps
 * it up; this is the safety net).
 */
import { overseerLink } from './overseer';

export async function keepOverseerLinkUp(env: Env): Promise<void> {
  if (!env.OVERSEER_URL && !env.OVERSEER_URLS) return;
  await overseerLink(env).wake();
}
