/**
 * The published public keys of the play-session token signer (`/.well-known/jwks.json`): nodes
 * verify play-session tokens offline with them. The keys and their rotation live in
 * `session-keys.ts`; this module only serves them.
 *
 *   app.route('/.well-known', jwksRoutes)   // GET /.well-known/jwks.json
 */
import { createRoute } from '@hono/zod-openapi';
import { errors, json, newRouter, z } from '../http/openapi';
import { publishedSessionKeys } from './session-keys';

export const jwksRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/jwks.json',
    operationId: 'getJwks',
    tags: ['identity'],
    security: [],
    summary: 'Public keys that verify play-session tokens (two, by kid, during a signing-key rotation)',
    // No request input can fail; the 404 is the house answer for any other path under /.well-known.
    responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), 'JWK set'), ...errors(404) },
  }),
  async (c) => {
    const { keys } = await publishedSessionKeys(c.env);
    c.header('Cache-Control', 'public, max-age=300');
    return c.json({ keys: keys as Array<Record<string, unknown>> }, 200);
  },
);
