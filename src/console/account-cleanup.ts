/**
 * The console's share of ending or demoting an account (the identity layer's `AccountCleanup`,
 * wired in by `src/app.ts`): a deleted user's live play seats are ended through their org's
 * allocator, and invites lose their power with their creator's (deleted or demoted) rights.
 */
import type { AccountCleanup } from '../auth/user-admin';
import { db } from '../db/client';
import { nowIso } from '../world';
import { allocatorOf } from './play/model';
import { livePlaySessionsOfUser } from './play/queries';
import { revokeInvitesOfFormerAdminStatement, revokeInvitesWithoutCreatorStatement } from './tenancy/queries';

export const consoleAccountCleanup: AccountCleanup = {
  async beforeDelete(env, userId) {
    const live = await livePlaySessionsOfUser(db(env), userId);
    for (const s of live) await allocatorOf(env, s.orgId).terminate(s.orgId, s.id);
    return { ended_play_sessions: live.length };
  },
  // Deleting the user set `created_by` to NULL on their invites (foreign key), earlier in the batch.
  onDelete: (env) => [revokeInvitesWithoutCreatorStatement(db(env), nowIso())],
  onDemote: (env, userId) => [revokeInvitesOfFormerAdminStatement(db(env), userId, nowIso())],
};
