/**
 * Cluster-node management by org admins (`nodeAdminRoutes`, mounted at `/orgs/:org_id/nodes`):
 * register (the node token is shown once), list, show, update, drain/activate, rotate or revoke the
 * token, ask for a token rollover, issue a one-time enrolment code, list installs, delete. Every
 * route requires an admin of the org (or a platform admin).
 *
 *   POST /orgs/1/nodes {"name":"rack-a-01","region":"eu-west","capacity":4,"stream_base_url":"https://a01.example"}
 *   → 201 {"node":{...},"token":"epn_..."}        (the only time the token is shown)
 *
 * `status` is the admin's intent (`active` | `draining`): a draining node keeps its play sessions
 * but gets no new ones. Liveness is the agent's heartbeat (see agent.ts).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { audit } from '../../auth/audit';
import { requireOrgRole, requireUser } from '../../auth/middleware';
import { db, type Db } from '../../db/client';
import { isUniqueViolation } from '../../db/errors';
import { Conflict, NotFound } from '../../http/errors';
import { errors, IntId, json, jsonBody, newRouter, z } from '../../http/openapi';
import { nowIso, world } from '../../world';
import { forgetPlayFacts } from '../play/facts';
import { allocatorOf } from '../play/model';
import { ENROLMENT_CODE_TTL_SECONDS, enrolmentCodeHash, newEnrolmentCode, newNodeToken } from './auth';
import { NodeAdminStatus, NodeName, nodeOnlineCutoff, Region } from './model';
import { deleteNode, insertNode, issueEnrolmentCode, listNodes, nodeInstalls, requestTokenRollover, updateNode, type NodeListing, type NodePatch } from './queries';

const Capacity = z.number().int().min(0).max(1024);
const StreamBase = z
  .string()
  .max(512)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL')
  .refine((u) => !/[?#]/.test(u), 'must not carry a query or fragment');

const CreateNodeBody = z
  .object({ name: NodeName, region: Region, capacity: Capacity, stream_base_url: StreamBase })
  .strict()
  .openapi('CreateNode');
const UpdateNodeBody = z
  .object({ name: NodeName, region: Region, capacity: Capacity, stream_base_url: StreamBase, status: NodeAdminStatus })
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

const NodeWithToken = z
  .object({ node: NodeOut, token: z.string().openapi({ description: 'Shown once; store it in the node agent' }) })
  .openapi('ClusterNodeWithToken');

const EnrolmentCodeOut = z
  .object({
    node_id: z.number().int(),
    code: z.string().openapi({ example: 'K7QF-2M9X' }),
    expires_at: z.string(),
    command: z.string().openapi({ description: 'What to run on the node' }),
  })
  .openapi('NodeEnrolmentCode');

const OrgParams = z.object({ org_id: IntId.openapi({ param: { name: 'org_id', in: 'path' }, type: 'integer' }) });
const NodeParams = OrgParams.extend({ node_id: IntId.openapi({ param: { name: 'node_id', in: 'path' }, type: 'integer' }) });

function nodeOut(n: NodeListing): z.infer<typeof NodeOut> {
  return {
    id: n.id,
    org_id: n.orgId,
    name: n.name,
    region: n.region,
    capacity: n.capacity,
    status: n.status,
    online: n.online,
    last_seen: n.lastSeen,
    agent_status: n.agentStatus,
    stream_base_url: n.streamBaseUrl,
    has_token: n.hasToken,
    token_rollover_pending: n.tokenRolloverPending,
    live_sessions: n.livePlaySessions,
    installs: n.installs,
    created_at: n.createdAt,
    updated_at: n.updatedAt,
  };
}

/** A node of the org, or 404 (a node of another org is the same 404). */
async function nodeOf(env: Env, d: Db, orgId: number, nodeId: number): Promise<NodeListing> {
  const [node] = await listNodes(d, orgId, nodeOnlineCutoff(env), nodeId);
  if (!node) throw new NotFound('node not found', 'node_not_found');
  return node;
}

/** Applies a patch to a node of the org, then answers with the node: 404 when it is not one, 409 when the new name is taken. */
async function patchNode(c: Context<AppEnv>, orgId: number, nodeId: number, patch: NodePatch): Promise<NodeListing> {
  const d = db(c.env);
  let changed: boolean;
  try {
    changed = await updateNode(d, orgId, nodeId, patch, nowIso());
  } catch (e) {
    if (isUniqueViolation(e)) throw new Conflict('node name already exists in this organization', 'node_name_taken');
    throw e;
  }
  if (!changed) throw new NotFound('node not found', 'node_not_found');
  // Status, capacity, region, stream base or token: the allocator's cached candidates re-read D1.
  await forgetPlayFacts(c.env, orgId);
  return nodeOf(c.env, d, orgId, nodeId);
}

/** Every route: an admin of the org, bearer token, the `nodes` tag. */
const orgAdmin = { tags: ['nodes'], security: [{ bearer: [] }], middleware: [requireUser, requireOrgRole('admin')] };
const oneNode = { ...orgAdmin, request: { params: NodeParams } };

export const nodeAdminRoutes = newRouter()
  .openapi(
    createRoute({
      ...orgAdmin,
      method: 'post',
      path: '/',
      operationId: 'registerNode',
      summary: 'Register a cluster node (org admin); the node token is returned once',
      request: { params: OrgParams, body: jsonBody(CreateNodeBody) },
      responses: { 201: json(NodeWithToken, 'Registered'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const { org_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const { token, hash } = await newNodeToken();
      const d = db(c.env);
      const id = await insertNode(d, { orgId: org_id, name: body.name, region: body.region, capacity: body.capacity, streamBaseUrl: body.stream_base_url, tokenHash: hash, now: nowIso() });
      if (id === null) throw new Conflict('node name already exists in this organization', 'node_name_taken');
      await audit(c, 'node.register', { orgId: org_id, targetType: 'cluster_node', targetId: id, details: { name: body.name, region: body.region } });
      return c.json({ node: nodeOut(await nodeOf(c.env, d, org_id, id)), token }, 201);
    },
  )
  .openapi(
    createRoute({
      ...orgAdmin,
      method: 'get',
      path: '/',
      operationId: 'listNodes',
      summary: 'The org’s cluster nodes with liveness, load and install counts (org admin)',
      request: { params: OrgParams },
      responses: { 200: json(z.array(NodeOut), 'Nodes'), ...errors(400, 401, 403) },
    }),
    async (c) => c.json((await listNodes(db(c.env), c.req.valid('param').org_id, nodeOnlineCutoff(c.env))).map(nodeOut), 200),
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'get',
      path: '/{node_id}',
      operationId: 'getNode',
      summary: 'One cluster node (org admin)',
      responses: { 200: json(NodeOut, 'Node'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      return c.json(nodeOut(await nodeOf(c.env, db(c.env), org_id, node_id)), 200);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'get',
      path: '/{node_id}/installs',
      operationId: 'listNodeInstalls',
      summary: 'The games installed on a node, as its agent last reported them (org admin)',
      responses: { 200: json(z.array(NodeInstall), 'Installs, by game name'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const d = db(c.env);
      await nodeOf(c.env, d, org_id, node_id); // 404 for a node of another org
      const rows = await nodeInstalls(d, org_id, node_id);
      return c.json(
        rows.map((r) => ({ game_id: r.gameId, game_name: r.gameName, install_path: r.installPath, launcher: r.launcher, executable: r.executable, proof: r.proof, last_seen: r.lastSeen })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'patch',
      path: '/{node_id}',
      operationId: 'updateNode',
      summary: 'Update a node: name, region, capacity, stream base, status active|draining (org admin)',
      description: 'Lowering capacity below the current load ends nothing: the node just gets no new play sessions until under it.',
      request: { params: NodeParams, body: jsonBody(UpdateNodeBody) },
      responses: { 200: json(NodeOut, 'Updated'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const node = await patchNode(c, org_id, node_id, {
        name: body.name,
        region: body.region,
        capacity: body.capacity,
        streamBaseUrl: body.stream_base_url,
        status: body.status,
      });
      await audit(c, 'node.update', { orgId: org_id, targetType: 'cluster_node', targetId: node_id, details: body });
      return c.json(nodeOut(node), 200);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'post',
      path: '/{node_id}/drain',
      operationId: 'drainNode',
      summary: 'Drain a node: it keeps its play sessions and gets no new ones (org admin)',
      responses: { 200: json(NodeOut, 'Draining'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const node = await patchNode(c, org_id, node_id, { status: 'draining' });
      await audit(c, 'node.drain', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(nodeOut(node), 200);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'post',
      path: '/{node_id}/activate',
      operationId: 'activateNode',
      summary: 'Undo a drain (org admin)',
      responses: { 200: json(NodeOut, 'Active'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const node = await patchNode(c, org_id, node_id, { status: 'active' });
      await audit(c, 'node.activate', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(nodeOut(node), 200);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'post',
      path: '/{node_id}/token',
      operationId: 'rotateNodeToken',
      summary: 'Rotate the node token: the old one stops working at once; the new one is shown once (org admin)',
      responses: { 200: json(NodeWithToken, 'Rotated'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const { token, hash } = await newNodeToken();
      const node = await patchNode(c, org_id, node_id, { tokenHash: hash, previousTokenHash: null, tokenRolloverAt: null });
      await audit(c, 'node.token.rotate', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json({ node: nodeOut(node), token }, 200);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'delete',
      path: '/{node_id}/token',
      operationId: 'revokeNodeToken',
      summary: 'Revoke the node token: the agent is locked out until a new token is issued (org admin)',
      responses: { 200: json(NodeOut, 'Revoked'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const node = await patchNode(c, org_id, node_id, { tokenHash: null, previousTokenHash: null, tokenRolloverAt: null });
      await audit(c, 'node.token.revoke', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(nodeOut(node), 200);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'post',
      path: '/{node_id}/token/rollover',
      operationId: 'rollOverNodeToken',
      summary: 'Roll the node token over without re-enrolling: the agent receives a new token in its next heartbeat reply (org admin)',
      description:
        'The current token keeps working until the agent has used the new one once. For a token that may have leaked, revoke it (or rotate with POST .../token) and enrol again instead.',
      responses: { 202: json(NodeOut, 'Rollover pending'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const d = db(c.env);
      const node = await nodeOf(c.env, d, org_id, node_id);
      if (!node.hasToken) throw new Conflict('the node has no token to roll over: enrol it with a code', 'node_not_enrolled');
      if (!(await requestTokenRollover(d, org_id, node_id, nowIso()))) throw new NotFound('node not found', 'node_not_found');
      await audit(c, 'node.token.rollover', { orgId: org_id, targetType: 'cluster_node', targetId: node_id });
      return c.json(nodeOut(await nodeOf(c.env, d, org_id, node_id)), 202);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'post',
      path: '/{node_id}/enrolment-code',
      operationId: 'createNodeEnrolmentCode',
      summary: 'A one-time enrolment code for the node agent (15 minutes, single use; replaces an unused earlier code) (org admin)',
      responses: { 201: json(EnrolmentCodeOut, 'Code (shown once)'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const d = db(c.env);
      await nodeOf(c.env, d, org_id, node_id); // 404 for a node of another org
      const code = newEnrolmentCode();
      const expiresAt = new Date(world.now() + ENROLMENT_CODE_TTL_SECONDS * 1000).toISOString();
      await issueEnrolmentCode(d, { orgId: org_id, nodeId: node_id, createdBy: c.get('user')?.id ?? null, codeHash: await enrolmentCodeHash(code), expiresAt });
      await audit(c, 'node.enrolment_code', { orgId: org_id, targetType: 'cluster_node', targetId: node_id, details: { expires_at: expiresAt } });
      const api = new URL(c.req.url).origin;
      return c.json({ node_id, code, expires_at: expiresAt, command: `node agents/node/cli.mjs enroll --api ${api} --code ${code}` }, 201);
    },
  )
  .openapi(
    createRoute({
      ...oneNode,
      method: 'delete',
      path: '/{node_id}',
      operationId: 'deleteNode',
      summary: 'Delete a node: its live play sessions fail (node_deleted), its installs go (org admin)',
      responses: { 200: json(z.object({ deleted: z.number().int(), failed_sessions: z.number().int() }), 'Deleted'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { org_id, node_id } = c.req.valid('param');
      const d = db(c.env);
      await nodeOf(c.env, d, org_id, node_id);
      // Play sessions first: once the row is gone, play_sessions.node_id is nulled and the seat is unattributable.
      const failed = await allocatorOf(c.env, org_id).failNode(org_id, node_id, 'node_deleted');
      await deleteNode(d, org_id, node_id);
      await forgetPlayFacts(c.env, org_id);
      await audit(c, 'node.delete', { orgId: org_id, targetType: 'cluster_node', targetId: node_id, details: { failed_sessions: failed } });
      return c.json({ deleted: node_id, failed_sessions: failed }, 200);
    },
  );
