/**
 * Middleware every request passes through: request id + structured log line + request metric,
 * security headers, `Cache-Control: no-store` by default, CORS, and the body-size limit. Which
 * paths get what is declared in `paths.ts`; src/app.ts registers these in order.
 *
 *   base.use('*', requestContext);
 *   base.use(CROSS_ORIGIN_RESOURCES, crossOriginResource);
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { routePath } from 'hono/route';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../env';
import { PayloadTooLarge } from './errors';
import { configureLogging, createLogger, type LogLevel } from './log';
import { executionContextOf, recordMetric } from './metrics/record';
import { bodyLimitFor, isDvrPath } from './paths';

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
 * CSP in `static/_headers`. A header the route set itself (the launcher shell's page CSP, a public
 * image's resource policy) is kept. */
export const securityHeaders: MiddlewareHandler<AppEnv> = secureHeaders({
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
  overwrite: false,
});

/** Public images (covers): a launcher served from another origin must be able to show them, error
 * answers included. */
export const crossOriginResource: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.res.headers.set('Cross-Origin-Resource-Policy', 'cross-origin');
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
  allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-None-Match', 'X-D1-Bookmark'],
  exposeHeaders: ['X-Request-Id', 'Retry-After', 'ETag', 'X-Redirect-To', 'X-D1-Bookmark'],
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

/** Rejects oversize bodies with 413 before any handler (or JSON parser) sees them. */
export const limitBodies: MiddlewareHandler<AppEnv> = (c, next) => {
  if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
  return bodyLimit({
    maxSize: bodyLimitFor(c.req.method, c.req.path),
    onError: () => {
      throw new PayloadTooLarge();
    },
  })(c, next);
};

/** The client address as Cloudflare sees it. Only `cf-connecting-ip`: X-Forwarded-For is spoofable. */
export function clientIp(req: Request): string {
  return req.headers.get('cf-connecting-ip') ?? 'unknown';
}
