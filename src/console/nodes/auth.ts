/**
 * Node-agent credentials: an opaque random token per cluster node, shown once (at registration or
 * rotation) and stored only as its SHA-256 in `cluster_nodes.token_hash`. A revoked node has no
 * hash, so no token matches it. User access tokens are never accepted here, nor node tokens on user
 * routes (they are not JWTs).
 *
 * Two ways for an agent to get its token without anyone pasting it: an enrolment code (short,
 * single use, expiring; `POST /nodes/enrol`), and a rollover the admin asks for, which the agent
 * receives in its next heartbeat reply (`node_token`). During a rollover the previous token keeps
 * working until the agent has used the new one once (so a lost reply cannot lock it out).
 *
 *   const { token, hash } = await newNodeToken();
 *   createRoute({ ..., middleware: [requireNode] })   // 401 unless `Authorization: Bearer <node token>`
 *   const node = currentNode(c);
 *   const rotated = await rolledTokenFor(db(c.env), node); // string once, when a rollover is due
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env';
import { db, type Db } from '../../db/client';
import { Unauthorized } from '../../http/errors';
import { nowIso, randomToken, sha256Hex } from '../../world';
import { clusterNodeFromRow, type ClusterNode } from './model';
import { forgetPreviousToken, nodeByTokenHash, rollNodeToken } from './queries';

/** A recognisable prefix so leaked tokens are easy to spot in logs and secret scanners. */
export const NODE_TOKEN_PREFIX = 'epn_';
const TOKEN_SHAPE = /^epn_[A-Za-z0-9_-]{43}$/;

export interface AuthNode extends ClusterNode {
  /** Which of the node's hashes the presented token matched, and that hash. */
  tokenVia: 'current' | 'previous';
  presentedHash: string;
  rolloverRequested: boolean;
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
  const d = db(c.env);
  const row = await nodeByTokenHash(d, hash);
  if (!row) throw refuse('invalid node token');
  const tokenVia = row.tokenHash === hash ? 'current' : 'previous';
  // The agent has the new token in hand: the old one must stop working now.
  if (tokenVia === 'current' && row.previousTokenHash !== null) await forgetPreviousToken(d, row.id, hash);
  return {
    ...clusterNodeFromRow(row),
    tokenVia,
    presentedHash: hash,
    rolloverRequested: row.tokenRolloverAt !== null,
  };
}

/**
 * The new token for the calling agent when one is due (an admin asked for a rollover, or the agent
 * still presents the previous token because it never stored the last one), else null. Only the
 * heartbeat calls this, and an agent heartbeats one at a time, so a token handed out is not
 * replaced by a concurrent request of the same agent.
 */
export async function rolledTokenFor(d: Db, node: AuthNode): Promise<string | null> {
  if (node.tokenVia === 'current' && !node.rolloverRequested) return null;
  const { token, hash } = await newNodeToken();
  return (await rollNodeToken(d, node.id, node.presentedHash, node.tokenVia, hash, nowIso())) ? token : null;
}

// ─────────────── enrolment codes ───────────────

/** Crockford base32: no I, L, O, U, so a code read aloud or off a screen survives. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const ENROLMENT_CODE_TTL_SECONDS = 15 * 60;

/** `XXXX-XXXX`: 40 random bits; with the expiry, single use and the per-IP limit that is unguessable. */
export function newEnrolmentCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const chars = [...bytes].map((b) => CODE_ALPHABET[b & 31]!);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}

/** Case, dashes and spaces do not matter; the letters Crockford maps to digits are mapped. */
export function normaliseEnrolmentCode(code: string): string {
  return code
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

export const ENROLMENT_CODE_SHAPE = /^[0-9A-HJKMNP-TV-Z]{8}$/;

export function enrolmentCodeHash(code: string): Promise<string> {
  return sha256Hex(`enrol:${normaliseEnrolmentCode(code)}`);
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
