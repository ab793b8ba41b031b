/**
 * The org admin's view of play: `GET /orgs/{org_id}/sessions?status=live|queued|ended|all`
 * (`orgPlaySessionRoutes`), one D1 query over the `play_sessions` history (the OrgAllocator mirrors
 * every play session there) joined with players, games and nodes, and `GET /orgs/{org_id}/queue`
 * (`orgPlayQueueRoutes`), the org's play queue in order, straight from its allocator (positions
 * exist only there), with names. No stream URLs: those are capabilities for the player only. Rows
 * the allocator had to repair (its first D1 write failed, or a reconcile found them missing/stale
 * or orphaned) say so in `mirror_repair`.
 *
 *   GET /orgs/1/sessions?status=live&limit=50
 *   → [{ "id": 4503599627370497, "user_id": 7, "username": "player1", "game_name": "Rust", "node_name": "rig-1", "status": "active", ... }]
 */
import { createRoute } from '@hono/zod-openapi';
import { usernamesOf } from '../../auth/accounts';
import { requireOrgRole, requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { errors, IntId, json, newRouter, z } from '../../http/openapi';
import { allocatorOf } from './model';
import { orgPlaySessions, playerAndGameNames } from './queries';
import { BEARER, PLAY_TAGS } from './rules';

const OrgParams = z.object({ org_id: IntId.openapi({ param: { name: 'org_id', in: 'path' }, type: 'integer' }) });
const OrgPlaySessionsQuery = z.object({
  status: z.enum(['live', 'queued', 'ended', 'all']).default('live').openapi({ description: 'live = provisioning or active; queued = waiting for a seat' }),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const MirrorRepair = z.enum(['retried', 'reconciled', 'orphan_ended']);

const OrgPlaySession = z
  .object({
    id: z.number().int(),
    org_id: z.number().int(),
    user_id: z.number().int(),
    username: z.string(),
    game_id: z.number().int(),
    game_name: z.string(),
    node_id: z.number().int().nullable(),
    node_name: z.string().nullable(),
    region: z.string().nullable(),
    status: z.string(),
    end_reason: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    ended_at: z.string().nullable(),
    mirror_repair: MirrorRepair.nullable().openapi({
      description:
        'Set when this row reached the list late and was repaired by the allocator: retried (the first D1 write failed and the outbox re-delivered it), reconciled (found missing or stale by the periodic reconcile), orphan_ended (live here but unknown to the allocator, so ended)',
    }),
    mirror_repaired_at: z.string().nullable(),
  })
  .openapi('OrgSession');

const QueueEntryOut = z
  .object({
    id: z.number().int(),
    user_id: z.number().int(),
    username: z.string(),
    game_id: z.number().int(),
    game_name: z.string(),
    position: z.number().int(),
    eta_seconds: z.number().int(),
    enqueued_at: z.string(),
    last_poll_at: z.string().nullable(),
  })
  .openapi('QueueEntry');

/** Org admins and platform admins only. */
const orgAdminRead = { tags: PLAY_TAGS, security: BEARER, middleware: [requireUser, requireOrgRole('admin')], request: { params: OrgParams } };

export const orgPlaySessionRoutes = newRouter().openapi(
  createRoute({
    ...orgAdminRead,
    method: 'get',
    path: '/',
    operationId: 'listOrgPlaySessions',
    summary: 'Play sessions of an org, newest first (org admins and platform admins)',
    request: { params: OrgParams, query: OrgPlaySessionsQuery },
    responses: { 200: json(z.array(OrgPlaySession), 'Play sessions'), ...errors(400, 401, 403) },
  }),
  async (c) => {
    const { org_id } = c.req.valid('param');
    const { status, limit } = c.req.valid('query');
    const rows = await orgPlaySessions(db(c.env), org_id, status, limit);
    const names = await usernamesOf(c.env, rows.map((r) => ({ id: r.userId, usernameEnc: r.usernameEnc, usernameDigest: r.usernameDigest })));
    return c.json(
      rows.map((r) => ({
        id: r.id,
        org_id: r.orgId,
        user_id: r.userId,
        username: names.get(r.userId) ?? '',
        game_id: r.gameId,
        game_name: r.gameName,
        node_id: r.nodeId,
        node_name: r.nodeName,
        region: r.region,
        status: r.status,
        end_reason: r.endReason,
        created_at: r.createdAt,
        updated_at: r.updatedAt,
        ended_at: r.endedAt,
        mirror_repair: r.mirrorRepair as z.infer<typeof MirrorRepair> | null,
        mirror_repaired_at: r.mirrorRepairedAt,
      })),
      200,
    );
  },
);

export const orgPlayQueueRoutes = newRouter().openapi(
  createRoute({
    ...orgAdminRead,
    method: 'get',
    path: '/',
    operationId: 'listOrgPlayQueue',
    summary: 'The org’s play queue in order, from its allocator (org admins and platform admins)',
    responses: { 200: json(z.array(QueueEntryOut), 'Waiters, first in line first'), ...errors(400, 401, 403) },
  }),
  async (c) => {
    const { org_id } = c.req.valid('param');
    const entries = await allocatorOf(c.env, org_id).queueEntries(org_id);
    if (entries.length === 0) return c.json([], 200);
    const rows = await playerAndGameNames(db(c.env), entries.map((e) => e.userId), entries.map((e) => e.gameId));
    const names = await usernamesOf(c.env, rows.users);
    const games = new Map(rows.games.map((g) => [g.id, g.name]));
    return c.json(
      entries.map((e) => ({
        id: e.id,
        user_id: e.userId,
        username: names.get(e.userId) ?? '',
        game_id: e.gameId,
        game_name: games.get(e.gameId) ?? '',
        position: e.position,
        eta_seconds: e.etaSeconds,
        enqueued_at: e.enqueuedAt,
        last_poll_at: e.lastPollAt,
      })),
      200,
    );
  },
);
