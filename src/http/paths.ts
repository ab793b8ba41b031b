/**
 * What the platform knows about the URL space, declared once: which paths the Worker must see
 * before the static assets (`run_worker_first`), which are the DVR's, which take bodies larger
 * than the default, and which answer with a cross-origin resource policy or a page CSP. The
 * middleware (`middleware.ts`) and `wrangler.toml` read it from here instead of spelling paths.
 *
 *   isDvrPath('/api/subscriptions')           // true: DVR CORS and edge-auth semantics
 *   bodyLimitFor('PUT', '/games/7/cover')     // 5 MiB
 *
 * `wrangler.toml` cannot import TypeScript: test/node/wrangler-config.test.mjs checks that its
 * `run_worker_first` equals `RUN_WORKER_FIRST`, and test/platform/paths.test.ts that the list
 * covers every documented route and that no pattern matches nothing.
 */

/**
 * Asset-router patterns (`*` matches the rest of the path) that reach the Worker before the static
 * assets. Everything else under `static/` (the dashboard at `/`, the launcher's scripts) is served
 * without invoking the Worker.
 */
export const RUN_WORKER_FIRST = [
  '/api/*', '/media/*', '/thumbnails/*',
  '/health', '/version', '/openapi.json', '/.well-known/*',
  '/apps', '/apps/*', '/repo/*',
  '/users', '/users/*', '/auth/*', '/orgs', '/orgs/*',
  '/games', '/games/*', '/charts/*', '/ownership/*', '/play/*',
  '/sessions', '/sessions/*', '/nodes/*', '/covers/*', '/audit', '/metrics', '/metrics/*',
  '/link', '/launcher/', '/launcher/index.html',
] as const;

/** Whether a `run_worker_first` pattern sends `path` to the Worker (the asset router's glob). */
export function matchesWorkerFirst(pattern: string, path: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(path);
}

/** The DVR's URL space: its API, recordings and thumbnails. Its edge-auth answers (403 with
 * `X-Redirect-To`) and its CORS (dashboard origins only) differ from the console's. */
export const DVR_PREFIXES = ['/api/', '/media/', '/thumbnails/'] as const;

export function isDvrPath(path: string): boolean {
  return DVR_PREFIXES.some((p) => path.startsWith(p));
}

/** The launcher's shell: a page, served with the launcher's CSP (launcher-page.ts). */
export const LAUNCHER_SHELL_PATHS = ['/launcher/', '/launcher/index.html'] as const;

/** Public images a launcher on another origin must be able to show (`Cross-Origin-Resource-Policy:
 * cross-origin`), as a Hono path pattern. */
export const CROSS_ORIGIN_RESOURCES = '/covers/*';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Routes that take more than `DEFAULT_BODY_LIMIT`, by method and path. */
export const LARGE_BODIES: ReadonlyArray<{ method: string; path: RegExp; max: number }> = [
  { method: 'PUT', path: /^\/games\/[0-9]+\/cover$/, max: 5 * 1024 * 1024 },
  // A node agent's heartbeat lists every install with its proof (up to 500).
  { method: 'POST', path: /^\/nodes\/heartbeat$/, max: 1024 * 1024 },
  // A media agent's upload part (src/dvr/recordings/uploads.ts: MAX_PART_SIZE).
  { method: 'PUT', path: /^\/api\/ingest\/uploads\/[^/]+\/parts\/[0-9]+$/, max: 32 * 1024 * 1024 },
];

export function bodyLimitFor(method: string, path: string): number {
  return LARGE_BODIES.find((r) => r.method === method && r.path.test(path))?.max ?? DEFAULT_BODY_LIMIT;
}
