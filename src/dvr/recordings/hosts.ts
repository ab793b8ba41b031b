/**
 * Media-agent host credentials (issue 16). An admin creates a host, which returns a one-time
 * enrolment code (1 hour); the agent trades the code for its credential (`epm_…`), which it sends
 * as `Authorization: Bearer` on the ingest routes — and nowhere else: it is not a JWT, so user
 * routes refuse it, and ingest routes refuse user tokens. Code and credential are stored only as
 * SHA-256; revoking clears both hashes, so nothing matches the host any more.
 *
 *   const { code } = await createHost(env, 'recorder-1', adminId);
 *   const { credential } = await enrolHost(env, code);          // null when used, expired or revoked
 *   createRoute({ ..., middleware: [requireHost] }); const host = currentHost(c);
 */
import type { Context, MiddlewareHandler } from 'hono';
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import type { AppEnv } from '../../env';
import { changes, db } from '../../db/client';
import { ingestHosts } from '../../db/schema';
import { Unauthorized } from '../../http/errors';
import { nowIso, randomToken, sha256Hex, world } from '../../world';

export const HOST_TOKEN_PREFIX = 'epm_';
const TOKEN_SHAPE = /^epm_[A-Za-z0-9_-]{43}$/;
const CODE_SHAPE = /^[A-Za-z0-9_-]{22}$/;
const ENROL_TTL_MS = 3600_000;

export interface IngestHost {
  id: number;
  name: string;
}

export async function createHost(env: Pick<Env, 'DB'>, name: string, createdBy: number) {
  const code = randomToken(16);
  const expiresAt = new Date(world.now() + ENROL_TTL_MS).toISOString();
  const row = await db(env)
    .insert(ingestHosts)
    .values({ name, enrolCodeHash: await sha256Hex(code), enrolExpiresAt: expiresAt, createdBy })
    .onConflictDoNothing()
    .returning({ id: ingestHosts.id })
    .get();
  return row ? { id: row.id, name, code, expiresAt } : null;
}

/** Single use: the conditional UPDATE consumes the code, so two racing enrolments get one credential. */
export async function enrolHost(env: Pick<Env, 'DB'>, code: string): Promise<{ id: number; name: string; credential: string } | null> {
  if (!CODE_SHAPE.test(code)) return null;
  const credential = `${HOST_TOKEN_PREFIX}${randomToken(32)}`;
  const now = nowIso();
  const row = await db(env)
    .update(ingestHosts)
    .set({ tokenHash: await sha256Hex(credential), enrolCodeHash: null, enrolExpiresAt: null, enrolledAt: now, lastSeen: now })
    .where(and(eq(ingestHosts.enrolCodeHash, await sha256Hex(code)), gt(ingestHosts.enrolExpiresAt, now), isNull(ingestHosts.revokedAt)))
    .returning({ id: ingestHosts.id, name: ingestHosts.name })
    .get();
  return row ? { ...row, credential } : null;
}

export async function revokeHost(env: Pick<Env, 'DB'>, id: number): Promise<boolean> {
  const r = await db(env)
    .update(ingestHosts)
    .set({ tokenHash: null, enrolCodeHash: null, enrolExpiresAt: null, revokedAt: nowIso() })
    .where(and(eq(ingestHosts.id, id), isNull(ingestHosts.revokedAt)))
    .run();
  return changes(r) === 1;
}

export async function listHosts(env: Pick<Env, 'DB'>) {
  const rows = await db(env)
    .select({
      id: ingestHosts.id,
      name: ingestHosts.name,
      createdAt: ingestHosts.createdAt,
      enrolledAt: ingestHosts.enrolledAt,
      revokedAt: ingestHosts.revokedAt,
      lastSeen: ingestHosts.lastSeen,
      enrolExpiresAt: ingestHosts.enrolExpiresAt,
    })
    .from(ingestHosts)
    .orderBy(asc(ingestHosts.name));
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    state: (r.revokedAt ? 'revoked' : r.enrolledAt ? 'enrolled' : 'pending') as 'revoked' | 'enrolled' | 'pending',
    created_at: r.createdAt,
    enrolled_at: r.enrolledAt,
    revoked_at: r.revokedAt,
    last_seen: r.lastSeen,
    enrolment_expires_at: r.enrolExpiresAt,
  }));
}

function refuse(message: string): Unauthorized {
  return new Unauthorized(message, 'invalid_ingest_credential', { 'WWW-Authenticate': 'Bearer realm="ingest"' });
}

const hosts = new WeakMap<Request, IngestHost>();

/** Route middleware: authenticates before the body is read, so anonymous callers learn nothing. */
export const requireHost: MiddlewareHandler<AppEnv> = async (c, next) => {
  const m = /^Bearer (\S+)$/i.exec(c.req.header('Authorization')?.trim() ?? '');
  if (!m) throw refuse('ingest credential required');
  if (!TOKEN_SHAPE.test(m[1]!)) throw refuse('invalid ingest credential');
  const row = await db(c.env)
    .select({ id: ingestHosts.id, name: ingestHosts.name })
    .from(ingestHosts)
    .where(eq(ingestHosts.tokenHash, await sha256Hex(m[1]!)))
    .get();
  if (!row) throw refuse('invalid ingest credential');
  hosts.set(c.req.raw, row);
  await next();
};

export function currentHost(c: Context<AppEnv>): IngestHost {
  const host = hosts.get(c.req.raw);
  if (!host) throw refuse('ingest credential required');
  return host;
}
