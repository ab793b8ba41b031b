/**
 * Cloud play: `POST /sessions` (a seat on a node that has the game, chosen by the org's
 * OrgAllocator), `GET`/`DELETE /sessions/{id}`, `POST /play/{game_id}` (dev/local launch info from
 * the install record) and `GET /games/{game_id}/availability` (what `install_ready` means).
 *
 *   POST /sessions {"org_id":1,"user_id":7,"game_id":3,"region":"eu-west"}   (Idempotency-Key optional)
 *   → 201 SessionOut {"status":"provisioning","stream_url":"https://node.example/sessions/<id>?token=<jwt>",...}
 *
 * Refusals, in this order: caller acting for someone else without being an org admin (403),
 * target user not a member (403 `not_org_member`), unknown game (404), no verified library entry
 * (403 `not_owned`), user at the org's per-user limit (429 `session_limit`), not installed on any
 * online active node (409 `not_installed`, or `not_installed_in_region` with `strict_region`),
 * no free seat (429 `no_free_seat` + Retry-After; with `"queue": true` a 202 `queued` entry in the
 * org's line instead). A repeat of the same request (the launcher retries every non-2xx three
 * times) returns the same session with 200 instead of 201. A session is only handed out once its
 * D1 row exists (503 `session_pending` until then: the allocator's outbox is delivering it).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { sql } from 'drizzle-orm';
import type { AppEnv } from '../env';
import type { Candidate } from '../../durable-objects/org-allocator';
import { audit } from '../auth/audit';
import { assertOrgRole, orgRoleOf, requireUser } from '../auth/middleware';
import { db } from '../db/client';
import { ApiError, Conflict, Forbidden, NotFound, TooManyRequests } from '../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../http/openapi';
import { executionContextOf, recordMetric } from '../http/metrics/record';
import { installReady, nodeOnlineCutoff } from './availability';
import { allocatorOf, presentSession, sessionFromD1, SessionOutSchema } from './play-sessions';
import type { SessionRecord } from '../../durable-objects/org-allocator';

const Region = z.string().min(1).max(32).regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');

const CreateSessionBody = z
  .object({
    org_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    user_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    game_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    region: Region.optional().openapi({ description: 'Preferred region: tried first, then the org’s other regions' }),
    strict_region: z.boolean().optional().openapi({ description: 'Only the preferred region (409 not_installed_in_region otherwise)' }),
    queue: z.boolean().optional().openapi({
      description: 'Wait in the org’s FIFO queue when no seat is free: 202 with status queued, position and ETA (instead of 429 no_free_seat)',
    }),
  })
  .openapi('CreateSession');

const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .openapi({ description: 'Same key (per user) within 24 h returns the same session' }),
});

const SessionParams = z.object({ session_id: IntId.openapi({ param: { name: 'session_id', in: 'path' }, type: 'integer' }) });
const GameParams = z.object({ game_id: IntId.openapi({ param: { name: 'game_id', in: 'path' }, type: 'integer' }) });

const AvailabilityQuery = z.object({
  org_id: IntId.openapi({ param: { name: 'org_id', in: 'query' }, type: 'integer' }),
  region: Region.optional().openapi({ param: { name: 'region', in: 'query' } }),
});

const AvailabilityOut = z
  .object({
    game_id: z.number().int(),
    org_id: z.number().int(),
    region: z.string().nullable(),
    install_ready: z.boolean().openapi({ description: 'Installed on an active, online node of the org (in `region` when given)' }),
    install_ready_anywhere: z.boolean(),
    free_seats: z.number().int().openapi({ description: 'Free seats on ready nodes (in `region` when given); approximate, the allocator decides' }),
    regions: z.array(z.object({ region: z.string().nullable(), ready_nodes: z.number().int(), free_seats: z.number().int() })),
  })
  .openapi('Availability');

const PlayBody = z
  .object({
    org_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    node_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: 'This device’s node, when it runs an agent' }),
  })
  .openapi('PlayLocal');

const PlayOut = z
  .object({
    game_id: z.number().int(),
    org_id: z.number().int(),
    node_id: z.number().int(),
    node_online: z.boolean(),
    launcher: z.string().nullable(),
    install_path: z.string(),
    executable: z.string().nullable(),
    executable_path: z.string().nullable(),
    deep_link: z.string().nullable(),
    launch: z.object({ kind: z.enum(['deep_link', 'executable']), target: z.string() }),
  })
  .openapi('PlayLocalOut');

interface PlayContext {
  policy: 'spread' | 'pack';
  max_per_user: number;
  role: string | null;
  game_exists: number;
  owned: number;
}

/** Org policy, target membership, game existence and verified ownership: one query. */
async function playContext(env: Env, orgId: number, userId: number, gameId: number): Promise<PlayContext | null> {
  return (
    (await db(env).get<PlayContext>(sql`
      SELECT o.allocation_policy AS policy, o.max_sessions_per_user AS max_per_user,
             (SELECT role FROM memberships WHERE org_id = o.id AND user_id = ${userId}) AS role,
             EXISTS (SELECT 1 FROM games WHERE id = ${gameId}) AS game_exists,
             EXISTS (SELECT 1 FROM user_game_library WHERE org_id = o.id AND user_id = ${userId} AND game_id = ${gameId}
                       AND verified_at IS NOT NULL) AS owned
        FROM orgs o WHERE o.id = ${orgId}`)) ?? null
  );
}

/** The same checks for every way of playing: membership, game, verified ownership. */
function assertMayPlay(ctx: PlayContext | null): asserts ctx is PlayContext {
  if (!ctx || !ctx.role) throw new Forbidden('user not in organization', 'not_org_member');
  if (!ctx.game_exists) throw new NotFound('game not found', 'game_not_found');
  if (!ctx.owned) throw new Forbidden('game not owned by the user in this organization', 'not_owned');
}

/** Online, active nodes of the org with the game installed (what installReady() counts). */
async function candidates(env: Env, orgId: number, gameId: number): Promise<Candidate[]> {
  const rows = await db(env).all<{ id: number; region: string | null; capacity: number | null; stream_base_url: string | null; last_seen: string }>(sql`
    SELECT n.id, n.region, n.capacity, n.stream_base_url, n.last_seen
      FROM downloaded_games dg JOIN cluster_nodes n ON n.id = dg.node_id
     WHERE dg.org_id = ${orgId} AND dg.game_id = ${gameId} AND n.org_id = ${orgId} AND n.status = 'active'
       AND n.last_seen >= ${nodeOnlineCutoff(env)}`);
  // Same filter as installReady(): a capacity-0 node makes the game install ready but has no seat.
  return rows.map((r) => ({ nodeId: r.id, region: r.region, capacity: r.capacity ?? 0, streamBaseUrl: r.stream_base_url, lastSeen: r.last_seen }));
}

/** A session the caller may see: its owner, an admin of its org, or a platform admin. Others get
 * the same 404 as for a missing id, so ids cannot be probed. */
async function visibleSession(c: Context<AppEnv>, id: number): Promise<{ s: SessionRecord; owner: boolean }> {
  const s = await sessionFromD1(c.env, id);
  const user = c.get('user');
  if (!s) throw new NotFound('session not found', 'session_not_found');
  if (s.userId === user.id) return { s, owner: true };
  if (user.role === 'admin') return { s, owner: false };
  const role = await orgRoleOf(c.env, user.id, s.orgId);
  if (role === 'admin' || role === 'owner') return { s, owner: false };
  throw new NotFound('session not found', 'session_not_found');
}

export const playRouter = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/sessions',
      tags: ['play'],
      summary: 'Allocate a cloud play session on a node of the org that has the game',
      description:
        'The caller must be `user_id`, or an admin of the org acting for a member. The user must own the game in the org (verified library entry). A repeat within 60 s (or with the same Idempotency-Key within 24 h) returns the same session with 200.',
      security: [{ bearer: [] }],
      middleware: [requireUser],
      request: { body: jsonBody(CreateSessionBody), headers: IdempotencyHeaders },
      responses: {
        201: json(SessionOutSchema, 'Allocated (status provisioning)'),
        202: json(SessionOutSchema, 'Queued (with `queue: true` and no free seat): status queued, position, eta_seconds, poll_after_seconds, keepalive_seconds'),
        200: json(SessionOutSchema, 'The same request again: the session it created'),
        ...errors(400, 401, 403, 404, 409, 429, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const key = c.req.valid('header')['idempotency-key'] ?? null;
      const user = c.get('user');
      if (body.user_id !== user.id) await assertOrgRole(c, body.org_id, 'admin');
      // Independent reads, in parallel: the candidate list is only used once the checks pass.
      const [ctx, all] = await Promise.all([
        playContext(c.env, body.org_id, body.user_id, body.game_id),
        candidates(c.env, body.org_id, body.game_id),
      ]);
      assertMayPlay(ctx);
      const region = body.region ?? null;
      const pool = body.strict_region && region ? all.filter((n) => n.region === region) : all;
      const result = await allocatorOf(c.env, body.org_id).allocate({
        orgId: body.org_id,
        userId: body.user_id,
        gameId: body.game_id,
        region,
        policy: ctx.policy === 'pack' ? 'pack' : 'spread',
        maxPerUser: Math.max(1, ctx.max_per_user),
        candidates: pool,
        idempotencyKey: key,
        queue: body.queue ?? false,
        strictRegion: Boolean(body.strict_region && region),
      });
      const metric = (outcome: 'allocated' | 'queued' | 'refused', reason = '') =>
        recordMetric(c.env, executionContextOf(c), 'play.sessions', { outcome, reason }, { org: body.org_id });
      if (!result.ok) {
        metric('refused', result.reason);
        switch (result.reason) {
          case 'idempotency_conflict':
            throw new Conflict('Idempotency-Key already used for another request', 'idempotency_key_reused');
          case 'user_limit':
            throw new TooManyRequests('session limit reached for this user', result.retryAfterSeconds, 'session_limit');
          case 'not_installed':
            if (body.strict_region && all.length > 0) throw new Conflict('game not installed in region', 'not_installed_in_region');
            throw new Conflict('game not installed for organization', 'not_installed');
          case 'no_free_seat':
            throw new TooManyRequests('no free seat for this game right now', result.retryAfterSeconds, 'no_free_seat');
          case 'already_queued':
            throw new ApiError(409, 'already_queued', 'already waiting in the queue for another game; leave it first', { session_id: result.sessionId });
          case 'mirror_pending':
            // The seat is held for this request; repeating it (same body or Idempotency-Key) returns it.
            throw new ApiError(503, 'session_pending', 'session reserved but not yet recorded; repeat the request', undefined, {
              'Retry-After': String(result.retryAfterSeconds),
            });
        }
      }
      const out = await presentSession(c.env, result.session, user.id);
      if (!result.replayed) metric(out.status === 'queued' ? 'queued' : 'allocated');
      if (result.replayed) c.header('Idempotent-Replayed', 'true');
      if (out.status === 'queued') {
        c.header('Retry-After', String(out.poll_after_seconds));
        return c.json(out, 202);
      }
      return c.json(out, result.replayed ? 200 : 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/sessions/{session_id}',
      tags: ['play'],
      summary: 'A play session (owner, org admin); the owner looking at it renews its lease (or, while queued, its place in line)',
      security: [{ bearer: [] }],
      middleware: [requireUser],
      request: { params: SessionParams },
      responses: { 200: json(SessionOutSchema, 'The session, with a fresh stream URL while live'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { session_id } = c.req.valid('param');
      const { s, owner } = await visibleSession(c, session_id);
      const alloc = allocatorOf(c.env, s.orgId);
      let live: SessionRecord | null;
      if (!owner) live = await alloc.get(s.orgId, s.id);
      // A waiter's poll is its keep-alive, and brings the nodes that have its game now.
      else if (s.status === 'queued') live = await alloc.poll(s.orgId, s.id, await candidates(c.env, s.orgId, s.gameId));
      else live = await alloc.touch(s.orgId, s.id);
      live ??= s;
      return c.json(await presentSession(c.env, live, c.get('user').id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/sessions/{session_id}',
      tags: ['play'],
      summary: 'End a play session (owner, org admin): status terminated, the seat is freed',
      security: [{ bearer: [] }],
      middleware: [requireUser],
      request: { params: SessionParams },
      responses: { 200: json(SessionOutSchema, 'The session after termination (unchanged if it had already ended)'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { session_id } = c.req.valid('param');
      const { s, owner } = await visibleSession(c, session_id);
      const after = (await allocatorOf(c.env, s.orgId).terminate(s.orgId, s.id)) ?? s;
      await audit(c, 'play.session.terminate', { orgId: s.orgId, targetType: 'play_session', targetId: s.id, details: { by_owner: owner, status: after.status } });
      return c.json(await presentSession(c.env, after, c.get('user').id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/play/{game_id}',
      tags: ['play'],
      summary: 'Dev/local mode: how to launch the game on this device, from its install record',
      description:
        'Same checks as POST /sessions for the caller (member, verified owner). Picks the install on `node_id` when given, else the one on the most recently seen node. A Steam install answers with `steam://rungameid/{appid}`.',
      security: [{ bearer: [] }],
      middleware: [requireUser],
      request: { params: GameParams, body: jsonBody(PlayBody) },
      responses: { 200: json(PlayOut, 'Launch information'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { game_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const user = c.get('user');
      const ctx = await playContext(c.env, body.org_id, user.id, game_id);
      assertMayPlay(ctx);
      const nodeFilter = body.node_id === undefined ? sql`` : sql` AND n.id = ${body.node_id}`;
      const cutoff = nodeOnlineCutoff(c.env);
      const row = await db(c.env).get<{
        node_id: number; install_path: string; launcher: string | null; executable: string | null; online: number; steam_appid: string | null;
      }>(sql`
        SELECT dg.node_id, dg.install_path, dg.launcher, dg.executable,
               (n.status = 'active' AND n.last_seen >= ${cutoff}) AS online,
               (SELECT external_id FROM game_external_ids WHERE game_id = dg.game_id AND platform = 'steam') AS steam_appid
          FROM downloaded_games dg JOIN cluster_nodes n ON n.id = dg.node_id
         WHERE dg.org_id = ${body.org_id} AND dg.game_id = ${game_id}${nodeFilter}
         ORDER BY online DESC, n.last_seen DESC, n.id LIMIT 1`);
      if (!row) throw new Conflict(body.node_id === undefined ? 'game not installed for organization' : 'game not installed on this node', 'not_installed');
      const sep = row.install_path.includes('\\') && !row.install_path.includes('/') ? '\\' : '/';
      const executablePath = row.executable
        ? /^([A-Za-z]:[\\/]|\/)/.test(row.executable)
          ? row.executable
          : `${row.install_path.replace(/[\\/]+$/, '')}${sep}${row.executable}`
        : null;
      const deepLink = row.launcher?.toLowerCase() === 'steam' && row.steam_appid && /^[0-9]+$/.test(row.steam_appid) ? `steam://rungameid/${row.steam_appid}` : null;
      const launch = deepLink
        ? { kind: 'deep_link' as const, target: deepLink }
        : { kind: 'executable' as const, target: executablePath ?? row.install_path };
      return c.json(
        {
          game_id,
          org_id: body.org_id,
          node_id: row.node_id,
          node_online: Boolean(row.online),
          launcher: row.launcher,
          install_path: row.install_path,
          executable: row.executable,
          executable_path: executablePath,
          deep_link: deepLink,
          launch,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/games/{game_id}/availability',
      tags: ['play'],
      summary: 'Is there a ready installation of the game for my org (and region)? Members of the org only',
      security: [{ bearer: [] }],
      middleware: [requireUser],
      request: { params: GameParams, query: AvailabilityQuery },
      responses: { 200: json(AvailabilityOut, 'Availability'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { game_id } = c.req.valid('param');
      const { org_id, region } = c.req.valid('query');
      await assertOrgRole(c, org_id, 'member');
      const d = db(c.env);
      const cutoff = nodeOnlineCutoff(c.env);
      const [head, nodes] = await Promise.all([
        d.get<{ game_exists: number; ready: number; ready_anywhere: number }>(sql`
          SELECT EXISTS (SELECT 1 FROM games WHERE id = ${game_id}) AS game_exists,
                 ${installReady(c.env, org_id, sql`${game_id}`, region ?? null)} AS ready,
                 ${installReady(c.env, org_id, sql`${game_id}`)} AS ready_anywhere`),
        d.all<{ region: string | null; capacity: number; live: number }>(sql`
          SELECT n.region, COALESCE(n.capacity, 0) AS capacity,
                 (SELECT COUNT(*) FROM play_sessions s WHERE s.node_id = n.id AND s.status IN ('provisioning', 'active')) AS live
            FROM downloaded_games dg JOIN cluster_nodes n ON n.id = dg.node_id
           WHERE dg.org_id = ${org_id} AND dg.game_id = ${game_id} AND n.status = 'active' AND n.last_seen >= ${cutoff}`),
      ]);
      if (!head?.game_exists) throw new NotFound('game not found', 'game_not_found');
      const byRegion = new Map<string | null, { region: string | null; ready_nodes: number; free_seats: number }>();
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
          install_ready: Boolean(head.ready),
          install_ready_anywhere: Boolean(head.ready_anywhere),
          free_seats: inScope.reduce((sum, r) => sum + r.free_seats, 0),
          regions,
        },
        200,
      );
    },
  );
