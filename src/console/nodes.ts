/**
 * Cluster nodes: registration and management by org admins (`/orgs/{org_id}/nodes...`), and the
 * node-agent API (`/nodes/...`, authenticated with the node's own token, see node-auth.ts).
 *
 *   POST /orgs/1/nodes {"name":"rack-a-01","region":"eu-west","capacity":4,"stream_base_url":"https://a01.example"}
 *   → 201 {"node":{...},"token":"epn_..."}        (the only time the token is shown)
 *   POST /nodes/heartbeat (Authorization: Bearer epn_...)
 *        {"status":"ready","installs":[{"game_id":3,"install_path":"/games/retro","launcher":"retro",
 *          "executable":"retro-launcher","proof":{"path":"/games/retro/retro-launcher","sha256":"…","size":1234,"mtime":"…"}}],
 *         "sessions":[{"id":123,"status":"active"}]}
 *   → 200 {"sessions":[...assigned live sessions...],"heartbeat_interval_seconds":10,...}
 *
 * Enrolment (issue 15): an admin asks for a one-time code (`POST /orgs/{org_id}/nodes/{node_id}/enrolment-code`),
 * the agent exchanges it (`POST /nodes/enrol`) for the node token; `.../token/rollover` makes the
 * agent's next heartbeat reply carry a new token (`node_token`), so no secret is ever pasted.
 * Assignments carry a signed `stream_token` the agent verifies against the JWKS before launching.
 *
 * A heartbeat replaces the node's install set in one D1 batch (upsert what is reported, delete what
 * is not) and keeps `last_seen`; nodes silent for NODE_OFFLINE_AFTER_SECONDS are offline: no new
 * sessions, and the OrgAllocator fails their live sessions. `status` is the admin's intent
 * (`active` | `draining`): a draining node keeps its sessions but gets no new ones.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { sql } from 'drizzle-orm';
import type { AppEnv } from '../env';
import { audit } from '../auth/audit';
import { requireOrgRole, requireUser } from '../auth/middleware';
import { db } from '../db/client';
import { Conflict, Forbidden, NotFound } from '../http/errors';
import { executionContextOf, recordMetric } from '../http/metrics/record';
import { errors, IntId, json, jsonBody, newRouter, z } from '../http/openapi';
import { nowIso } from '../world';
import { nodeOnlineCutoff } from './availability';
import {
  currentNode,
  ENROLMENT_CODE_SHAPE,
  ENROLMENT_CODE_TTL_SECONDS,
  enrolmentCodeHash,
  newEnrolmentCode,
  newNodeToken,
  normaliseEnrolmentCode,
  requireNode,
  rolledTokenFor,
  type AuthNode,
} from './node-auth';
import { gamesByExternalIds, issueEnrolmentCode, redeemEnrolmentCode, requestTokenRollover } from './node-queries';
import { SESSION_TOKEN_AUDIENCE, SESSION_TOKEN_TYP, signSessionToken } from './session-tokens';
import { clientIp } from '../http/middleware';
import { TooManyRequests, Unauthorized } from '../http/errors';
import { world } from '../world';
import { isUniqueViolation } from '../db/errors';
import { allocatorOf } from './play-sessions';
import type { SessionRecord } from '../../durable-objects/org-allocator';

// ─────────────── schemas ───────────────

const NodeName = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore');
const Region = z.string().min(1).max(32).regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');
const Capacity = z.number().int().min(0).max(1024);
const StreamBase = z
  .string()
  .max(512)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL')
  .refine((u) => !/[?#]/.test(u), 'must not carry a query or fragment');
const AdminStatus = z.enum(['active', 'draining']);

const CreateNodeBody = z
  .object({ name: NodeName, region: Region, capacity: Capacity, stream_base_url: StreamBase })
  .strict()
  .openapi('CreateNode');
const UpdateNodeBody = z
  .object({ name: NodeName, region: Region, capacity: Capacity, stream_base_url: StreamBase, status: AdminStatus })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'nothing to update')
  .openapi('UpdateNode');

const NodeInstall = z
  .object({
    game_id: z.number().int(),
    game_name: z.string(),
    install_path: z.string(),
    launcher: z.string().nullable(),
    executable: z.string().nullable(),
    proof: z.record(z.string(), z.unknown()).nullable(),
    last_seen: z.string().nullable(),
  })
  .openapi('NodeInstall');

const NodeOut = z
  .object({
    id: z.number().int(),
    org_id: z.number().int(),
    name: z.string(),
    region: z.string().nullable(),
    capacity: z.number().int(),
    status: z.string().openapi({ description: 'Admin intent: active | draining' }),
    online: z.boolean().openapi({ description: 'Heartbeat within NODE_OFFLINE_AFTER_SECONDS' }),
    last_seen: z.string().nullable(),
    agent_status: z.string().nullable(),
    stream_base_url: z.string().nullable(),
    has_token: z.boolean(),
    token_rollover_pending: z.boolean().openapi({ description: 'A token rollover waits for the agent’s next heartbeat' }),
    live_sessions: z.number().int(),
    installs: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('ClusterNode');
type NodeOutT = z.infer<typeof NodeOut>;

const NodeWithToken = z
  .object({ node: NodeOut, token: z.string().openapi({ description: 'Shown once; store it in the node agent' }) })
  .openapi('ClusterNodeWithToken');

const OrgParams = z.object({ org_id: IntId.openapi({ param: { name: 'org_id', in: 'path' }, type: 'integer' }) });
const NodeParams = OrgParams.extend({ node_id: IntId.openapi({ param: { name: 'node_id', in: 'path' }, type: 'integer' }) });

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
const SessionReport = z.object({
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  status: ReportStatus,
  reason: z.string().max(200).nullish(),
});

/** The heartbeat body: what the node has installed and what its sessions are doing. */
const HeartbeatBody = z
  .object({
    org_id: z.number().int().positive().optional().openapi({ description: 'If sent, must be the node’s org (403 otherwise)' }),
    node_id: z.number().int().positive().optional().openapi({ description: 'If sent, must be the token’s node (403 otherwise)' }),
    status: z.string().max(32).optional().openapi({ description: 'Free-form agent status, shown to admins' }),
    installs: z.array(Install).max(500),
    sessions: z.array(SessionReport).max(1024).optional(),
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
    stream_token: z.string().openapi({ description: 'The session’s signed token (ES256, JWKS): verify it before launching' }),
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
    sessions: z.array(Assignment).openapi({ description: 'Live sessions assigned to this node: run these, stop any other' }),
    results: z.array(z.object({ id: z.number().int(), status: z.string() })),
    node_token: z
      .string()
      .optional()
      .openapi({ description: 'Present once after an admin asked for a token rollover: store it and use it from now on' }),
  })
  .openapi('NodeHeartbeatReply');

const EnrolmentCodeOut = z
  .object({
    node_id: z.number().int(),
    code: z.string().openapi({ example: 'K7QF-2M9X' }),
    expires_at: z.string(),
    command: z.string().openapi({ description: 'What to run on the node' }),
  })
  .openapi('NodeEnrolmentCode');
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
const SessionIdParams = z.object({ session_id: IntId.openapi({ param: { name: 'session_id', in: 'path' }, type: 'integer' }) });

// ─────────────── queries ───────────────

interface NodeRow {
  id: number;
  org_id: number;
  name: string;
  region: string | null;
  capacity: number | null;
  status: string | null;
  last_seen: string | null;
  agent_status: string | null;
  stream_base_url: string | null;
  has_token: number;
  token_rollover_pending: number;
  live_sessions: number;
  installs: number;
  created_at: string;
  updated_at: string;
}

/** Nodes of an org with their live-session and install counts: one query. */
async function listNodes(env: Env, orgId: number, nodeId?: number): Promise<NodeOutT[]> {
  const one = nodeId === undefined ? sql`` : sql` AND n.id = ${nodeId}`;
  const rows = await db(env).all<NodeRow>(sql`
    SELECT n.id, n.org_id, n.name, n.region, n.capacity, n.status, n.last_seen, n.agent_status, n.stream_base_url,
           n.token_hash IS NOT NULL AS has_token, n.token_rollover_at IS NOT NULL AS token_rollover_pending, n.created_at, n.updated_at,
           (SELECT COUNT(*) FROM play_sessions s WHERE s.node_id = n.id AND s.status IN ('provisioning', 'active')) AS live_sessions,
           (SELECT COUNT(*) FROM downloaded_games dg WHERE dg.node_id = n.id) AS installs
      FROM cluster_nodes n WHERE n.org_id = ${orgId}${one} ORDER BY n.name`);
  const cutoff = nodeOnlineCutoff(env);
  return rows.map((r) => ({
    id: r.id,
    org_id: r.org_id,
    name: r.name,
    region: r.region,
    capacity: r.capacity ?? 0,
    status: r.status ?? 'active',
    online: r.last_seen !== null && r.last_seen >= cutoff,
    last_seen: r.last_seen,
    agent_status: r.agent_status,
    stream_base_url: r.stream_base_url,
    has_token: Boolean(r.has_token),
    token_rollover_pending: Boolean(r.token_rollover_pending),
    live_sessions: r.live_sessions,
    installs: r.installs,
    created_at: r.created_at,
    updated_at: r.updated_at,
  }));
}

async function nodeOf(env: Env, orgId: number, nodeId: number): Promise<NodeOutT> {
  const [node] = await listNodes(env, orgId, nodeId);
  if (!node) throw new NotFound('node not found', 'node_not_found');
  return node;
}

/** What the node runs: the session plus a token it verifies offline before launching anything. */
async function assignment(env: Env, nodeId: number, s: SessionRecord) {
  const { token, expiresAt } = await signSessionToken(env, { sessionId: s.id, nodeId, orgId: s.orgId, userId: s.userId, gameId: s.gameId });
  return {
    id: s.id,
    org_id: s.orgId,
    user_id: s.userId,
    game_id: s.gameId,
    status: s.status,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    stream_token: token,
    stream_token_expires_at: expiresAt,
  };
}

/** Sets columns of a node of the org; 404 when it is not one; 409 when the new name is taken. */
async function updateNode(c: Context<AppEnv>, orgId: number, nodeId: number, set: Record<string, string | number | null>): Promise<void> {
  const cols = Object.entries(set).map(([k, v]) => sql`${sql.identifier(k)} = ${v}`);
  cols.push(sql`updated_at = ${nowIso()}`);
  try {
    const r = await db(c.env).run(sql`UPDATE cluster_nodes SET ${sql.join(cols, sql`, `)} WHERE id = ${nodeId} AND org_id = ${orgId}`);
    if ((r.meta.changes ?? 0) === 0) throw new NotFound('node not found', 'node_not_found');
  } catch (e) {
    if (isUniqueViolation(e)) throw new Conflict('node name already exists in this organization', 'node_name_taken');
    throw e;
  }
}

function heartbeatInterval(env: Env): number {
  const offline = Number.parseInt(env.NODE_OFFLINE_AFTER_SECONDS, 10);
  return Math.max(1, Math.floor((Number.isInteger(offline) && offline > 0 ? offline : 30) / 3));
}

const adminOnly = [requireUser, requireOrgRole('admin')];

// ─────────────── routes ───────────────

export const nodesRouter = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/orgs/{org_id}/nodes',
      tags: ['nodes'],
      summary: 'Register a cluster node (org admin); the node token is returned once',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: OrgParams, body: jsonBody(CreateNodeBody) },
      responses: { 201: json(NodeWithToken, 'Registered'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const { token, hash } = await newNodeToken();
      const now = nowIso();
      const row = await db(c.env).get<{ id: number }>(sql`
        INSERT INTO cluster_nodes (org_id, name, region, capacity, status, stream_base_url, token_hash, created_at, updated_at)
        VALUES (${org_id}, ${body.name}, ${body.region}, ${body.capacity}, 'active', ${body.stream_base_url}, ${hash}, ${now}, ${now})
        ON CONFLICT (org_id, name) DO NOTHING RETURNING id`);
      if (!row) throw new Conflict('node name already exists in this organization', 'node_name_taken');
      await audit(c, 'node.register', { orgId: org_id, targetType: 'cluster_node', targetId: row.id, details: { name: body.name, region: body.region } });
      return c.json({ node: await nodeOf(c.env, org_id, row.id), token }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/orgs/{org_id}/nodes',
      tags: ['nodes'],
      summary: 'The org’s cluster nodes with liveness, load and install counts (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: OrgParams },
      responses: { 200: json(z.array(NodeOut), 'Nodes'), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await listNodes(c.env, c.req.valid('param').org_id), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/orgs/{org_id}/nodes/{node_id}',
      tags: ['nodes'],
      summary: 'One cluster node (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 200: json(NodeOut, 'Node'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      return c.json(await nodeOf(c.env, org_id, node_id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/orgs/{org_id}/nodes/{node_id}/installs',
      tags: ['nodes'],
      summary: 'The games installed on a node, as its agent last reported them (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 200: json(z.array(NodeInstall), 'Installs, by game name'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      await nodeOf(c.env, org_id, node_id); // 404 for a node of another org
      const rows = await db(c.env).all<{ game_id: number; game_name: string; install_path: string; launcher: string | null; executable: string | null; proof_json: string | null; last_seen: string | null }>(sql`
        SELECT dg.game_id, g.name AS game_name, dg.install_path, dg.launcher, dg.executable, dg.proof_json, dg.last_seen
          FROM downloaded_games dg JOIN games g ON g.id = dg.game_id
         WHERE dg.org_id = ${org_id} AND dg.node_id = ${node_id}
         ORDER BY g.name, dg.game_id`);
      return c.json(
        rows.map(({ proof_json, ...r }) => ({ ...r, proof: proof_json ? (JSON.parse(proof_json) as Record<string, unknown>) : null })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/orgs/{org_id}/nodes/{node_id}',
      tags: ['nodes'],
      summary: 'Update a node: name, region, capacity, stream base, status active|draining (org admin)',
      description: 'Lowering capacity below the current load ends nothing: the node just gets no new sessions until under it.',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams, body: jsonBody(UpdateNodeBody) },
      responses: { 200: json(NodeOut, 'Updated'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const set: Record<string, string | number | null> = {};
      if (body.name !== undefined) set.name = body.name;
      if (body.region !== undefined) set.region = body.region;
      if (body.capacity !== undefined) set.capacity = body.capacity;
      if (body.stream_base_url !== undefined) set.stream_base_url = body.stream_base_url;
      if (body.status !== undefined) set.status = body.status;
      await updateNode(c, org_id, node_id, set);
      await audit(c, 'node.update', { orgId: org_id, targetType: 'cluster_node', targetId: node_id, details: body });
      return c.json(await nodeOf(c.env, org_id, node_id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/orgs/{org_id}/nodes/{node_id}/drain',
      tags: ['nodes'],
      summary: 'Drain a node: it keeps its sessions and gets no new ones (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 200: json(NodeOut, 'Draining'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      await updateNode(c, org_id, node_id, { status: 'draining' });
      await audit(c, 'node.drain', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(await nodeOf(c.env, org_id, node_id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/orgs/{org_id}/nodes/{node_id}/activate',
      tags: ['nodes'],
      summary: 'Undo a drain (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 200: json(NodeOut, 'Active'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      await updateNode(c, org_id, node_id, { status: 'active' });
      await audit(c, 'node.activate', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(await nodeOf(c.env, org_id, node_id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/orgs/{org_id}/nodes/{node_id}/token',
      tags: ['nodes'],
      summary: 'Rotate the node token: the old one stops working at once; the new one is shown once (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 200: json(NodeWithToken, 'Rotated'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const { token, hash } = await newNodeToken();
      await updateNode(c, org_id, node_id, { token_hash: hash, previous_token_hash: null, token_rollover_at: null });
      await audit(c, 'node.token.rotate', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json({ node: await nodeOf(c.env, org_id, node_id), token }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/orgs/{org_id}/nodes/{node_id}/token',
      tags: ['nodes'],
      summary: 'Revoke the node token: the agent is locked out until a new token is issued (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 200: json(NodeOut, 'Revoked'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      await updateNode(c, org_id, node_id, { token_hash: null, previous_token_hash: null, token_rollover_at: null });
      await audit(c, 'node.token.revoke', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(await nodeOf(c.env, org_id, node_id), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/orgs/{org_id}/nodes/{node_id}/token/rollover',
      tags: ['nodes'],
      summary: 'Roll the node token over without re-enrolling: the agent receives a new token in its next heartbeat reply (org admin)',
      description:
        'The current token keeps working until the agent has used the new one once. For a token that may have leaked, revoke it (or rotate with POST .../token) and enrol again instead.',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 202: json(NodeOut, 'Rollover pending'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const node = await nodeOf(c.env, org_id, node_id);
      if (!node.has_token) throw new Conflict('the node has no token to roll over: enrol it with a code', 'node_not_enrolled');
      if (!(await requestTokenRollover(c.env, org_id, node_id, nowIso()))) throw new NotFound('node not found', 'node_not_found');
      await audit(c, 'node.token.rollover', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(await nodeOf(c.env, org_id, node_id), 202);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/orgs/{org_id}/nodes/{node_id}/enrolment-code',
      tags: ['nodes'],
      summary: 'A one-time enrolment code for the node agent (15 minutes, single use; replaces an unused earlier code) (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 201: json(EnrolmentCodeOut, 'Code (shown once)'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      await nodeOf(c.env, org_id, node_id); // 404 for a node of another org
      const code = newEnrolmentCode();
      const expiresAt = new Date(world.now() + ENROLMENT_CODE_TTL_SECONDS * 1000).toISOString();
      await issueEnrolmentCode(c.env, { orgId: org_id, nodeId: node_id, createdBy: c.get('user')?.id ?? null, codeHash: await enrolmentCodeHash(code), expiresAt });
      await audit(c, 'node.enrolment_code', { orgId: org_id, targetType: 'cluster_node', targetId: node_id, details: { expires_at: expiresAt } });
      const api = new URL(c.req.url).origin;
      return c.json({ node_id, code, expires_at: expiresAt, command: `node agents/node/cli.mjs enroll --api ${api} --code ${code}` }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/orgs/{org_id}/nodes/{node_id}',
      tags: ['nodes'],
      summary: 'Delete a node: its live sessions fail (node_deleted), its installs go (org admin)',
      security: [{ bearer: [] }],
      middleware: adminOnly,
      request: { params: NodeParams },
      responses: { 200: json(z.object({ deleted: z.number().int(), failed_sessions: z.number().int() }), 'Deleted'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      await nodeOf(c.env, org_id, node_id);
      // Sessions first: once the row is gone, play_sessions.node_id is nulled and the seat is unattributable.
      const failed = await allocatorOf(c.env, org_id).failNode(org_id, node_id, 'node_deleted');
      await db(c.env).run(sql`DELETE FROM cluster_nodes WHERE id = ${node_id} AND org_id = ${org_id}`);
      await audit(c, 'node.delete', { orgId: org_id, targetType: 'cluster_node', targetId: node_id, details: { failed_sessions: failed } });
      return c.json({ deleted: node_id, failed_sessions: failed }, 200);
    },
  )
  // ─────────────── node-agent API ───────────────
  .openapi(
    createRoute({
      method: 'post',
      path: '/nodes/enrol',
      tags: ['node agent'],
      summary: 'Exchange a one-time enrolment code for the node token (no other credential)',
      description:
        'Single use and expiring; a used, expired or unknown code is the same 401. Redeeming replaces any token the node had. Throttled per client address.',
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
      const r = await redeemEnrolmentCode(c.env, { codeHash: await enrolmentCodeHash(body.code), tokenHash: hash, now: nowIso(), orgId: body.org_id });
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
          session_token_audience: SESSION_TOKEN_AUDIENCE,
          session_token_typ: SESSION_TOKEN_TYP,
          jwks_url: `${new URL(c.req.url).origin}/.well-known/jwks.json`,
        },
        201,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/nodes/catalog/resolve',
      tags: ['node agent'],
      summary: 'Catalog game ids for store ids the agent discovered (Steam appid, Epic CatalogItemId or AppName, GOG gameId) (node token)',
      description: 'Only matches are returned; nothing is created.',
      security: [{ bearer: [] }],
      middleware: [requireNode],
      request: { body: jsonBody(ResolveBody) },
      responses: { 200: json(ResolveOut, 'Matches'), ...errors(400, 401) },
    }),
    async (c) => c.json({ games: await gamesByExternalIds(c.env, c.req.valid('json').ids) }, 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/nodes/heartbeat',
      tags: ['node agent'],
      summary: 'Node agent heartbeat: liveness, the full install set, session reports; answers with assignments',
      description:
        'Authorization: Bearer <node token>. `installs` is the complete set: games not listed are removed from the node. Unknown game ids are ignored and listed in `unknown_game_ids`.',
      security: [{ bearer: [] }],
      middleware: [requireNode],
      request: { body: jsonBody(HeartbeatBody) },
      responses: { 200: json(HeartbeatOut, 'Accepted'), ...errors(400, 401, 403, 413) },
    }),
    async (c) => {
      const node = currentNode(c);
      const body = c.req.valid('json');
      assertSameNode(node, body);
      const now = nowIso();
      // The last report of a game wins when an agent lists it twice.
      const installs = [...new Map(body.installs.map((i) => [i.game_id, i])).values()];
      const payload = JSON.stringify(
        installs.map((i) => ({ game_id: i.game_id, install_path: i.install_path, launcher: i.launcher ?? null, executable: i.executable ?? null, proof: i.proof })),
      );
      const d = db(c.env);
      const known = await d.all<{ id: number }>(sql`SELECT id FROM games WHERE id IN (SELECT value FROM json_each(${JSON.stringify(installs.map((i) => i.game_id))}))`);
      const knownIds = new Set(known.map((k) => k.id));
      // One atomic batch, four bound parameters whatever the number of installs (json_each).
      // (Raw D1 statements: drizzle batches only its query builders, not `sql` runs.)
      const D1 = c.env.DB;
      await D1.batch([
        D1.prepare(`UPDATE cluster_nodes SET last_seen = ?, agent_status = ? WHERE id = ?`).bind(now, body.status ?? null, node.id),
        D1.prepare(
          `INSERT INTO downloaded_games (org_id, node_id, game_id, install_path, launcher, executable, proof_json, last_seen)
           SELECT ?1, ?2, json_extract(j.value, '$.game_id'), json_extract(j.value, '$.install_path'),
                  json_extract(j.value, '$.launcher'), json_extract(j.value, '$.executable'), json_extract(j.value, '$.proof'), ?3
             FROM json_each(?4) j JOIN games g ON g.id = json_extract(j.value, '$.game_id')
            WHERE true
           ON CONFLICT (org_id, node_id, game_id) DO UPDATE SET install_path = excluded.install_path, launcher = excluded.launcher,
              executable = excluded.executable, proof_json = excluded.proof_json, last_seen = excluded.last_seen`,
        ).bind(node.orgId, node.id, now, payload),
        D1.prepare(
          `DELETE FROM downloaded_games WHERE node_id = ?
              AND game_id NOT IN (SELECT json_extract(value, '$.game_id') FROM json_each(?))`,
        ).bind(node.id, payload),
      ]);
      const reports = (body.sessions ?? []).map((s) => ({ id: s.id, status: s.status, reason: s.reason ?? null }));
      const hb = await allocatorOf(c.env, node.orgId).nodeHeartbeat(node.orgId, node.id, reports);
      recordMetric(c.env, executionContextOf(c), 'nodes.heartbeats', { node: node.id }, { org: node.orgId });
      const rotated = await rolledTokenFor(c.env, node);
      return c.json(
        {
          node_id: node.id,
          org_id: node.orgId,
          status: node.status,
          server_time: now,
          heartbeat_interval_seconds: heartbeatInterval(c.env),
          installs: knownIds.size,
          unknown_game_ids: installs.map((i) => i.game_id).filter((id) => !knownIds.has(id)),
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
      method: 'get',
      path: '/nodes/sessions',
      tags: ['node agent'],
      summary: 'The live sessions assigned to the calling node (node token)',
      security: [{ bearer: [] }],
      middleware: [requireNode],
      responses: { 200: json(z.object({ node_id: z.number().int(), sessions: z.array(Assignment) }), 'Assignments'), ...errors(401) },
    }),
    async (c) => {
      const node = currentNode(c);
      const sessions = await allocatorOf(c.env, node.orgId).nodeAssignments(node.orgId, node.id);
      return c.json({ node_id: node.id, sessions: await Promise.all(sessions.map((s) => assignment(c.env, node.id, s))) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/nodes/sessions/{session_id}/status',
      tags: ['node agent'],
      summary: 'The node reports a session: provisioning (ack), active, ended or failed (node token)',
      security: [{ bearer: [] }],
      middleware: [requireNode],
      request: { params: SessionIdParams, body: jsonBody(StatusBody) },
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

/** A node speaks only for itself and its own org. */
function assertSameNode(node: AuthNode, body: { org_id?: number | undefined; node_id?: number | undefined }): void {
  if (body.org_id !== undefined && body.org_id !== node.orgId) throw new Forbidden('node token belongs to another organization', 'node_org_mismatch');
  if (body.node_id !== undefined && body.node_id !== node.id) throw new Forbidden('node token belongs to another node', 'node_mismatch');
}
