/**
 * The overseer client: the one global OverseerLink Durable Object every DVR route talks to. Only
 * the routes that need the link reach for it (a start, a stop, /api/health, /api/workers,
 * diagnostics): an anonymous 404 never wakes the one global object.
 *
 *   await overseerLink(c.env).requestStart(ref);
 */

export function overseerLink(env: Pick<Env, 'OVERSEER_LINK'>) {
  return env.OVERSEER_LINK.getByName('overseer');
}
