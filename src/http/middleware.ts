/**
 * Middleware every request passes through: request id + structured log line, security headers,
 * `Cache-Control: no-store` by default, CORS for the console API, and the body-size limit.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { routePath } from 'hono/route';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../env';
import { PayloadTooLarge } from './errors';
import { executionContextOf, recordMetric } from '../metrics/record';
import { configureLogging, createLogger, type LogLevel } from './log';

/** A request slower than this is logged at `info` even when it succeeded. */
const SLOW_REQUEST_MS = 1000;

/** Successful, fast requests are routine (`debug`); failures and slow ones are worth a line. */
export function requestLogLevel(status: number, ms: number): LogLevel {
  if (status >= 500) return 'error';
  if (status >= 400 || ms >= SLOW_REQUEST_MS) return 'info';
  return 'debug';
}

/** A fresh id per request, echoed as `X-Request-Id` and carried by every log line. */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  configureLogging(c.env);
  const requestId = crypto.randomUUID();
  c.set('requestId', requestId);
  const log = createLogger({ requestId });
  c.set('log', log);
  const started = Date.now();
  await next();
  c.header('X-Request-Id', requestId);
  const ms = Date.now() - started;
  log[requestLogLevel(c.res.status, ms)]('request', {
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    ms,
    user: c.get('user')?.id,
  });
  // The route pattern, not the URL: one series per route whatever the ids in the path.
  const route = routePath(c, -1);
  recordMetric(c.env, executionContextOf(c), 'http.requests', { route: route && !route.endsWith('*') ? route : 'unmatched', method: c.req.method, status: c.res.status });
};

/** The API's CSP: it serves JSON, media and images, never scripts. Static pages carry their own
 * CSP in `static/_headers`. */
const strictSecurityHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
  },
  xFrameOptions: 'DENY',
  referrerPolicy: 'strict-origin-when-cross-origin',
  strictTransportSecurity: 'max-age=31536000; includeSubDomains',
  crossOriginResourcePolicy: 'same-origin',
  crossOriginOpenerPolicy: 'same-origin',
});

export const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await strictSecurityHeaders(c, next);
  // Covers are public images: a launcher served from another origin must be able to show them.
  if (c.req.path.startsWith('/covers/')) c.res.headers.set('Cross-Origin-Resource-Policy', 'cross-origin');
};

/** API answers carry user data or tokens: not cacheable unless a route says otherwise. */
export const noStoreByDefault: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store');
};

/** A comma-separated origin list from a var. */
export function originList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}

const corsBase = {
  allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
  exposeHeaders: ['X-Request-Id', 'Retry-After', 'ETag', 'X-Redirect-To'],
  maxAge: 600,
};

/**
 * CORS, never `*`:
 * - `DASHBOARD_ORIGINS` (the dashboard deployed on a sibling host, e.g. as a Pages project) get
 *   credentialed CORS on every path: the dashboard authenticates with its same-site cookies;
 * - `CORS_ORIGINS` (launchers and other token clients) get CORS without credentials, on console
 *   routes only (the DVR API is the dashboard's).
 */
export const apiCors: MiddlewareHandler<AppEnv> = (c, next) => {
  const origin = c.req.header('Origin');
  if (origin && originList(c.env.DASHBOARD_ORIGINS).includes(origin)) {
    return cors({ ...corsBase, origin: (o) => o, credentials: true })(c, next);
  }
  if (isDvrPath(c.req.path)) return next();
  const allowed = originList(c.env.CORS_ORIGINS);
  return cors({ ...corsBase, origin: (o) => (allowed.includes(o) ? o : null), credentials: false })(c, next);
};

/** The DVR's URL space (its edge-auth semantics and its CORS differ from the console's). */
export function isDvrPath(path: string): boolean {
  return path.startsWith('/api/') || path.startsWith('/media/') || path.startsWith('/thumbnails/');
}

export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Routes that need more than the default, by method and path pattern. */
const largeBodies: Array<{ method: string; path: RegExp; max: number }> = [
  { method: 'PUT', path: /^\/games\/[0-9]+\/cover$/, max: 5 * 1024 * 1024 },
  // A node agent's heartbeat lists every install with its proof (up to 500).
  { method: 'POST', path: /^\/nodes\/heartbeat$/, max: 1024 * 1024 },
];

/** Rejects oversize bodies with 413 before any handler (or JSON parser) sees them. */
export const limitBodies: MiddlewareHandler<AppEnv> = (c, next) => {
  if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
  const special = largeBodies.find((r) => r.method === c.req.method && r.path.test(c.req.path));
  return bodyLimit({
    maxSize: special?.max ?? DEFAULT_BODY_LIMIT,
    onError: () => {
      throw new PayloadTooLarge();
    },
  })(c, next);
};

/** The client address as Cloudflare sees it. Only `cf-connecting-ip`: X-Forwarded-For is spoofable. */
export function clientIp(req: Request): string {
  return req.headers.get('cf-connecting-ip') ?? 'unknown';
}
