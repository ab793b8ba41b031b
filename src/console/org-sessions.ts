/**
 * The org admin's view of play sessions: `GET /orgs/{org_id}/sessions?status=live|ended|all`, one
 * D1 query over the `play_sessions` history (the OrgAllocator mirrors every session there), joined
 * with players, games and nodes. No stream URLs: those are capabilities for the player only. Rows
 * the allocator had to repair (its first D1 write failed, or a reconcile found them missing/stale
 * or orphaned) say so in `mirror_repair`.
 *
 * `GET /orgs/{org_id}/queue` is the org's play queue in order, straight from its allocator (positions
 * exist only there), with names.
 *
 *   GET /orgs/1/sessions?status=live&limit=50
 *   → [{ "id": 4503599627370497, "user_id": 7, "username": "player1", "game_name": "Rust", "node_name": "rig-1", "status": "active", ... }]
 */
import { createRoute } from '@hono/zod-openapi';
import { inArray, sql } from 'drizzle-orm';
import { usernamesOf } from '../auth/accounts';
import { requireOrgRole, requireUser } from '../auth/middleware';
import { db } from '../db/client';
import { errors, IntId, json, newRouter, z } from '../http/openapi';
import { games, users } from '../db/schema';
import { allocatorOf, LIVE_STATUSES } from './play-sessions';

const Params = z.object({ org_id: IntId.openapi({ param: { name: 'org_id', in: 'path' }, type: 'integer' }) });
const Query = z.object({
  status: z.enum(['live', 'queued', 'ended', 'all']).default('live').openapi({ description: 'live = provisioning or active; queued = waiting for a seat' }),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const OrgSession = z
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
    mirror_repair: z.enum(['retried', 'reconciled', 'orphan_ended']).nullable().openapi({
      description:
        'Set when this row reached the list late and was repaired by the allocator: retried (the first D1 write failed and the outbox re-delivered it), reconciled (found missing or stale by the periodic reconcile), orphan_ended (live here but unknown to the allocator, so ended)',
    }),
    mirror_repaired_at: z.string().nullable(),
  })
  .openapi('OrgSession');

interface Row {
  id: number;
  org_id: number;
  user_id: number;
  username_enc: string;
  username_digest: string;
  game_id: number;
  game_name: string;
  node_id: number | null;
  node_name: string | null;
  region: string | null;
  status: string;
  end_reason: string | null;
  created_at: string;
  updated_at: string;
  ended_at: string | null;
  mirror_repair: 'retried' | 'reconciled' | 'orphan_ended' | null;
  mirror_repaired_at: string | null;
}

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

export const orgSessionsRouter = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/orgs/{org_id}/sessions',
    tags: ['play'],
    summary: 'Play sessions of an org, newest first (org admins and platform admins)',
    middleware: [requireUser, requireOrgRole('admin')],
    request: { params: Params, query: Query },
    responses: { 200: json(z.array(OrgSession), 'Sessions'), ...errors(400, 401, 403) },
  }),
  async (c) => {
    const { org_id } = c.req.valid('param');
    const { status, limit } = c.req.valid('query');
    const live = sql.join(LIVE_STATUSES.map((s) => sql`${s}`), sql`, `);
    const filter =
      status === 'live'
        ? sql`AND p.status IN (${live})`
        : status === 'queued'
          ? sql`AND p.status = 'queued'`
          : status === 'ended'
            ? sql`AND p.status NOT IN (${live}, 'queued')`
            : sql``;
    const rows = await db(c.env).all<Row>(sql`
      SELECT p.id, p.org_id, p.user_id, u.username_enc, u.username_digest, p.game_id, g.name AS game_name,
             p.node_id, n.name AS node_name, p.region, p.status, p.end_reason, p.created_at, p.updated_at, p.ended_at,
             p.mirror_repair, p.mirror_repaired_at
        FROM play_sessions p
        JOIN users u ON u.id = p.user_id
        JOIN games g ON g.id = p.game_id
        LEFT JOIN cluster_nodes n ON n.id = p.node_id
       WHERE p.org_id = ${org_id} ${filter}
       ORDER BY p.created_at DESC, p.id DESC
       LIMIT ${limit}`);
    const names = await usernamesOf(c.env, rows.map((r) => ({ id: r.user_id, usernameEnc: r.username_enc, usernameDigest: r.username_digest })));
    return c.json(
      rows.map(({ username_enc: _e, username_digest: _d, ...r }) => ({ ...r, username: names.get(r.user_id) ?? '' })),
      200,
    );
  },
).openapi(
  createRoute({
    method: 'get',
    path: '/orgs/{org_id}/queue',
    tags: ['play'],
    summary: 'The org’s play queue in order, from its allocator (org admins and platform admins)',
    middleware: [requireUser, requireOrgRole('admin')],
    request: { params: Params },
    responses: { 200: json(z.array(QueueEntryOut), 'Waiters, first in line first'), ...errors(400, 401, 403) },
  }),
  async (c) => {
    const { org_id } = c.req.valid('param');
    const entries = await allocatorOf(c.env, org_id).queueEntries(org_id);
    if (entries.length === 0) return c.json([], 200);
    const rows = await queueNames(c.env, entries.map((e) => e.userId), entries.map((e) => e.gameId));
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

/** Player and game names for the queue view: one batch, ≤ 90 ids per statement. */
async function queueNames(env: Env, userIds: number[], gameIds: number[]) {
  const d = db(env);
  const uniq = (xs: number[]) => [...new Set(xs)];
  const chunks = (xs: number[]) => Array.from({ length: Math.ceil(xs.length / 90) }, (_, i) => xs.slice(i * 90, i * 90 + 90));
  const u = chunks(uniq(userIds)).map((ids) =>
    d.select({ id: users.id, usernameEnc: users.usernameEnc, usernameDigest: users.usernameDigest }).from(users).where(inArray(users.id, ids)),
  );
  const g = chunks(uniq(gameIds)).map((ids) => d.select({ id: games.id, name: games.name }).from(games).where(inArray(games.id, ids)));
  const [first, ...rest] = [...u, ...g];
  const results = first ? await d.batch([first, ...rest]) : [];
  return {
    users: results.slice(0, u.length).flat() as Array<{ id: number; usernameEnc: string; usernameDigest: string }>,
    games: results.slice(u.length).flat() as Array<{ id: number; name: string }>,
  };
}
