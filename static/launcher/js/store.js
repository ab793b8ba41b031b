// What this device remembers, in localStorage: the API base URL (a `?api=` query parameter
// overrides and replaces it), and per API base the remembered profiles, each profile's refresh
// token, the last user, each user's last org, preferences and the last good tiles (shown offline).
// The access token is never stored: it lives in memory (api.js).
//
//   const base = resolveApiBase(location);        // stored → this origin (?api= needs confirming)
//   const s = deviceStore(base);
//   s.rememberProfile({ user_id: 7, username: 'ana', role: 'user' });
//   s.setRefreshToken(7, 'rt...');  s.lastOrg(7);  s.cacheTiles('home:1', tiles);

const ROOT = 'edgeplane.launcher';

function read(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    if (value === undefined || value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or a full quota: the launcher still works, it just forgets.
  }
}

/** An http(s) URL without a trailing slash, or null. A bare host gets http:// like the prototype. */
export function normalizeBase(input) {
  if (typeof input !== 'string') return null;
  let v = input.trim();
  if (!v) return null;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) v = `http://${v}`;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    if (u.username || u.password) return null;
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return null;
  }
}

/** The API base a `?api=` link asks for (normalised), or null. It is never used before the person
 * confirms it on the CONFIRM_API screen: a link must not silently repoint the launcher (issue 11). */
export function apiFromQuery(loc = location) {
  return normalizeBase(new URLSearchParams(loc.search).get('api') ?? '');
}

/** The remembered API base, else the page's own origin. */
export function resolveApiBase(loc = location) {
  return normalizeBase(read(`${ROOT}.api`, '')) ?? loc.origin;
}

/**
 * Whether this deployment lets the launcher call `base`: its own origin, or one of the origins the
 * Worker lists in `<meta name="edgeplane-api-origins">` (the same list as the page's CSP; `*` ports
 * as in CSP). Without the meta (a static copy) the CSP alone decides.
 */
export function apiAllowed(base, loc = location, doc = document) {
  let origin;
  try {
    origin = new URL(base).origin;
  } catch {
    return false;
  }
  if (origin === loc.origin) return true;
  const meta = doc.querySelector('meta[name="edgeplane-api-origins"]');
  if (!meta) return true;
  return meta.content.split(/\s+/).filter(Boolean).some((o) => {
    if (!o.endsWith(':*')) return o === origin;
    const u = new URL(origin);
    return `${u.protocol}//${u.hostname}` === o.slice(0, -2);
  });
}

export function saveApiBase(base) {
  write(`${ROOT}.api`, base);
}

export function deviceStore(base) {
  const ns = `${ROOT}@${base}`;
  const k = (name) => `${ns}.${name}`;
  return {
    profiles() {
      const list = read(k('profiles'), []);
      return Array.isArray(list) ? list.filter((p) => p && Number.isSafeInteger(p.user_id) && typeof p.username === 'string') : [];
    },
    rememberProfile({ user_id, username, role }) {
      const rest = this.profiles().filter((p) => p.user_id !== user_id);
      write(k('profiles'), [{ user_id, username, role: role ?? 'user' }, ...rest].slice(0, 8));
      write(k('lastUser'), user_id);
    },
    forgetProfile(userId) {
      write(k('profiles'), this.profiles().filter((p) => p.user_id !== userId));
      write(k(`refresh.${userId}`), null);
    },
    lastUser() {
      return read(k('lastUser'), null);
    },
    refreshToken(userId) {
      const t = read(k(`refresh.${userId}`), null);
      return typeof t === 'string' ? t : null;
    },
    setRefreshToken(userId, token) {
      write(k(`refresh.${userId}`), token || null);
    },
    lastOrg(userId) {
      return read(k(`org.${userId}`), null);
    },
    setLastOrg(userId, orgId) {
      write(k(`org.${userId}`), orgId);
    },
    prefs() {
      const p = read(k('prefs'), {});
      return { playMode: p.playMode === 'local' ? 'local' : 'cloud', region: typeof p.region === 'string' ? p.region : '' };
    },
    setPrefs(p) {
      write(k('prefs'), { ...this.prefs(), ...p });
    },
    cachedTiles(key) {
      const c = read(k(`cache.${key}`), null);
      return c && Array.isArray(c.items) ? c : null;
    },
    cacheTiles(key, items) {
      write(k(`cache.${key}`), { items, at: new Date().toISOString() });
    },
    recents(userId) {
      const r = read(k(`recents.${userId}`), []);
      return Array.isArray(r) ? r : [];
    },
    pushRecent(userId, game) {
      const rest = this.recents(userId).filter((g) => g.game_id !== game.game_id);
      write(k(`recents.${userId}`), [game, ...rest].slice(0, 10));
    },
  };
}
