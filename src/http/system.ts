/**
 * Platform routes: liveness (`/health` checks D1), `/version` (from the VERSION file), the DVR's
 * `/api/health` (overseer link state, contract §3.9). (The published session-token keys are
 * identity's: `src/auth/jwks.ts`.)
 */
import { createRoute } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import VERSION from '../../VERSION';
import { db } from '../db/client';
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
      operationId: 'getVersion',
      tags: ['system'],
      security: [],
      summary: 'The server version',
      responses: { 200: json(z.object({ server: z.string() }), 'Version') },
    }),
    (c) => c.json({ server: version }, 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/api/health',
      tags: ['dvr system'],
      summary: 'DVR health: 200 while the overseer link is open, 503 otherwise',
      responses: {
        200: json(z.object({ status: z.literal('ok'), overseer_connected: z.literal(true) }), 'Connected'),
        503: json(z.object({ status: z.literal('overseer_disconnected'), overseer_connected: z.literal(false) }), 'Overseer disconnected'),
      },
    }),
    async (c) => {
      const connected = await c.env.OVERSEER_LINK.getByName('overseer').isConnected();
      return connected
        ? c.json({ status: 'ok' as const, overseer_connected: true as const }, 200)
        : c.json({ status: 'overseer_disconnected' as const, overseer_connected: false as const }, 503);
    },
  );
