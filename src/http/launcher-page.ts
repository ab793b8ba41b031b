/**
 * The web launcher's shell (`/launcher/`), served through the Worker so that its Content Security
 * Policy can name exactly the API origins this deployment allows: its own origin plus
 * `LAUNCHER_API_ORIGINS` (and, when the page itself is served from localhost, local development
 * servers). A `?api=` link or the settings can point the launcher only at those; the list is also
 * handed to the page in `<meta name="edgeplane-api-origins">` so it can refuse a foreign host with
 * a clear message instead of failing on the CSP.
 *
 *   app.route('/', launcherPageRoutes);   // GET /launcher/, /launcher/index.html
 */
import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { originList } from './middleware';
import { LAUNCHER_SHELL_PATHS } from './paths';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Origins the launcher page may call besides its own. */
export function launcherApiOrigins(env: Pick<Env, 'LAUNCHER_API_ORIGINS'>, pageUrl: string): string[] {
  const configured = originList(env.LAUNCHER_API_ORIGINS).filter((o) => /^https?:\/\/[^\s/'";]+$/.test(o));
  // A second local stack on another port is the usual development set-up (docs/launcher.md).
  const local = LOCAL_HOSTS.has(new URL(pageUrl).hostname) ? ['http://localhost:*', 'http://127.0.0.1:*'] : [];
  return [...configured, ...local];
}

export function launcherCsp(env: Pick<Env, 'LAUNCHER_API_ORIGINS'>, pageUrl: string): string {
  const extra = launcherApiOrigins(env, pageUrl).join(' ');
  const with_ = (base: string) => (extra ? `${base} ${extra}` : base);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    with_("img-src 'self' data: blob:"),
    with_("connect-src 'self'"),
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

async function shell(c: import('hono').Context<AppEnv>) {
  const asset = await c.env.ASSETS.fetch(new Request(new URL('/launcher/', c.req.url), { method: 'GET' }));
  const csp = launcherCsp(c.env, c.req.url);
  if (!asset.ok) {
    // Asset responses have immutable headers: copy before setting the page CSP.
    const res = new Response(asset.body, asset);
    res.headers.set('Content-Security-Policy', csp);
    return res;
  }
  const origins = launcherApiOrigins(c.env, c.req.url).join(' ');
  const page = new HTMLRewriter()
    .on('head', {
      element(head) {
        head.append(`<meta name="edgeplane-api-origins" content="${origins.replace(/[<>"&]/g, '')}">`, { html: true });
      },
    })
    .transform(asset);
  const res = new Response(page.body, asset);
  res.headers.set('Cache-Control', 'no-cache');
  // The page CSP, not the API's (the security-header middleware keeps a CSP a route set).
  res.headers.set('Content-Security-Policy', csp);
  res.headers.delete('Content-Length');
  return res;
}

// Mounted at '/' with full paths: under a '/launcher' mount, Hono's '/' is '/launcher' without the
// trailing slash, and the page's URL is '/launcher/' (its relative script paths depend on it).
export const launcherPageRoutes = new Hono<AppEnv>().get(LAUNCHER_SHELL_PATHS[0], shell).get(LAUNCHER_SHELL_PATHS[1], shell);
