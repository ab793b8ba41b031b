/**
 * The node-agent protocol (`nodeAgentRoutes`, mounted at `/nodes`), authenticated with the node's
 * own token (see auth.ts; the `nodeToken` security scheme), except enrolment, which exchanges a
 * one-time code for that token.
 *
 *   POST /nodes/heartbeat (Authorization: Bearer epn_...)
 *        {"status":"ready","installs":[{"game_id":3,"install_path":"/games/retro","launcher":"retro",
 *          "executable":"retro-launcher","proof":{"path":"/games/retro/retro-launcher","sha256":"…","size":1234,"mtime":"…"}}],
 *         "sessions":[{"id":123,"status":"active"}]}
 *   → 200 {"sessions":[...assigned live play sessions...],"heartbeat_interval_seconds":10,...}
 *
 * A heartbeat replaces the node's install set in one D1 batch (upsert what is reported, delete what
 * is not) and keeps `last_seen`; nodes silent for NODE_OFFLINE_AFTER_SECONDS are offline: no new
 * play sessions, and the OrgAllocator fails their live ones. After an admin asked for a rollover
 * the reply carries the new token once (`node_token`). Assignments carry a signed `stream_token`
 * the agent verifies against the JWKS before launching.
 */
import { createRoute } from '@hono/zod-openapi';
import { audit } from '../../auth/audit';
import { db } from '../../db/client';
import { clientIp } from '../../http/middleware';
import { Forbidden, NotFound, TooManyRequests, Unauthorized } from '../../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../../http/openapi';
import { executionContextOf, recordMetric } from '../../http/metrics/record';
import { nowIso } from '../../world';
import { allocatorOf, playSessionCore, type PlaySessionRecord } from '../play/model';
import { PLAY_SESSION_TOKEN_AUDIENCE, PLAY_SESSION_TOKEN_TYP, signPlaySessionToken } from '../play/stream-tokens';
import { currentNode, ENROLMENT_CODE_SHAPE, enrolmentCodeHash, newNodeToken, normaliseEnrolmentCode, requireNode, rolledTokenFor, type AuthNode } from './auth';
import { heartbeatIntervalSeconds } from './model';
import { gamesByExternalIds, knownGameIds, recordHeartbeat, redeemEnrolmentCode } from './queries';

const Proof = z
  .object({
    path: z.string().min(1).max(1024),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256'),
    size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    mtime: z.union([z.string().min(1).max(40), z.number().nonnegative()]),
  })
  .strict();
const Install = z
  .object({
    game_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    install_path: z.string().min(1).max(1024),
    launcher: z.string().max(64).nullish(),
    executable: z.string().max(1024).nullish(),
    proof: Proof,
  })
  .strict();
const ReportStatus = z.enum(['provisioning', 'active', 'ended', 'failed']);
const PlaySessionReport = z.object({
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  status: ReportStatus,
  reason: z.string().max(200).nullish(),
});

/** The heartbeat body: what the node has installed and what its play sessions are doing. */
const HeartbeatBody = z
  .object({
    org_id: z.number().int().positive().optional().openapi({ description: 'If sent, must be the node’s org (403 otherwise)' }),
    node_id: z.number().int().positive().optional().openapi({ description: 'If sent, must be the token’s node (403 otherwise)' }),
    status: z.string().max(32).optional().openapi({ description: 'Free-form agent status, shown to admins' }),
    installs: z.array(Install).max(500),
    sessions: z.array(PlaySessionReport).max(1024).optional(),
  })
  .openapi('NodeHeartbeat');

const Assignment = z
  .object({
    id: z.number().int(),
    org_id: z.number().int(),
    user_id: z.number().int(),
    game_id: z.number().int(),
    status: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    stream_token: z.string().openapi({ description: 'The play session’s signed token (ES256, JWKS): verify it before launching' }),
    stream_token_expires_at: z.string(),
  })
  .openapi('NodeAssignment');

const HeartbeatOut = z
  .object({
    node_id: z.number().int(),
    org_id: z.number().int(),
    status: z.string(),
    server_time: z.string(),
    heartbeat_interval_seconds: z.number().int(),
    installs: z.number().int(),
    unknown_game_ids: z.array(z.number().int()),
    sessions: z.array(Assignment).openapi({ description: 'Live play sessions assigned to this node: run these, stop any other' }),
    results: z.array(z.object({ id: z.number().int(), status: z.string() })),
    node_token: z
      .string()
      .optional()
      .openapi({ description: 'Present once after an admin asked for a token rollover: store it and use it from now on' }),
  })
  .openapi('NodeHeartbeatReply');

const EnrolBody = z
  .object({
    code: z.string().min(1).max(32),
    org_id: z.number().int().positive().optional().openapi({ description: 'If sent, the code must belong to this org (403 otherwise)' }),
  })
  .strict()
  .openapi('NodeEnrol');
const EnrolOut = z
  .object({
    node_id: z.number().int(),
    org_id: z.number().int(),
    node_name: z.string(),
    token: z.string().openapi({ description: 'The node token: store it where only the agent’s service user can read it' }),
    session_token_issuer: z.string(),
    session_token_audience: z.string(),
    session_token_typ: z.string(),
    jwks_url: z.string(),
  })
  .openapi('NodeEnrolled');
const ExternalRef = z.object({
  platform: z.string().min(1).max(32).regex(/^[a-z0-9_-]+$/),
  external_id: z.string().min(1).max(200),
});
const ResolveBody = z.object({ ids: z.array(ExternalRef).max(2000) }).strict().openapi('NodeCatalogResolve');
const ResolveOut = z
  .object({ games: z.array(ExternalRef.extend({ game_id: z.number().int() })) })
  .openapi('NodeCatalogResolved');

const StatusBody = z.object({ status: ReportStatus, reason: z.string().max(200).nullish() }).openapi('NodeSessionStatus');
const PlaySessionIdParams = z.object({ session_id: IntId.openapi({ param: { name: 'session_id', in: 'path' }, type: 'integer' }) });

/** What the node runs: the play session plus a token it verifies offline before launching anything. */
async function assignment(env: Env, nodeId: number, s: PlaySessionRecord) {
  const { token, expiresAt } = await signPlaySessionToken(env, { playSessionId: s.id, nodeId, orgId: s.orgId, userId: s.userId, gameId: s.gameId });
  return { ...playSessionCore(s), stream_token: token, stream_token_expires_at: expiresAt };
}

/** A node speaks only for itself and its own org. */
function assertSameNode(node: AuthNode, body: { org_id?: number | undefined; node_id?: number | undefined }): void {
  if (body.org_id !== undefined && body.org_id !== node.orgId) throw new Forbidden('node token belongs to another organization', 'node_org_mismatch');
  if (body.node_id !== undefined && body.node_id !== node.id) throw new Forbidden('node token belongs to another node', 'node_mismatch');
}

const TAGS = ['node agent'];
/** Routes the agent calls with its node token. */
const asNode = { tags: TAGS, security: [{ nodeToken: [] }], middleware: [requireNode] };

const agentRouter = newRouter();
agentRouter.openAPIRegistry.registerComponent('securitySchemes', 'nodeToken', {
  type: 'http',
  scheme: 'bearer',
  description: 'The node token (`epn_…`), from enrolment or registration; never a user’s access token',
});

export const nodeAgentRoutes = agentRouter
  .openapi(
    createRoute({
      method: 'post',
      path: '/enrol',
      operationId: 'enrolNode',
      tags: TAGS,
      summary: 'Exchange a one-time enrolment code for the node token (no other credential)',
      description:
        'Single use and expiring; a used, expired or unknown code is the same 401. Redeeming replaces any token the node had. Throttled per client address.',
      security: [],
      request: { body: jsonBody(EnrolBody) },
      responses: { 201: json(EnrolOut, 'Enrolled'), ...errors(400, 401, 403, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { success } = await c.env.LOGIN_IP_LIMITER.limit({ key: `enrol:${clientIp(c.req.raw)}` });
      if (!success) throw new TooManyRequests('too many enrolment attempts from this address', 60);
      const invalid = () => new Unauthorized('enrolment code unknown, used or expired', 'invalid_enrolment_code');
      if (!ENROLMENT_CODE_SHAPE.test(normaliseEnrolmentCode(body.code))) throw invalid();
      const { token, hash } = await newNodeToken();
      const r = await redeemEnrolmentCode(db(c.env), { codeHash: await enrolmentCodeHash(body.code), tokenHash: hash, now: nowIso(), orgId: body.org_id });
      if (!r.ok) {
        if (r.reason === 'wrong_org') throw new Forbidden('enrolment code belongs to another organization', 'node_org_mismatch');
        throw invalid();
      }
      await audit(c, 'node.enrol', { actorUserId: null, orgId: r.orgId, targetType: 'cluster_node', targetId: r.nodeId });
      return c.json(
        {
          node_id: r.nodeId,
          org_id: r.orgId,
          node_name: r.name,
          token,
          session_token_issuer: c.env.JWT_ISSUER,
          session_token_audience: PLAY_SESSION_TOKEN_AUDIENCE,
          session_token_typ: PLAY_SESSION_TOKEN_TYP,
          jwks_url: `${new URL(c.req.url).origin}/.well-known/jwks.json`,
        },
        201,
      );
    },
  )
  .openapi(
    createRoute({
      ...asNode,
      method: 'post',
      path: '/catalog/resolve',
      operationId: 'resolveNodeCatalogIds',
      summary: 'Catalog game ids for store ids the agent discovered (Steam appid, Epic CatalogItemId or AppName, GOG gameId) (node token)',
      description: 'Only matches are returned; nothing is created.',
      request: { body: jsonBody(ResolveBody) },
      responses: { 200: json(ResolveOut, 'Matches'), ...errors(400, 401) },
    }),
    async (c) => {
      const refs = c.req.valid('json').ids.map((r) => ({ platform: r.platform, externalId: r.external_id }));
      const found = await gamesByExternalIds(db(c.env), refs);
      return c.json({ games: found.map((g) => ({ platform: g.platform, external_id: g.externalId, game_id: g.gameId })) }, 200);
    },
  )
  .openapi(
    createRoute({
      ...asNode,
      method: 'post',
      path: '/heartbeat',
      operationId: 'sendNodeHeartbeat',
      summary: 'Node agent heartbeat: liveness, the full install set, play-session reports; answers with assignments',
      description:
        'Authorization: Bearer <node token>. `installs` is the complete set: games not listed are removed from the node. Unknown game ids are ignored and listed in `unknown_game_ids`.',
      request: { body: jsonBody(HeartbeatBody) },
      responses: { 200: json(HeartbeatOut, 'Accepted'), ...errors(400, 401, 403, 413) },
    }),
    async (c) => {
      const node = currentNode(c);
      const body = c.req.valid('json');
      assertSameNode(node, body);
      const now = nowIso();
      const d = db(c.env);
      // The last report of a game wins when an agent lists it twice.
      const installs = [...new Map(body.installs.map((i) => [i.game_id, i])).values()].map((i) => ({
        game_id: i.game_id,
        install_path: i.install_path,
        launcher: i.launcher ?? null,
        executable: i.executable ?? null,
        proof: i.proof,
      }));
      const known = await knownGameIds(d, installs.map((i) => i.game_id));
      await recordHeartbeat(d, node, body.status ?? null, installs, now);
      const reports = (body.sessions ?? []).map((s) => ({ id: s.id, status: s.status, reason: s.reason ?? null }));
      // With the install set, so the allocator's cached candidates follow it (play/facts.ts).
      const hb = await allocatorOf(c.env, node.orgId).nodeHeartbeat(node.orgId, node.id, reports, { gameIds: node.status === 'active' ? [...known] : null });
      recordMetric(c.env, executionContextOf(c), 'nodes.heartbeats', { node: node.id }, { org: node.orgId });
      const rotated = await rolledTokenFor(d, node);
      return c.json(
        {
          node_id: node.id,
          org_id: node.orgId,
          status: node.status,
          server_time: now,
          heartbeat_interval_seconds: heartbeatIntervalSeconds(c.env),
          installs: known.size,
          unknown_game_ids: installs.map((i) => i.game_id).filter((id) => !known.has(id)),
          sessions: await Promise.all(hb.assignments.map((s) => assignment(c.env, node.id, s))),
          results: hb.results,
          ...(rotated ? { node_token: rotated } : {}),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      ...asNode,
      method: 'get',
      path: '/sessions',
      operationId: 'listNodeAssignments',
      summary: 'The live play sessions assigned to the calling node (node token)',
      responses: { 200: json(z.object({ node_id: z.number().int(), sessions: z.array(Assignment) }), 'Assignments'), ...errors(401) },
    }),
    async (c) => {
      const node = currentNode(c);
      const playSessions = await allocatorOf(c.env, node.orgId).nodeAssignments(node.orgId, node.id);
      return c.json({ node_id: node.id, sessions: await Promise.all(playSessions.map((s) => assignment(c.env, node.id, s))) }, 200);
    },
  )
  .openapi(
    createRoute({
      ...asNode,
      method: 'post',
      path: '/sessions/{session_id}/status',
      operationId: 'reportNodePlaySessionStatus',
      summary: 'The node reports a play session: provisioning (ack), active, ended or failed (node token)',
      request: { params: PlaySessionIdParams, body: jsonBody(StatusBody) },
      responses: { 200: json(z.object({ id: z.number().int(), status: z.string() }), 'Status after the report'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const node = currentNode(c);
      const { session_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const hb = await allocatorOf(c.env, node.orgId).nodeHeartbeat(node.orgId, node.id, [{ id: session_id, status: body.status, reason: body.reason ?? null }]);
      const result = hb.results[0];
      if (!result || result.status === 'unknown') throw new NotFound('session not found on this node', 'session_not_found');
      return c.json({ id: session_id, status: result.status }, 200);
    },
  );
