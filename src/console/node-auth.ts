/**
 * Node-agent credentials: an opaque random token per cluster node, shown once (at registration or
 * rotation) and stored only as its SHA-256 in `cluster_nodes.token_hash`. A revoked node has no
 * hash, so no token matches it. User access tokens are never accepted here, nor node tokens on user
 * routes (they are not JWTs).
 *
 *   const { token, hash } = await newNodeToken();
 *   createRoute({ ..., middleware: [requireNode] })   // 401 unless `Authorization: Bearer <node token>`
 *   const node = currentNode(c);
 */
import type { Context, MiddlewareHandler } from 'hono';
import { eq } from 'drizzle-orm';
import type { AppEnv } from '../env';
import { db } from '../db/client';
import { clusterNodes } from '../db/schema';
import { Unauthorized } from '../http/errors';
import { randomToken, sha256Hex } from '../world';

/** A recognisable prefix so leaked tokens are easy to spot in logs and secret scanners. */
export const NODE_TOKEN_PREFIX = 'epn_';
const TOKEN_SHAPE = /^epn_[A-Za-z0-9_-]{43}$/;

export interface AuthNode {
  id: number;
  orgId: number;
  name: string;
  region: string | null;
  capacity: number;
  status: string;
  streamBaseUrl: string | null;
}

export async function newNodeToken(): Promise<{ token: string; hash: string }> {
  const token = `${NODE_TOKEN_PREFIX}${randomToken(32)}`;
  return { token, hash: await sha256Hex(token) };
}

function refuse(message: string): Unauthorized {
  return new Unauthorized(message, 'invalid_node_token', { 'WWW-Authenticate': 'Bearer realm="node"' });
}

/** The calling node, from its bearer token; one indexed lookup on the hash. */
export async function authenticateNode(c: Context<AppEnv>): Promise<AuthNode> {
  const header = c.req.header('Authorization');
  if (!header) throw refuse('node token required');
  const m = /^Bearer (\S+)$/i.exec(header.trim());
  if (!m || !TOKEN_SHAPE.test(m[1]!)) throw refuse('invalid node token');
  const hash = await sha256Hex(m[1]!);
  const row = await db(c.env)
    .select({
      id: clusterNodes.id,
      orgId: clusterNodes.orgId,
      name: clusterNodes.name,
      region: clusterNodes.region,
      capacity: clusterNodes.capacity,
      status: clusterNodes.status,
      streamBaseUrl: clusterNodes.streamBaseUrl,
    })
    .from(clusterNodes)
    .where(eq(clusterNodes.tokenHash, hash))
    .get();
  if (!row) throw refuse('invalid node token');
  return { ...row, capacity: row.capacity ?? 0, status: row.status ?? 'active' };
}

// The shared AppEnv has no slot for a node (its routes are the only ones with one), so the
// authenticated node rides beside the request instead of in `c.var`.
const nodes = new WeakMap<Request, AuthNode>();

/** Route middleware: authenticates before the body is validated, so anonymous callers learn nothing. */
export const requireNode: MiddlewareHandler<AppEnv> = async (c, next) => {
  nodes.set(c.req.raw, await authenticateNode(c));
  await next();
};

export function currentNode(c: Context<AppEnv>): AuthNode {
  const node = nodes.get(c.req.raw);
  if (!node) throw refuse('node token required');
  return node;
}
