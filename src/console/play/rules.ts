/**
 * The checks every way of playing shares (cloud session, local launch): the target user is a
 * member, the game exists, the user owns it (verified library entry). Refusals in that order.
 *
 *   const ctx = await playContext(d, orgId, userId, gameId);
 *   assertMayPlay(ctx);           // 403 not_org_member | 404 game_not_found | 403 not_owned
 */
import { Forbidden, NotFound } from '../../http/errors';
import { IntId, z } from '../../http/openapi';
import type { PlayContext } from './queries';

export function assertMayPlay(ctx: PlayContext | null): asserts ctx is PlayContext {
  if (!ctx || !ctx.role) throw new Forbidden('user not in organization', 'not_org_member');
  if (!ctx.gameExists) throw new NotFound('game not found', 'game_not_found');
  if (!ctx.owned) throw new Forbidden('game not owned by the user in this organization', 'not_owned');
}

/** `assertMayPlay` as a predicate (the allocator checks its cached facts without throwing across RPC). */
export function mayPlay(ctx: PlayContext | null): ctx is PlayContext {
  return Boolean(ctx && ctx.role && ctx.gameExists && ctx.owned);
}

export const GameParams = z.object({ game_id: IntId.openapi({ param: { name: 'game_id', in: 'path' }, type: 'integer' }) });
export const OrgId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const PLAY_TAGS = ['play'];
export const BEARER = [{ bearer: [] }];
