/**
 * Game availability for an org (`GET /games/{game_id}/availability`, mounted at
 * `/games/:game_id/availability`): is there a ready install (what `install_ready` means everywhere),
 * and roughly how many free seats, per region. Members of the org only.
 *
 *   GET /games/3/availability?org_id=1&region=eu-west
 *   → 200 {"install_ready":true,"install_ready_anywhere":true,"free_seats":2,"regions":[...]}
 */
import { createRoute } from '@hono/zod-openapi';
import { assertOrgRole, requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { NotFound } from '../../http/errors';
import { errors, IntId, json, newRouter, z } from '../../http/openapi';
import { nodeOnlineCutoff, Region } from '../nodes/model';
import { gameExists, readyNodeLoad } from './queries';
import { BEARER, GameParams, PLAY_TAGS } from './rules';

const AvailabilityQuery = z.object({
  org_id: IntId.openapi({ param: { name: 'org_id', in: 'query' }, type: 'integer' }),
  region: Region.optional().openapi({ param: { name: 'region', in: 'query' } }),
});

const RegionAvailability = z.object({ region: z.string().nullable(), ready_nodes: z.number().int(), free_seats: z.number().int() });

const AvailabilityOut = z
  .object({
    game_id: z.number().int(),
    org_id: z.number().int(),
    region: z.string().nullable(),
    install_ready: z.boolean().openapi({ description: 'Installed on an active, online node of the org (in `region` when given)' }),
    install_ready_anywhere: z.boolean(),
    free_seats: z.number().int().openapi({ description: 'Free seats on ready nodes (in `region` when given); approximate, the allocator decides' }),
    regions: z.array(RegionAvailability),
  })
  .openapi('Availability');

export const gameAvailabilityRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    operationId: 'getGameAvailability',
    tags: PLAY_TAGS,
    summary: 'Is there a ready installation of the game for my org (and region)? Members of the org only',
    security: BEARER,
    middleware: [requireUser],
    request: { params: GameParams, query: AvailabilityQuery },
    responses: { 200: json(AvailabilityOut, 'Availability'), ...errors(400, 401, 403, 404) },
  }),
  async (c) => {
    const { game_id } = c.req.valid('param');
    const { org_id, region } = c.req.valid('query');
    await assertOrgRole(c, org_id, 'member');
    const d = db(c.env);
    const [exists, nodes] = await Promise.all([gameExists(d, game_id), readyNodeLoad(d, org_id, game_id, nodeOnlineCutoff(c.env))]);
    if (!exists) throw new NotFound('game not found', 'game_not_found');
    // Every ready node is listed, so "install ready" (in the region, or anywhere) is whether one is.
    const byRegion = new Map<string | null, z.infer<typeof RegionAvailability>>();
    for (const n of nodes) {
      const r = byRegion.get(n.region) ?? { region: n.region, ready_nodes: 0, free_seats: 0 };
      r.ready_nodes += 1;
      r.free_seats += Math.max(0, n.capacity - n.live);
      byRegion.set(n.region, r);
    }
    const regions = [...byRegion.values()].sort((a, b) => String(a.region).localeCompare(String(b.region)));
    const inScope = region ? regions.filter((r) => r.region === region) : regions;
    return c.json(
      {
        game_id,
        org_id,
        region: region ?? null,
        install_ready: inScope.length > 0,
        install_ready_anywhere: regions.length > 0,
        free_seats: inScope.reduce((sum, r) => sum + r.free_seats, 0),
        regions,
      },
      200,
    );
  },
);
