// The dashboard's one HTTP client (DVR contract §2.8): cookie auth (`credentials: 'include'`),
// JSON bodies, and on a 401 one `POST /api/auth/refresh` shared by every concurrent caller, then a
// single retry. Errors become `ApiError` whose message is the server's `error` text (or the raw
// body, or `HTTP <status>`), so pages can show exactly what the API said.
//
//   import { api, apiUrl } from './api.js';
//   const subs = await api.get('/api/subscriptions');
//   await api.post('/api/subscriptions', { driver: 'chaturbate', username: 'alice' });
//   img.src = apiUrl('/thumbnails/chaturbate/alice.jpg');

const meta = document.querySelector('meta[name="edgeplane-api-base"]');
/** '' = same origin; else e.g. "https://api.example.com" for a Pages deployment on a sibling host. */
export const API_BASE = ((meta && meta.content) || '').trim().replace(/\/+$/, '');
export const apiUrl = (path) => API_BASE + path;

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let refreshing = null;
/** Listeners told when the session is gone (refresh failed): the app goes to #/login. */
const lostHandlers = [];
export const onSessionLost = (fn) => lostHandlers.push(fn);

/** One refresh for every caller that saw a 401 at the same time. */
export function refreshSession() {
  if (!refreshing) {
    refreshing = fetch(apiUrl('/api/auth/refresh'), { method: 'POST', credentials: 'include' })
      .then((r) => r.ok)
      .catch(() => false)
      .finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  }
  return refreshing;
}

async function errorText(res) {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === 'string') return { message: j.error, body: j };
    if (j && typeof j.detail === 'string') return { message: j.detail, body: j };
  } catch { /* not JSON: show the text itself */ }
  return { message: text.trim().slice(0, 300) || `HTTP ${res.status}`, body: null };
}

/**
 * @param {string} method
 * @param {string} path  API path, e.g. "/api/me"
 * @param {{ body?: unknown, raw?: Blob|ArrayBuffer, contentType?: string, noRefresh?: boolean, signal?: AbortSignal, headers?: Record<string,string> }} [o]
 */
export async function request(method, path, o = {}) {
  const headers = { Accept: 'application/json', ...(o.headers || {}) };
  let body;
  if (o.raw !== undefined) {
    body = o.raw;
    if (o.contentType) headers['Content-Type'] = o.contentType;
  } else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['Content-Type'] = 'application/json';
  }
  const go = () => fetch(apiUrl(path), { method, headers, body, credentials: 'include', signal: o.signal });
  let res = await go();
  if (res.status === 401 && !o.noRefresh && !path.startsWith('/api/auth/')) {
    const ok = await refreshSession();
    if (!ok) {
      lostHandlers.forEach((fn) => fn());
      const { message, body: b } = await errorText(res);
      throw new ApiError(401, message, b);
    }
    res = await go();
  }
  if (!res.ok) {
    const { message, body: b } = await errorText(res);
    throw new ApiError(res.status, message, b);
  }
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const api = {
  get: (p, o) => request('GET', p, o),
  post: (p, body, o) => request('POST', p, { ...o, body }),
  put: (p, body, o) => request('PUT', p, { ...o, body }),
  patch: (p, body, o) => request('PATCH', p, { ...o, body }),
  del: (p, o) => request('DELETE', p, o),
};

/** Path segment for a driver/username as the contract builds them (single segments). */
export const seg = (s) => encodeURIComponent(String(s));
