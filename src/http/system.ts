/**
 * Platform routes: liveness (`/health` checks D1), `/version` (from the VERSION file) and the
 * published session-token keys. (The DVR's `/api/health` lives in src/dvr/health.ts.)
 */
import { createRoute } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import VERSION from '../../VERSION';
import { db } from '../db/client';
import { publishedSessionKeys } from '../auth/session-keys';
import { ServiceUnavailable } from './errors';
import { errors, json, newRouter, z } from './openapi';

export const version = VERSION.trim();

export const systemRouter = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['system'],
      summary: 'Liveness: answers when the Worker runs and D1 responds',
      responses: { 200: json(z.object({ ok: z.literal(true) }), 'Healthy'), ...errors(503) },
    }),
    async (c) => {
      try {
        await db(c.env).run(sql`SELECT 1`);
      } catch {
        throw new ServiceUnavailable('database unavailable', 'db_unavailable');
      }
      return c.json({ ok: true as const }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/version',
      tags: ['system'],
      summary: 'The server version',
      responses: { 200: json(z.object({ server: z.string() }), 'Version') },
    }),
    (c) => c.json({ server: version }, 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/.well-known/jwks.json',
      tags: ['system'],
      summary: 'Public keys that verify play-session tokens (two, by kid, during a signing-key rotation)',
      responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), 'JWK set') },
    }),
    async (c) => {
      const { keys } = await publishedSessionKeys(c.env);
      c.header('Cache-Control', 'public, max-age=300');
      return c.json({ keys: keys as Array<Record<string, unknown>> }, 200);
    },
  );
