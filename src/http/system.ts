/**
 * Platform routes: liveness (`/health` checks D1) and `/version` (from the VERSION file). The
 * published session-token keys are identity's (src/auth/jwks.ts); the DVR's `/api/health` is the
 * DVR's (src/dvr/health.ts).
 */
import { createRoute } from '@hono/zod-openapi';
import VERSION from '../../VERSION';
import { db } from '../db/client';
import { ping } from '../db/helpers';
import { ServiceUnavailable } from './errors';
import { errors, json, newRouter, z } from './openapi';

export const version = VERSION.trim();

export const systemRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/health',
      operationId: 'getHealth',
      tags: ['system'],
      security: [],
      summary: 'Liveness: answers when the Worker runs and D1 responds',
      responses: { 200: json(z.object({ ok: z.literal(true) }), 'Healthy'), ...errors(503) },
    }),
    async (c) => {
      try {
        await ping(db(c.env));
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
      operationId: 'getVersion',
      tags: ['system'],
      security: [],
      summary: 'The server version',
      responses: { 200: json(z.object({ server: z.string() }), 'Version') },
    }),
    (c) => c.json({ server: version }, 200),
  );
