/**
 * D1 read replicas (issue 17, target 5): every request's D1 work runs in one D1 session
 * (`env.DB.withSession(...)`), so reads may be served by a nearby replica while a client still
 * always reads its own writes.
 *
 *   base.use('*', d1Session);   // src/app.ts: handlers keep calling `db(c.env)`
 *
 * - GET/HEAD start from the client's bookmark (the `x-d1-bookmark` request header from API
 *   clients, else the `d1_bookmark` cookie the dashboard's browser carries by itself), or
 *   `first-unconstrained` (any replica) without one. A malformed bookmark is ignored, never a 500.
 * - Every other method starts `first-primary`: a write goes to the primary anyway, and its reads
 *   (conditional updates, changed-row checks) must see the latest state.
 * - The answer carries the session's latest bookmark back: the `x-d1-bookmark` response header
 *   (exposed to cross-origin scripts by CORS, src/http/middleware.ts) and, on same-origin browser
 *   requests, the cookie; the next read starts no earlier than that point.
 *
 * Durable Objects, cron and queue consumers keep the plain binding: they write, and have no client
 * to carry a bookmark. Without replication enabled on the database (docs/operations.md), a session
 * behaves exactly like the plain binding.
 */
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppEnv } from '../env';

export const BOOKMARK_HEADER = 'x-d1-bookmark';
export const BOOKMARK_COOKIE = 'd1_bookmark';

// D1 bookmarks are hex fields joined by dashes (e.g. `0000002a-00000001-00004ef4-<32 hex>`); the
// two constraint names are accepted too. Anything else is not worth a round trip to find out.
const BOOKMARK = /^(?:[0-9a-f]{1,64}(?:-[0-9a-f]{1,64}){0,7}|first-primary|first-unconstrained)$/i;
const MAX_BOOKMARK = 256;

/** The client's bookmark when well formed, else undefined (ignored, never an error). */
export function validBookmark(value: string | undefined | null): string | undefined {
  if (!value || value.length > MAX_BOOKMARK) return undefined;
  return BOOKMARK.test(value) ? value : undefined;
}

function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

export const d1Session: MiddlewareHandler<AppEnv> = async (c, next) => {
  const fromClient = isRead(c.req.method)
    ? validBookmark(c.req.header(BOOKMARK_HEADER)) ?? validBookmark(getCookie(c, BOOKMARK_COOKIE))
    : undefined;
  const session = c.env.DB.withSession(isRead(c.req.method) ? fromClient ?? 'first-unconstrained' : 'first-primary');
  // drizzle's D1 driver only calls `prepare` and `batch`, which a session has: the cast is for
  // the binding's other members (exec, dump, withSession) that nothing per-request uses.
  c.env = { ...c.env, DB: session as unknown as D1Database };
  await next();

  const bookmark = session.getBookmark();
  // No query ran (static answers, 404s before any lookup), or a WebSocket upgrade: nothing to carry.
  if (!bookmark || c.res.status === 101) return;
  const sameOriginBrowser = c.req.header('sec-fetch-site') === 'same-origin' || getCookie(c, BOOKMARK_COOKIE) !== undefined;
  try {
    c.res.headers.set(BOOKMARK_HEADER, bookmark);
  } catch {
    // A response passed through from R2 or a fetch has immutable headers: copy it once.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set(BOOKMARK_HEADER, bookmark);
  }
  if (sameOriginBrowser) {
    c.res.headers.append('Set-Cookie', `${BOOKMARK_COOKIE}=${bookmark}; Path=/; HttpOnly; Secure; SameSite=Lax`);
  }
};
