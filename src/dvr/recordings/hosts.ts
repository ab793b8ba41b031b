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
import type { AppEnv } from '../../env';
import { db } from '../../db/client';
import { Unauthorized } from '../../http/errors';
import { nowIso, randomToken, sha256Hex, world } from '../../world';
import { enrolHostByCode, hostByTokenHash, insertHost, listHostRows, revokeHostRow } from './queries';

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
  const row = await insertHost(db(env), { name, enrolCodeHash: await sha256Hex(code), enrolExpiresAt: expiresAt, createdBy });
  return row ? { id: row.id, name, code, expiresAt } : null;
}

/** Single use: the conditional UPDATE consumes the code, so two racing enrolments get one credential. */
export async function enrolHost(env: Pick<Env, 'DB'>, code: string): Promise<{ id: number; name: string; credential: string } | null> {
  if (!CODE_SHAPE.test(code)) return null;
  const credential = `${HOST_TOKEN_PREFIX}${randomToken(32)}`;
  const now = nowIso();
  const row = await enrolHostByCode(db(env), await sha256Hex(code), await sha256Hex(credential), now);
  return row ? { ...row, credential } : null;
}

export function revokeHost(env: Pick<Env, 'DB'>, id: number): Promise<boolean> {
  return revokeHostRow(db(env), id);
}

export async function listHosts(env: Pick<Env, 'DB'>) {
  const rows = await listHostRows(db(env));
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
  const row = await hostByTokenHash(db(c.env), await sha256Hex(m[1]!));
  if (!row) throw refuse('invalid ingest credential');
  hosts.set(c.req.raw, row);
  await next();
};

export function currentHost(c: Context<AppEnv>): IngestHost {
  const host = hosts.get(c.req.raw);
  if (!host) throw refuse('ingest credential required');
  return host;
}
