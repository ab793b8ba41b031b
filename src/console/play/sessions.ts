/**
 * Cloud play sessions (`/sessions`): `POST /` takes a seat on a node that has the game, chosen by
 * the org's OrgAllocator; `GET`/`DELETE /{session_id}` show and end one. Mounted at `/sessions`.
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
 * times) returns the same play session with 200 instead of 201. The allocator answers before D1
 * has the session's row (its mirror is written just after); `GET`/`DELETE /{session_id}` ask the
 * allocator on a D1 miss, so the owner can always read the session it was just given.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv, AuthUser } from '../../env';
import { audit } from '../../auth/audit';
import { callerCheck, orgRoleVerdict, requireCallerDeferred, requireUser } from '../../auth/middleware';
import { membershipRole, membershipRoleQuery } from '../../auth/queries/users';
import { db } from '../../db/client';
import { ApiError, Conflict, Forbidden, NotFound, TooManyRequests } from '../../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../../http/openapi';
import { executionContextOf, recordMetric } from '../../http/metrics/record';
import { nodeOnlineCutoff, Region } from '../nodes/model';
import { allocatorOf, isLive, PLAY_SESSION_STATUSES, playSessionIdTag, type PlayResult, type PlaySessionRecord } from './model';
import { callerOrgsByTagQuery, playSessionByIdQuery, readyNodes, toPlaySessionRecord } from './queries';
import { assertMayPlay, BEARER, OrgId, PLAY_TAGS } from './rules';
import { streamUrlFor } from './stream-tokens';

const CreatePlaySessionBody = z
  .object({
    org_id: OrgId,
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
    .openapi({ description: 'Same key (per user) within 24 h returns the same play session' }),
});

const PlaySessionParams = z.object({ session_id: IntId.openapi({ param: { name: 'session_id', in: 'path' }, type: 'integer' }) });

export const PlaySessionOutSchema = z
  .object({
    id: z.number().int().openapi({ description: 'Random 53-bit integer' }),
    org_id: z.number().int(),
    user_id: z.number().int(),
    game_id: z.number().int(),
    status: z.enum(PLAY_SESSION_STATUSES),
    stream_url: z.string().nullable().openapi({
      description: 'Node stream base + /sessions/{id}?token=<ES256 JWT>, for the session’s player only (null for anyone else, and once the session ended). The token is short-lived: GET the session for a fresh URL.',
    }),
    created_at: z.string(),
    updated_at: z.string(),
    node_id: z.number().int().nullable(),
    region: z.string().nullable(),
    end_reason: z.string().nullable(),
    stream_token_expires_at: z.string().nullable(),
    position: z.number().int().nullable().openapi({ description: 'While queued: place in the org’s queue, 1 = next; else null' }),
    eta_seconds: z.number().int().nullable().openapi({ description: 'While queued: a rough estimate of the wait; else null' }),
    poll_after_seconds: z.number().int().nullable().openapi({ description: 'While queued: poll GET /sessions/{id} this often' }),
    keepalive_seconds: z.number().int().nullable().openapi({ description: 'While queued: not polling for this long leaves the queue' }),
  })
  .openapi('SessionOut');
type PlaySessionOut = z.infer<typeof PlaySessionOutSchema>;

/**
 * The API view of a play session for `viewerId`. The stream URL is a bearer capability for the
 * player alone: anyone else who may see the play session (an org admin, a platform admin, an admin
 * who started it on the player's behalf) gets `stream_url: null`, never a freshly signed token.
 */
async function presentPlaySession(env: Pick<Env, 'SESSION_SIGNING_KEY' | 'JWT_ISSUER'>, s: PlaySessionRecord, viewerId: number): Promise<PlaySessionOut> {
  const stream =
    isLive(s.status) && viewerId === s.userId && s.nodeId !== null && s.streamBaseUrl
      ? await streamUrlFor(env, { playSessionId: s.id, nodeId: s.nodeId, orgId: s.orgId, userId: s.userId, gameId: s.gameId, streamBaseUrl: s.streamBaseUrl })
      : null;
  return {
    id: s.id,
    org_id: s.orgId,
    user_id: s.userId,
    game_id: s.gameId,
    status: s.status,
    stream_url: stream?.url ?? null,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    node_id: s.nodeId,
    region: s.region,
    end_reason: s.endReason,
    stream_token_expires_at: stream?.expiresAt ?? null,
    position: s.queue?.position ?? null,
    eta_seconds: s.queue?.etaSeconds ?? null,
    poll_after_seconds: s.queue?.pollAfterSeconds ?? null,
    keepalive_seconds: s.queue?.keepaliveSeconds ?? null,
  };
}

/**
 * A play session the caller may see: its owner, an admin of its org, or a platform admin. Others
 * get the same 404 as for a missing id, so ids cannot be probed.
 *
 * D1 is the allocator's mirror and may lag it by a few ms (the allocator answers `POST /sessions`
 * before its D1 write), so on a D1 miss the allocators of the caller's orgs whose tag the id carries
 * (usually one) are asked: one extra Durable Object call, on the miss path only. The caller's
 * memberships for that lookup ride in the same D1 batch as the row, so a hit costs no extra trip.
 */
async function visiblePlaySession(c: Context<AppEnv>, id: number): Promise<{ playSession: PlaySessionRecord; owner: boolean }> {
  const user = c.get('user');
  const d = db(c.env);
  const [rows, mine] = await d.batch([playSessionByIdQuery(d, id), callerOrgsByTagQuery(d, user.id, playSessionIdTag(id))]);
  let playSession = toPlaySessionRecord(rows);
  if (!playSession && mine.length > 0) {
    const held = await Promise.all(mine.map((m) => allocatorOf(c.env, m.orgId).get(m.orgId, id)));
    playSession = held.find((s) => s !== null) ?? null;
  }
  if (!playSession) throw new NotFound('session not found', 'session_not_found');
  if (playSession.userId === user.id) return { playSession, owner: true };
  if (user.role === 'admin') return { playSession, owner: false };
  const orgId = playSession.orgId;
  const role = mine.find((m) => m.orgId === orgId)?.role ?? (await membershipRole(d, user.id, orgId));
  if (role === 'admin' || role === 'owner') return { playSession, owner: false };
  throw new NotFound('session not found', 'session_not_found');
}

/** The allocator's refusal as the API error the launcher knows. */
function refusal(result: Exclude<Extract<PlayResult, { ok: false }>, { reason: 'refused' }>, strictRegionMissed: boolean): ApiError {
  switch (result.reason) {
    case 'idempotency_conflict':
      return new Conflict('Idempotency-Key already used for another request', 'idempotency_key_reused');
    case 'user_limit':
      return new TooManyRequests('session limit reached for this user', result.retryAfterSeconds, 'session_limit');
    case 'not_installed':
      if (strictRegionMissed) return new Conflict('game not installed in region', 'not_installed_in_region');
      return new Conflict('game not installed for organization', 'not_installed');
    case 'no_free_seat':
      return new TooManyRequests('no free seat for this game right now', result.retryAfterSeconds, 'no_free_seat');
    case 'already_queued':
      return new ApiError(409, 'already_queued', 'already waiting in the queue for another game; leave it first', { session_id: result.playSessionId });
  }
}

/** GET and DELETE address one play session the same way. */
const onePlaySession = {
  path: '/{session_id}',
  tags: PLAY_TAGS,
  security: BEARER,
  middleware: [requireUser],
  request: { params: PlaySessionParams },
};

export const playSessionRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'createPlaySession',
      tags: PLAY_TAGS,
      summary: 'Allocate a cloud play session on a node of the org that has the game',
      description:
        'The caller must be `user_id`, or an admin of the org acting for a member. The user must own the game in the org (verified library entry). A repeat within 60 s (or with the same Idempotency-Key within 24 h) returns the same play session with 200.',
      security: BEARER,
      middleware: [requireCallerDeferred],
      request: { body: jsonBody(CreatePlaySessionBody), headers: IdempotencyHeaders },
      responses: {
        201: json(PlaySessionOutSchema, 'Allocated (status provisioning)'),
        202: json(PlaySessionOutSchema, 'Queued (with `queue: true` and no free seat): status queued, position, eta_seconds, poll_after_seconds, keepalive_seconds'),
        200: json(PlaySessionOutSchema, 'The same request again: the play session it created'),
        ...errors(400, 401, 403, 404, 409, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const key = c.req.valid('header')['idempotency-key'] ?? null;
      const d = db(c.env);
      // Two storage round trips in all (issue 17): the caller check in D1 (strongly consistent: the
      // refresh session is live, and an admin acting for someone still is one), then the allocator,
      // which holds the target's membership, entitlement and node facts (facts.ts).
      // The refusals keep their order: the caller (401), acting for another (403), then the target.
      const caller = callerCheck(c, d);
      let user: AuthUser;
      if (body.user_id === caller.userId) user = caller.confirm(await caller.query);
      else {
        const [callerRows, callerRole] = await d.batch([caller.query, membershipRoleQuery(d, caller.userId, body.org_id)]);
        user = caller.confirm(callerRows);
        orgRoleVerdict(user, callerRole[0]?.role ?? null, 'admin');
      }
      const region = body.region ?? null;
      const result = await allocatorOf(c.env, body.org_id).request({
        orgId: body.org_id,
        userId: body.user_id,
        gameId: body.game_id,
        region,
        strictRegion: Boolean(body.strict_region && region),
        idempotencyKey: key,
        queue: body.queue ?? false,
      });
      const metric = (outcome: 'allocated' | 'queued' | 'refused', reason = '') =>
        recordMetric(c.env, executionContextOf(c), 'play.sessions', { outcome, reason }, { org: body.org_id });
      if (!result.ok) {
        if (result.reason === 'refused') {
          // The same checks and errors as ever, on the facts the allocator decided from.
          assertMayPlay(result.ctx);
          throw new Forbidden('user not in organization', 'not_org_member');
        }
        metric('refused', result.reason);
        throw refusal(result, Boolean(body.strict_region) && result.installedElsewhere === true);
      }
      const out = await presentPlaySession(c.env, result.playSession, user.id);
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
      ...onePlaySession,
      method: 'get',
      operationId: 'getPlaySession',
      summary: 'A play session (owner, org admin); the owner looking at it renews its lease (or, while queued, its place in line)',
      responses: { 200: json(PlaySessionOutSchema, 'The play session, with a fresh stream URL while live'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { session_id } = c.req.valid('param');
      const { playSession: s, owner } = await visiblePlaySession(c, session_id);
      const alloc = allocatorOf(c.env, s.orgId);
      let live: PlaySessionRecord | null;
      if (!owner) live = await alloc.get(s.orgId, s.id);
      // A waiter's poll is its keep-alive, and brings the nodes that have its game now.
      else if (s.status === 'queued') live = await alloc.poll(s.orgId, s.id, await readyNodes(db(c.env), s.orgId, s.gameId, nodeOnlineCutoff(c.env)));
      else live = await alloc.touch(s.orgId, s.id);
      return c.json(await presentPlaySession(c.env, live ?? s, c.get('user').id), 200);
    },
  )
  .openapi(
    createRoute({
      ...onePlaySession,
      method: 'delete',
      operationId: 'endPlaySession',
      summary: 'End a play session (owner, org admin): status terminated, the seat is freed',
      responses: { 200: json(PlaySessionOutSchema, 'The play session after termination (unchanged if it had already ended)'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { session_id } = c.req.valid('param');
      const { playSession: s, owner } = await visiblePlaySession(c, session_id);
      const after = (await allocatorOf(c.env, s.orgId).terminate(s.orgId, s.id)) ?? s;
      await audit(c, 'play.session.terminate', { orgId: s.orgId, targetType: 'play_session', targetId: s.id, details: { by_owner: owner, status: after.status } });
      return c.json(await presentPlaySession(c.env, after, c.get('user').id), 200);
    },
  );
