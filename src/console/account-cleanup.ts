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
import { memberOrgsOf, revokeInvitesOfFormerAdminStatement, revokeInvitesWithoutCreatorStatement } from './tenancy/queries';
import { forgetPlayFacts } from './play/facts';

export const consoleAccountCleanup: AccountCleanup = {
  async beforeDelete(env, userId) {
    const live = await livePlaySessionsOfUser(db(env), userId);
    for (const s of live) await allocatorOf(env, s.orgId).terminate(s.orgId, s.id);
    // The allocators' cached memberships of this user (play/facts.ts). Before the delete, as this
    // hook runs; a request in between would hand a seat to a user whose row then goes, and that
    // seat ends at its first mirror write (owner_gone).
    await forgetPlayFacts(env, (await memberOrgsOf(db(env), userId)).map((o) => o.id));
    return { ended_play_sessions: live.length };
  },
  // Deleting the user set `created_by` to NULL on their invites (foreign key), earlier in the batch.
  onDelete: (env) => [revokeInvitesWithoutCreatorStatement(db(env), nowIso())],
  onDemote: (env, userId) => [revokeInvitesOfFormerAdminStatement(db(env), userId, nowIso())],
};
