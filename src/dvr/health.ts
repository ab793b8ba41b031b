/**
 * `GET /api/health` (contract §3.9), mounted at `/api/health`: 200 while the overseer link is open,
 * 503 otherwise. Public, like the reference; it wakes the overseer link (that is its point).
 */
import { createRoute } from '@hono/zod-openapi';
import { json, newRouter, z } from '../http/openapi';
import { overseerLink } from './overseer';

export const healthRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    operationId: 'getDvrHealth',
    tags: ['dvr system'],
    summary: 'DVR health: 200 while the overseer link is open, 503 otherwise',
    security: [],
    responses: {
      200: json(z.object({ status: z.literal('ok'), overseer_connected: z.literal(true) }), 'Connected'),
      503: json(z.object({ status: z.literal('overseer_disconnected'), overseer_connected: z.literal(false) }), 'Overseer disconnected'),
    },
  }),
  async (c) => {
    const connected = await overseerLink(c.env).isConnected();
    return connected
      ? c.json({ status: 'ok' as const, overseer_connected: true as const }, 200)
      : c.json({ status: 'overseer_disconnected' as const, overseer_connected: false as const }, 503);
  },
);
