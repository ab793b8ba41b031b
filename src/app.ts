/**
 * Builds the Hono app: shared middleware, the console routers at `/`, the DVR routers at `/api`,
 * the OpenAPI document, and the one error handler that turns every failure into
 * `{ "error", "code", "details"? }`.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from './env';
import { consoleAuthRouter } from './auth/console-routes';
import { dvrAuthRouter } from './auth/dvr-routes';
import { deviceRouter } from './auth/device';
import { launcherPageRouter } from './http/launcher-page';
import { secretProblems } from './auth/secrets';
import { ApiError } from './http/errors';
import { apiCors, limitBodies, noStoreByDefault, requestContext, securityHeaders } from './http/middleware';
import { validationHook } from './http/openapi';
import { systemRouter, version } from './http/system';
// platform
import { metricsRouter } from './metrics/router';
// console
import { appsRouter } from './console/apps';
import { auditRouter } from './console/audit-log';
import { chartsRouter } from './console/charts/router';
import { coversRouter } from './console/covers';
import { gamesRouter } from './console/games';
import { libraryRouter } from './console/library';
import { memberRequestsRouter } from './console/member-requests';
import { orgsRouter } from './console/orgs';
import { ownershipRouter } from './console/ownership/router';
import { usersRouter } from './console/users';
// play
import { nodesRouter } from './console/nodes';
import { orgSessionsRouter } from './console/org-sessions';
import { playRouter } from './console/play';
// dvr
import { adminRouter } from './dvr/admin';
import { configRouter } from './dvr/config';
import { mediaRouter } from './dvr/media';
import { ingestRouter } from './dvr/recordings/ingest';
import { recordingsRouter } from './dvr/recordings/routes';
import { sourcesRouter } from './dvr/sources';
import { subscriptionsRouter } from './dvr/subscriptions';
import { dvrUsersRouter } from './dvr/users';
import { workersRouter } from './dvr/workers';
// notifications
import { webhookRoutes } from './notifications/routes';

export function buildApp() {
  const base = new OpenAPIHono<AppEnv>({ defaultHook: validationHook<AppEnv>() });

  // Middleware first: Hono runs handlers in registration order.
  base.use('*', requestContext);
  base.use('*', securityHeaders);
  base.use('*', noStoreByDefault);
  base.use('*', async (c, next) => {
    // A weak or missing secret: refuse to serve rather than run weak or fail half-way (auth/secrets.ts).
    const problems = await secretProblems(c.env);
    if (problems.length > 0) {
      c.get('log').error('refusing to serve: misconfigured', { problem: problems.join('; ') });
      return c.json({ error: 'server misconfigured', code: 'misconfigured' }, 503);
    }
    await next();
  });
  base.use('*', apiCors);
  base.use('*', limitBodies);

  // The route map: every URL prefix and the module that serves it.
  const app = base
    // ── platform (src/http) ──
    .route('/', systemRouter)
    .route('/', launcherPageRouter)
    //
    // ── identity (src/auth) ──
    .route('/', consoleAuthRouter)
    .route('/', deviceRouter)
    //
    // ── console: tenancy, catalog, library (src/console) ──
    .route('/', orgsRouter)
    .route('/', usersRouter)
    .route('/', gamesRouter)
    .route('/', coversRouter)
    .route('/', appsRouter)
    .route('/', libraryRouter)
    .route('/', ownershipRouter)
    .route('/', chartsRouter)
    .route('/', auditRouter)
    .route('/', memberRequestsRouter)
    //
    // ── console: play sessions and nodes (src/console/play, src/console/nodes) ──
    .route('/', nodesRouter)
    .route('/', playRouter)
    .route('/', orgSessionsRouter)
    //
    // ── metrics (src/metrics) ──
    .route('/', metricsRouter)
    //
    // ── DVR (src/dvr), its API under /api ──
    // Only the routes that need the overseer link wake it (a start, a stop, /api/health,
    // /api/workers, diagnostics): an anonymous 404 never touches the one global object.
    .route('/api', dvrAuthRouter)
    .route('/api', subscriptionsRouter)
    .route('/api', sourcesRouter)
    .route('/api', adminRouter)
    .route('/api', configRouter)
    .route('/api', dvrUsersRouter)
    .route('/api', workersRouter)
    .route('/api', ingestRouter)
    .route('/api', recordingsRouter)
    .route('/', mediaRouter)
    //
    // ── notifications (src/notifications) ──
    .route('/api/webhooks', webhookRoutes);
    //
    // ── end of the route map ──

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Edgeplane',
      version,
      description: 'The CouchSuite console API (at /) and the Sticky DVR control plane (at /api).',
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });

  app.notFound((c) => c.json({ error: 'not found', code: 'not_found' }, 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
      return c.json(err.body(), err.status);
    }
    if (err instanceof HTTPException) {
      // Hono's own 4xx: the JSON validator's parse failure is the common one.
      const status = err.status;
      const message = status === 400 && /JSON/i.test(err.message) ? 'invalid JSON' : err.message || 'bad request';
      const code = status === 400 && message === 'invalid JSON' ? 'invalid_json' : 'http_error';
      return c.json({ error: message, code }, status);
    }
    c.get('log')?.error('unhandled error', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), stack: err instanceof Error ? err.stack : undefined });
    return c.json({ error: 'internal error', code: 'internal' }, 500);
  });

  return app;
}

export const app = buildApp();
export type App = typeof app;
