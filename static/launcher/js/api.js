// The console API client: JSON in and out, `Authorization: Bearer` with the in-memory access
// token, one transparent refresh-and-retry on 401 (the rotated refresh token is handed back to the
// owner every time), errors as ApiError with the server's `{error, code}`, and the connectivity
// the header's Wi-Fi icon shows: online (answers), degraded (5xx / gateway errors), offline (no
// answer). While not online a `/health` probe runs on a timer and reports the recovery.
//
//   const api = createApi({ base, onTokens: (t) => store.setRefreshToken(id, t.refresh_token) });
//   api.setSession({ token, refreshToken });
//   const tiles = await api.get(`/charts/top10?org_id=${org}`);
//   api.onConnectivity((state) => header.setWifi(state));

const TIMEOUT_MS = 10_000;
/** Sign-in and registration hash passwords on purpose (slow by design): give them longer. */
export const SLOW_TIMEOUT_MS = 30_000;
const PROBE_MS = 4000;

export class ApiError extends Error {
  /** @param {{status:number, code:string, message:string, retryAfter?:number|null, network?:boolean}} o */
  constructor(o) {
    super(o.message);
    this.status = o.status;
    this.code = o.code;
    this.retryAfter = o.retryAfter ?? null;
    this.network = Boolean(o.network);
  }
}

export function createApi({ base, onTokens = () => {}, onSessionLost = () => {} }) {
  let access = null;
  let refresh = null;
  let refreshing = null;
  let connectivity = 'online';
  let probeTimer = null;
  const listeners = new Set();

  const setConnectivity = (state) => {
    if (state === connectivity) return;
    const before = connectivity;
    connectivity = state;
    for (const l of listeners) l(state, before);
    if (state === 'online') {
      clearTimeout(probeTimer);
      probeTimer = null;
    } else if (!probeTimer) scheduleProbe();
  };

  function scheduleProbe() {
    probeTimer = setTimeout(async () => {
      probeTimer = null;
      await probe();
      if (connectivity !== 'online' && !probeTimer) scheduleProbe();
    }, PROBE_MS);
  }

  /** GET /health now; updates the connectivity. */
  async function probe() {
    try {
      const res = await fetchWithTimeout(`${base}/health`, { headers: { Accept: 'application/json' } });
      setConnectivity(res.ok ? 'online' : 'degraded');
    } catch {
      setConnectivity('offline');
    }
    return connectivity;
  }

  async function fetchWithTimeout(url, init, ms = TIMEOUT_MS) {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), ms);
    try {
      return await fetch(url, { ...init, signal: ctl.signal, credentials: 'omit', cache: 'no-store' });
    } finally {
      clearTimeout(t);
    }
  }

  async function raw(method, path, { body, auth = true, headers = {}, timeoutMs } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (auth && access) h.Authorization = `Bearer ${access}`;
    let res;
    try {
      res = await fetchWithTimeout(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) }, timeoutMs);
    } catch (e) {
      setConnectivity('offline');
      throw new ApiError({ status: 0, code: 'network', message: 'the console server cannot be reached', network: true });
    }
    setConnectivity(res.status >= 500 ? 'degraded' : 'online');
    const text = await res.text().catch(() => '');
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const ra = Number(res.headers.get('Retry-After'));
      throw new ApiError({
        status: res.status,
        code: (data && typeof data.code === 'string' && data.code) || `http_${res.status}`,
        message: (data && typeof data.error === 'string' && data.error) || `request failed (${res.status})`,
        retryAfter: Number.isFinite(ra) && ra > 0 ? ra : null,
        network: res.status >= 500,
      });
    }
    return data;
  }

  /** One refresh at a time; every caller waiting on a 401 shares it. */
  function refreshOnce() {
    if (!refresh) return Promise.resolve(false);
    refreshing ??= (async () => {
      try {
        const r = await raw('POST', '/auth/refresh', { body: { refresh_token: refresh }, auth: false });
        access = r.token;
        refresh = r.refresh_token;
        onTokens({ token: r.token, refresh_token: r.refresh_token });
        return true;
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 400)) {
          access = null;
          refresh = null;
          onTokens({ token: null, refresh_token: null });
          return false;
        }
        throw e;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  async function request(method, path, opts = {}) {
    try {
      return await raw(method, path, opts);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401 || opts.auth === false || !refresh) throw e;
      const ok = await refreshOnce();
      if (!ok) {
        onSessionLost();
        throw e;
      }
      try {
        return await raw(method, path, opts);
      } catch (e2) {
        if (e2 instanceof ApiError && e2.status === 401) onSessionLost();
        throw e2;
      }
    }
  }

  return {
    base,
    get connectivity() {
      return connectivity;
    },
    onConnectivity(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    probe,
    setSession({ token = null, refreshToken = null } = {}) {
      access = token;
      refresh = refreshToken;
    },
    clearSession() {
      access = null;
      refresh = null;
    },
    hasAccess: () => Boolean(access),
    refreshOnce,
    /** Fire-and-forget that survives the page going away (ending a session on unload). */
    beacon(method, path) {
      try {
        fetch(base + path, { method, keepalive: true, credentials: 'omit', headers: access ? { Authorization: `Bearer ${access}` } : {} }).catch(() => {});
      } catch {
        // Nothing more can be done while the page unloads; the session lease runs out on its own.
      }
    },
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts = {}) => request('POST', path, { ...opts, body }),
    del: (path, opts) => request('DELETE', path, opts),
    /** Absolute URL for a server-relative link such as a cover. */
    url(pathOrUrl) {
      if (!pathOrUrl) return null;
      try {
        return new URL(pathOrUrl, `${base}/`).href;
      } catch {
        return null;
      }
    },
  };
}
