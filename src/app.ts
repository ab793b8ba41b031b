/**
 * The route map: shared middleware (by prefix where it applies to one, paths from
 * src/http/paths.ts), then every sub-app mounted under the prefix that names its resource, one
 * section per area, then the OpenAPI document and the one error handler that turns every failure
 * into `{ "error", "code", "details"? }`. Reading this file tells you where every URL goes.
 *
 *   export type App = typeof app;   // carries every route: the typed client (src/client) uses it
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from './env';
import { secretProblems } from './auth/secrets';
// identity
import { deviceAuthorizationRoutes, linkRoutes, pairedDeviceRoutes } from './auth/device-routes';
import { jwksRoutes } from './auth/jwks';
import { provideAccountCleanups } from './auth/user-admin';
import { consoleSignInRoutes, deviceTokenRoutes, registrationRoutes } from './console/account-routes';
import { consoleAccountCleanup } from './console/account-cleanup';
// platform
import { d1Session } from './http/d1-session';
import { ApiError } from './http/errors';
import { launcherPageRoutes } from './http/launcher-page';
import { apiCors, crossOriginResource, limitBodies, noStoreByDefault, requestContext, securityHeaders } from './http/middleware';
import { plainPatterns, validationHook } from './http/openapi';
import { countRoundTrips } from './http/round-trips';
import { CROSS_ORIGIN_RESOURCES } from './http/paths';
import { systemRoutes, version } from './http/system';
// metrics
import { metricsRoutes } from './metrics/routes';
// console
import { appRoutes, repoRoutes } from './console/apps/routes';
import { auditRoutes } from './console/audit/routes';
import { chartRoutes } from './console/charts/router';
import { coverRoutes, gameCoverRoutes } from './console/covers/routes';
import { gameRoutes } from './console/games';
import { orgLibraryRoutes, userLibraryRoutes } from './console/library';
import { memberRequestRoutes, orgMemberRequestRoutes } from './console/member-requests';
import { inviteRoutes, orgMemberRoutes, orgRoutes } from './console/orgs';
import { ownershipRoutes, steamLinkRoutes } from './console/ownership/router';
import { userAppRoutes, userSettingsRoutes } from './console/users/routes';
// play
import { nodeAdminRoutes } from './console/nodes/admin';
import { nodeAgentRoutes } from './console/nodes/agent';
import { gameAvailabilityRoutes } from './console/play/availability';
import { playLocalRoutes } from './console/play/local';
import { orgPlayQueueRoutes, orgPlaySessionRoutes } from './console/play/org-sessions';
import { playSessionRoutes } from './console/play/sessions';
// dvr
import { adminSourceRoutes, adminSubscriptionRoutes, adminUserSubscriptionRoutes, diagnosticsRoutes } from './dvr/admin';
import { dvrAuthRoutes, meRoutes } from './dvr/auth-routes';
import { configRoutes } from './dvr/config';
import { healthRoutes } from './dvr/health';
import { mediaRoutes, thumbnailRoutes } from './dvr/media';
import { ingestHostRoutes, ingestRoutes } from './dvr/recordings/ingest';
import { retentionRoutes, sourceRetentionRoutes } from './dvr/recordings/routes';
import { sourceRoutes } from './dvr/sources';
import { subscriptionRoutes } from './dvr/subscriptions';
import { dvrUserRoutes } from './dvr/users';
import { workerRoutes } from './dvr/workers';
// notifications
import { webhookRoutes } from './notifications/routes';

export function buildApp() {
  const base = new OpenAPIHono<AppEnv>({ defaultHook: validationHook<AppEnv>() });

  // Middleware first: Hono runs handlers in registration order.
  base.use('*', requestContext);
  // Off unless COUNT_ROUND_TRIPS="true" (the bench): every storage call after this point is counted.
  base.use('*', countRoundTrips);
  base.use('*', securityHeaders);
  base.use(CROSS_ORIGIN_RESOURCES, crossOriginResource);
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
  // Each request's D1 work in one D1 session: reads may use a replica, the client's bookmark keeps
  // its own writes visible (http/d1-session.ts). Handlers still call `db(c.env)`.
  base.use('*', d1Session);
  // Deleting or demoting an account ends what each area holds for it (auth/user-admin.ts): the
  // areas' parts are handed in here, so neither identity nor the DVR router imports the console.
  base.use('*', provideAccountCleanups([consoleAccountCleanup]));

  // The route map: every URL prefix and the module that serves it.
  const app = base
    // ── platform (src/http) ──
    .route('/', systemRoutes)
    .route('/', launcherPageRoutes)
    //
    // ── identity (src/auth; the console's sign-in answers in src/console/account-routes.ts) ──
    .route('/.well-known', jwksRoutes)
    .route('/users', registrationRoutes)
    .route('/auth', consoleSignInRoutes)
    .route('/auth/device', deviceAuthorizationRoutes)
    .route('/auth/device', deviceTokenRoutes)
    .route('/auth/devices', pairedDeviceRoutes)
    .route('/link', linkRoutes)
    //
    // ── console: tenancy, catalog, library (src/console) ──
    // '/orgs/requests' (the invitee's side) before '/orgs': a static segment wins over `{org_id}`.
    .route('/orgs/requests', memberRequestRoutes)
    .route('/orgs', orgRoutes)
    .route('/orgs/:org_id/members', orgMemberRoutes)
    .route('/orgs/:org_id/invites', inviteRoutes)
    .route('/orgs/:org_id/member-requests', orgMemberRequestRoutes)
    .route('/orgs/:org_id/library', orgLibraryRoutes)
    .route('/users/:user_id/settings', userSettingsRoutes)
    .route('/users/:user_id/apps', userAppRoutes)
    .route('/users/:user_id/library', userLibraryRoutes)
    .route('/games', gameRoutes)
    .route('/games/:game_id/cover', gameCoverRoutes)
    .route('/covers', coverRoutes)
    .route('/apps', appRoutes)
    .route('/repo', repoRoutes)
    .route('/auth/link/steam', steamLinkRoutes)
    .route('/ownership', ownershipRoutes)
    .route('/charts', chartRoutes)
    .route('/audit', auditRoutes)
    //
    // ── console: play sessions and nodes (src/console/play, src/console/nodes) ──
    .route('/sessions', playSessionRoutes)
    .route('/play', playLocalRoutes)
    .route('/games/:game_id/availability', gameAvailabilityRoutes)
    .route('/orgs/:org_id/sessions', orgPlaySessionRoutes)
    .route('/orgs/:org_id/queue', orgPlayQueueRoutes)
    .route('/orgs/:org_id/nodes', nodeAdminRoutes)
    .route('/nodes', nodeAgentRoutes)
    //
    // ── metrics (src/metrics) ──
    .route('/metrics', metricsRoutes)
    //
    // ── DVR (src/dvr), its API under /api ──
    // Only the routes that need the overseer link wake it (a start, a stop, /api/health,
    // /api/workers, diagnostics): an anonymous 404 never touches the one global object.
    .route('/api/auth', dvrAuthRoutes)
    .route('/api/me', meRoutes)
    .route('/api/subscriptions', subscriptionRoutes)
    .route('/api/sources', sourceRoutes)
    .route('/api/sources', sourceRetentionRoutes)
    .route('/api/admin/subscriptions', adminSubscriptionRoutes)
    .route('/api/admin/sources', adminSourceRoutes)
    .route('/api/admin/users', adminUserSubscriptionRoutes)
    .route('/api/admin/diagnostics', diagnosticsRoutes)
    .route('/api/admin/retention', retentionRoutes)
    .route('/api/admin/ingest/hosts', ingestHostRoutes)
    .route('/api/config', configRoutes)
    .route('/api/users', dvrUserRoutes)
    .route('/api/workers', workerRoutes)
    .route('/api/health', healthRoutes)
    .route('/api/ingest', ingestRoutes)
    .route('/media', mediaRoutes)
    .route('/thumbnails', thumbnailRoutes)
    //
    // ── notifications (src/notifications): webhooks for both products ──
    .route('/api/webhooks', webhookRoutes);
    //
    // ── end of the route map ──

  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Edgeplane',
      version,
      description:
        'The CouchSuite console API (at /) and the Sticky DVR control plane (at /api). Errors are `{ "error", "code", "details"? }`. ' +
        'Authenticated routes take an access token as `Authorization: Bearer` (or, from the dashboard, the `access_token` cookie).',
    },
    // Relative: the document describes whichever deployment serves it (production, staging, local).
    servers: [{ url: '/', description: 'The deployment serving this document' }],
  };
  app.get('/openapi.json', (c) => c.json(plainPatterns(app.getOpenAPI31Document(document)), 200));
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from a login or refresh, or an agent token where the route says so',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'cookie', {
    type: 'apiKey',
    in: 'cookie',
    name: 'access_token',
    description: "The dashboard's HttpOnly access-token cookie (same token as the bearer one)",
  });

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
