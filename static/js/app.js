// Dashboard entry: session bootstrap, the hash router (one lazily imported module per page), the
// shell (navigation, theme switch, health badge, sign-out). Pages export
// `render(main, params, ctx)` and may return a cleanup function; pollers are stopped on leave.
//
//   #/login  #/  #/subscriptions  #/source/{driver}/{username}  #/profile
//   #/admin/{config,users,sources,diagnostics}  #/admin/users/{id}/subscriptions
//   #/console/{orgs,games,apps,nodes,sessions,charts,audit,metrics}  #/library  #/library/game/{id}  #/review  #/webhooks
import { api, apiUrl, onSessionLost } from './api.js';
import { h, fill, stopAllPolls, poll, setText } from './ui.js';
import { refreshReviewBadge } from './pages/library-shared.js';

const ROUTES = [
  // [pattern, module, access]  access: 'public' | 'user' | 'admin' | 'console'
  ['login', 'login', 'public'],
  ['', 'dashboard', 'user'],
  ['dashboard', 'dashboard', 'user'],
  ['subscriptions', 'subscriptions', 'user'],
  ['source/:driver/:username', 'source', 'user'],
  ['profile', 'profile', 'user'],
  ['link', 'link', 'user'],
  ['link/:code', 'link', 'user'],
  ['admin/config', 'admin-config', 'admin'],
  ['admin/users', 'admin-users', 'admin'],
  ['admin/users/:id/subscriptions', 'admin-user-subs', 'admin'],
  ['admin/sources', 'admin-sources', 'admin'],
  ['admin/diagnostics', 'admin-diagnostics', 'admin'],
  ['console/orgs', 'console-orgs', 'console'],
  ['console/games', 'console-games', 'admin'],
  ['console/apps', 'console-apps', 'admin'],
  ['console/nodes', 'console-nodes', 'console'],
  ['console/sessions', 'console-sessions', 'console'],
  ['console/charts', 'console-charts', 'console'],
  ['console/audit', 'console-audit', 'console'],
  ['console/metrics', 'metrics', 'console'],
  ['library', 'library', 'user'],
  ['library/game/:id', 'library', 'user'],
  ['review', 'review', 'console'],
  ['webhooks', 'webhooks', 'user'],
];

/** What every page gets: the user, role helpers, the org list for console pages. */
export const ctx = {
  user: null,
  orgs: [],
  get isAdmin() { return this.user?.role === 'admin'; },
  /** Orgs where the caller may administer (platform admins: all). */
  get adminOrgs() { return this.isAdmin ? this.orgs : this.orgs.filter((o) => o.role === 'owner' || o.role === 'admin'); },
  get canConsole() { return this.isAdmin || this.adminOrgs.length > 0; },
  navigate: (hash) => { location.hash = hash; },
  setUser,
  takeReturn: () => takeReturn(),
};

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, mod, access] of ROUTES) {
    const pp = pattern.split('/').filter(Boolean);
    if (pp.length !== parts.length) continue;
    const params = {};
    let ok = true;
    pp.forEach((p, i) => {
      if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(parts[i]);
      else if (p !== parts[i]) ok = false;
    });
    if (ok) return { mod, access, params, pattern };
  }
  return null;
}

/** Where a signed-out visitor was going (e.g. #/link/BCDF-GHJK from a TV's QR code): login.js
 * returns there. Only our own hash routes are kept. */
function rememberReturn(hash) {
  try { if (/^#\/[A-Za-z0-9/_-]*$/.test(hash) && !hash.startsWith('#/login')) sessionStorage.setItem('returnTo', hash); } catch { /* private mode */ }
}
export function takeReturn() {
  try { const r = sessionStorage.getItem('returnTo'); sessionStorage.removeItem('returnTo'); return r && /^#\/[A-Za-z0-9/_-]*$/.test(r) ? r : null; } catch { return null; }
}

function saveUser(u) {
  try { if (u) sessionStorage.setItem('user', JSON.stringify(u)); else sessionStorage.removeItem('user'); } catch { /* private mode */ }
}
function loadUser() {
  try { return JSON.parse(sessionStorage.getItem('user') || 'null'); } catch { return null; }
}
/** After login or on load: remember the user and learn their orgs (for the console section). */
async function setUser(u) {
  ctx.user = u;
  saveUser(u);
  ctx.orgs = [];
  if (u) {
    try { ctx.orgs = await api.get('/orgs'); } catch { ctx.orgs = []; }
  }
  paintShell();
}

function paintShell() {
  const u = ctx.user;
  setText(document.getElementById('who'), u ? `${u.username}${ctx.isAdmin ? ' · admin' : ''}` : '');
  // Admin-only navigation is removed from view for users (the API refuses them anyway).
  for (const el of document.querySelectorAll('[data-admin]')) el.hidden = !ctx.isAdmin;
  for (const el of document.querySelectorAll('[data-admin-only]')) el.hidden = !ctx.isAdmin;
  for (const el of document.querySelectorAll('[data-console]')) el.hidden = !ctx.canConsole;
  refreshReviewBadge(ctx);
}

let cleanup = null;
let healthStop = null;
let seq = 0;

/** The <main> on screen: the shell's, or the sign-in page's. */
function visibleMain() {
  const shell = document.getElementById('shell');
  return shell.hidden ? document.getElementById('login-root') : document.getElementById('main');
}
/** Focus an in-page target (the skip link's), making it focusable first if it is not. */
function focusTarget(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
  el.focus();
}

let lastRouteHash = '';
async function route() {
  // An in-page anchor (the skip link's "#main", opened in a new tab or typed) is not a route: put
  // the current route back in the address bar and go to the anchor (on a fresh load: the dashboard).
  if (/^#[^/]/.test(location.hash)) {
    const id = decodeURIComponent(location.hash.slice(1));
    history.replaceState(history.state, '', lastRouteHash || '#/');
    if (lastRouteHash) { focusTarget(id === 'main' ? visibleMain() : document.getElementById(id)); return; }
  }
  lastRouteHash = location.hash || '#/';
  const path = decodeURIComponent(location.hash.replace(/^#\/?/, '')).replace(/\/+$/, '');
  const m = match(path);
  const my = ++seq;
  stopAllPolls();
  healthStop = null;
  if (typeof cleanup === 'function') { try { cleanup(); } catch { /* page already gone */ } }
  cleanup = null;
  closeMenu();

  if (!ctx.user && m?.access !== 'public') {
    const stored = loadUser();
    if (stored) await setUser(stored);
    else {
      try { await setUser(await api.get('/api/me')); } catch { /* not signed in */ }
    }
    if (my !== seq) return;
    if (!ctx.user) { rememberReturn(location.hash); location.replace('#/login'); return; }
  }

  const shell = document.getElementById('shell');
  const loginRoot = document.getElementById('login-root');
  if (m?.access === 'public') {
    if (ctx.user) { location.replace('#/'); return; }
    shell.hidden = true;
    fill(document.getElementById('main')); // nothing of the last page stays in the document
    loginRoot.hidden = false;
    const page = await import(`./pages/${m.mod}.js`);
    if (my !== seq) return;
    cleanup = await page.render(fill(loginRoot), m.params, ctx);
    return;
  }
  shell.hidden = false;
  loginRoot.hidden = true;
  fill(loginRoot); // the sign-in form must not linger (duplicate labels, stale password)
  startHealth();
  const main = document.getElementById('main');
  for (const a of document.querySelectorAll('.sidebar a')) {
    const r = a.dataset.route;
    const cur = m && (r === m.pattern || (r === 'dashboard' && m.pattern === '') || (m.pattern.startsWith(`${r}/`) && r !== 'dashboard'));
    if (cur) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (!m) { fill(main, h('h1', {}, 'Page not found'), h('p', { class: 'muted' }, 'Nothing lives at this address. ', h('a', { href: '#/' }, 'Go to the dashboard'))); return; }
  const allowed = m.access === 'user' || (m.access === 'admin' && ctx.isAdmin) || (m.access === 'console' && ctx.canConsole);
  if (!allowed) { fill(main, h('h1', {}, 'Not available'), h('p', { class: 'muted' }, 'This page is for administrators.')); return; }
  fill(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    const page = await import(`./pages/${m.mod}.js`);
    if (my !== seq) return;
    fill(main);
    cleanup = await page.render(main, m.params, ctx);
    // Moving focus to the page lets keyboard and screen-reader users start at the new content.
    if (my === seq && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  } catch (e) {
    if (my !== seq) return;
    fill(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'form-error' }, e?.message || String(e)),
      h('button', { type: 'button', class: 'btn', onclick: route }, 'Try again'));
  }
}

/** Overseer / backend badge in the top bar (dvr-api §3.9), polled every 5 s. */
function startHealth() {
  if (healthStop) return;
  const el = document.getElementById('health');
  healthStop = poll(async () => {
    try {
      const r = await fetch(apiUrl('/api/health'), { credentials: 'include' });
      const j = await r.json().catch(() => null);
      if (r.ok && j?.overseer_connected !== false) setText(el, '');
      else if (r.status === 503 && j && j.overseer_connected === false) setText(el, 'Overseer offline');
      else setText(el, 'Backend unreachable');
    } catch {
      setText(el, 'Backend unreachable');
    }
  }, { every: 5000, quietErrors: true });
}

// ---------- shell wiring ----------
const menuBtn = document.getElementById('menu-btn');
const sidebar = document.getElementById('sidebar');
const scrim = document.getElementById('scrim');
function closeMenu() {
  sidebar.classList.remove('open');
  scrim.hidden = true;
  menuBtn.setAttribute('aria-expanded', 'false');
}
menuBtn.addEventListener('click', () => {
  const open = !sidebar.classList.contains('open');
  sidebar.classList.toggle('open', open);
  scrim.hidden = !open;
  menuBtn.setAttribute('aria-expanded', String(open));
  if (open) sidebar.querySelector('a')?.focus();
});
scrim.addEventListener('click', closeMenu);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && sidebar.classList.contains('open')) { closeMenu(); menuBtn.focus(); }
});

// The skip link goes to the <main> on screen without touching the hash (which is the router's).
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  focusTarget(visibleMain());
});

// The theme button is a toggle for the dark theme: aria-pressed says which theme is on.
const themeBtn = document.getElementById('theme-btn');
const prefersLight = matchMedia('(prefers-color-scheme: light)');
const currentTheme = () => document.documentElement.dataset.theme || (prefersLight.matches ? 'light' : 'dark');
function paintThemeButton() {
  const dark = currentTheme() === 'dark';
  themeBtn.setAttribute('aria-pressed', String(dark));
  themeBtn.title = dark ? 'Dark theme: on' : 'Dark theme: off';
}
themeBtn.addEventListener('click', () => {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  try { localStorage.setItem('edgeplane-theme', next); } catch { /* not persisted */ }
  paintThemeButton();
});
prefersLight.addEventListener('change', paintThemeButton);
paintThemeButton();

document.getElementById('logout-btn').addEventListener('click', async () => {
  try { await api.post('/api/auth/logout'); } catch { /* the session may already be gone */ }
  await setUser(null);
  location.hash = '#/login';
});

onSessionLost(() => {
  ctx.user = null;
  saveUser(null);
  if (!location.hash.startsWith('#/login')) location.hash = '#/login';
});

window.addEventListener('hashchange', route);
route();
