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
import { consoleRouters } from './console/routes';
import { apiRouters, mediaRouter } from './dvr/routes';

export function buildApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook<AppEnv>() });

  app.use('*', requestContext);
  app.use('*', securityHeaders);
  app.use('*', noStoreByDefault);
  app.use('*', async (c, next) => {
    // A weak or missing secret: refuse to serve rather than run weak or fail half-way (auth/secrets.ts).
    const problems = await secretProblems(c.env);
    if (problems.length > 0) {
      c.get('log').error('refusing to serve: misconfigured', { problem: problems.join('; ') });
      return c.json({ error: 'server misconfigured', code: 'misconfigured' }, 503);
    }
    await next();
  });
  app.use('*', apiCors);
  app.use('*', limitBodies);

  app.route('/', systemRouter);
  app.route('/', consoleAuthRouter);
  app.route('/', deviceRouter);
  app.route('/api', dvrAuthRouter);
  for (const r of consoleRouters) app.route('/', r);
  for (const r of apiRouters) app.route('/api', r);
  app.route('/', mediaRouter);
  app.route('/', launcherPageRouter);

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
