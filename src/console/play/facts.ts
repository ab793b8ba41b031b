/**
 * The allocation facts `POST /sessions` decides on, besides the caller check (which stays in the
 * request's D1 batch, with an acting admin's own role): the target user's membership, the play context (policy, per-user limit, the game, the user's
 * verified entitlement) and the game's candidate nodes. The org's OrgAllocator keeps them in memory
 * (issue 17 target 2), loads them from D1 in one batch on a miss (`loadPlayFacts`), and drops them
 * all when any writer of those facts calls `forgetPlayFacts` before answering. Only positive facts
 * are kept (a member who owns an existing game), so a write that grants something
 * needs no call; every write that can take something away, or change a policy or a node, does:
 * membership role change and removal (orgs.ts), entitlement recomputation (ownership, library),
 * node create/patch/drain/activate/token/delete (nodes/admin.ts; the heartbeat's install set goes
 * through `nodeHeartbeat`), game deletion (games.ts) and account deletion (account-cleanup.ts).
 * If that call fails the write stands and `PLAY_FACTS_TTL_MS` bounds how long a copy can be stale.
 *
 *   await runTheWrite();
 *   await forgetPlayFacts(c.env, orgId);          // then answer
 */
import type { Db } from '../../db/client';
import { allocatorOf, type Candidate } from './model';
import { playContextQuery, readyNodesQuery, toCandidates, toPlayContext, type PlayContext } from './queries';

/** How long the allocator trusts a copy when no writer told it otherwise (a lost invalidation call). */
export const PLAY_FACTS_TTL_MS = 30_000;

export interface PlayFacts {
  ctx: PlayContext | null;
  /** Active nodes of the org with the game, whatever their last heartbeat (filtered at use). */
  candidates: Candidate[];
}

/**
 * The facts of one request from D1, one batch. Candidates are read without the online cutoff (the
 * allocator applies it at each use, with the heartbeats it has seen since) so a cached list stays
 * right while nodes keep heartbeating.
 */
export async function loadPlayFacts(d: Db, orgId: number, userId: number, gameId: number): Promise<PlayFacts> {
  const [ctxRows, nodeRows] = await d.batch([playContextQuery(d, orgId, userId, gameId), readyNodesQuery(d, orgId, gameId, '')]);
  return { ctx: toPlayContext(ctxRows), candidates: toCandidates(nodeRows, '') };
}

/**
 * Tells the org's allocator to drop its allocation facts; awaited by every writer before it answers,
 * so the very next `POST /sessions` reads D1 again. A failure does not undo the write (the TTL is
 * the backstop), so it is swallowed here, logged.
 */
export async function forgetPlayFacts(env: Pick<Env, 'ORG_ALLOCATOR'>, orgIds: number | readonly number[]): Promise<void> {
  const ids = typeof orgIds === 'number' ? [orgIds] : [...new Set(orgIds)];
  await Promise.all(
    ids.map(async (orgId) => {
      try {
        await allocatorOf(env, orgId).forgetFacts();
      } catch (err) {
        console.warn(JSON.stringify({ msg: 'play facts invalidation failed', org_id: orgId, error: String(err) }));
      }
    }),
  );
}
