/**
 * Play-session housekeeping (cron, every 5 minutes): a sweep of every org with open play sessions,
 * in case an allocator's alarm was lost.
 *
 *   housekeeping: [..., sweepPlaySessions, ...]
 */
import { db } from '../../db/client';
import { allocatorOf } from './model';
import { orgIdsWithOpenPlaySessions } from './queries';

export async function sweepPlaySessions(env: Env): Promise<void> {
  const orgIds = await orgIdsWithOpenPlaySessions(db(env));
  const results = await Promise.allSettled(orgIds.map((orgId) => allocatorOf(env, orgId).sweep(orgId)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
