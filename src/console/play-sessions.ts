/**
 * Play sessions as the API shows them (`SessionOut`, contract §2.9 plus additive fields), and the
 * way to reach an org's allocator. Shared by the session routes (play.ts), the node-agent routes
 * (nodes.ts) and housekeeping.
 *
 *   const session = await allocatorOf(env, orgId).get(orgId, id) ?? await sessionFromD1(env, id);
 *   return c.json(await presentSession(env, session, c.get('user').id), 200);
 */
import { sql } from 'drizzle-orm';
import type { SessionRecord, SessionStatus } from '../../durable-objects/org-allocator';
import { db } from '../db/client';
import { z } from '../http/openapi';
import { streamUrlFor } from './session-tokens';

export const LIVE_STATUSES: readonly SessionStatus[] = ['provisioning', 'active'];

export function allocatorOf(env: Pick<Env, 'ORG_ALLOCATOR'>, orgId: number) {
  return env.ORG_ALLOCATOR.getByName(String(orgId));
}

export const SessionOutSchema = z
  .object({
    id: z.number().int().openapi({ description: 'Random 53-bit integer' }),
    org_id: z.number().int(),
    user_id: z.number().int(),
    game_id: z.number().int(),
    status: z.enum(['queued', 'provisioning', 'active', 'ended', 'failed', 'terminated']),
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
export type SessionOut = z.infer<typeof SessionOutSchema>;

/**
 * The API view of a session for `viewerId`. The stream URL is a bearer capability for the player
 * alone: anyone else who may see the session (an org admin, a platform admin, an admin who started
 * it on the player's behalf) gets `stream_url: null`, never a freshly signed token.
 */
export async function presentSession(env: Pick<Env, 'SESSION_SIGNING_KEY' | 'JWT_ISSUER'>, s: SessionRecord, viewerId: number): Promise<SessionOut> {
  const live = s.status === 'provisioning' || s.status === 'active';
  const stream =
    live && viewerId === s.userId && s.nodeId !== null && s.streamBaseUrl
      ? await streamUrlFor(env, { sessionId: s.id, nodeId: s.nodeId, orgId: s.orgId, userId: s.userId, gameId: s.gameId, streamBaseUrl: s.streamBaseUrl })
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

/** The D1 history row of a session (with its node's stream base), as the allocator would report it. */
export async function sessionFromD1(env: Pick<Env, 'DB'>, id: number): Promise<SessionRecord | null> {
  const r = await db(env).get<{
    id: number; org_id: number; user_id: number; game_id: number; node_id: number | null; region: string | null;
    status: string; end_reason: string | null; idempotency_key: string | null; created_at: string; updated_at: string;
    ended_at: string | null; stream_base_url: string | null;
  }>(sql`SELECT s.id, s.org_id, s.user_id, s.game_id, s.node_id, s.region, s.status, s.end_reason, s.idempotency_key,
                s.created_at, s.updated_at, s.ended_at, n.stream_base_url
           FROM play_sessions s LEFT JOIN cluster_nodes n ON n.id = s.node_id WHERE s.id = ${id}`);
  if (!r) return null;
  return {
    id: r.id,
    orgId: r.org_id,
    userId: r.user_id,
    gameId: r.game_id,
    nodeId: r.node_id,
    region: r.region,
    streamBaseUrl: r.stream_base_url,
    status: r.status as SessionStatus,
    endReason: r.end_reason,
    idempotencyKey: r.idempotency_key,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    endedAt: r.ended_at,
    // Queue positions live in the allocator only; D1 knows the status.
    queue: null,
  };
}

/** Housekeeping (cron, every 5 minutes): a sweep per org with live sessions, in case an alarm was lost. */
export async function sweepPlaySessions(env: Env): Promise<void> {
  const orgIds = await db(env).all<{ org_id: number }>(
    sql`SELECT DISTINCT org_id FROM play_sessions WHERE status IN ('queued', 'provisioning', 'active')`,
  );
  const results = await Promise.allSettled(orgIds.map((r) => allocatorOf(env, r.org_id).sweep(r.org_id)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
