/**
 * `GET /api/health` (contract §3.9), mounted at `/api/health`: 200 while an overseer link is open
 * (with several overseers: while at least one is, since the others' sources fail over to it), 503
 * otherwise. With several overseers, `overseers` adds each one's state. Public, like the reference; it wakes the
 * links that are down (that is its point).
 */
import { createRoute } from '@hono/zod-openapi';
import { json, newRouter, z } from '../http/openapi';
import { overseerLinks } from './overseer';

const Overseers = z.array(z.object({ id: z.string(), connected: z.boolean() }));

export const healthRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    operationId: 'getDvrHealth',
    tags: ['dvr system'],
    summary: 'DVR health: 200 while an overseer link is open, 503 otherwise',
    security: [],
    responses: {
      200: json(z.object({ status: z.literal('ok'), overseer_connected: z.literal(true), overseers: Overseers.optional() }), 'Connected'),
      503: json(z.object({ status: z.literal('overseer_disconnected'), overseer_connected: z.literal(false), overseers: Overseers.optional() }), 'Overseer disconnected'),
    },
  }),
  async (c) => {
    const links = overseerLinks(c.env);
    const overseers = await Promise.all(links.map(async ({ id, link }) => ({ id, connected: await link.isConnected() })));
    // The one-overseer answer stays exactly the contract's; a fleet adds each overseer's state.
    const extra = links.length > 1 ? { overseers } : {};
    return overseers.some((o) => o.connected)
      ? c.json({ status: 'ok' as const, overseer_connected: true as const, ...extra }, 200)
      : c.json({ status: 'overseer_disconnected' as const, overseer_connected: false as const, ...extra }, 503);
  },
);
