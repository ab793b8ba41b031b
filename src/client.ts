/**
 * The typed client of the Edgeplane API: Hono's `hc` over the `App` type, so a path, a parameter or
 * a response field that the Worker renames is a type error in every caller (tests, tools, agents).
 * Not part of the Worker bundle: nothing under src/index.ts imports it.
 *
 *   const api = createClient({ baseUrl: 'https://edgeplane.test', token: () => session.token, fetch: SELF.fetch.bind(SELF) });
 *   const me = await ok(api.users.me.$get());                        // the 2xx body, typed
 *   try { await ok(api.orgs[':org_id'].$get({ param: { org_id: '7' } })); }
 *   catch (e) { if (e instanceof ApiError && e.code === 'forbidden') … }  // the API's {error, code, details?}
 *
 * `ok()` turns every non-2xx answer into an `ApiError` carrying the API's error shape; callers that
 * assert on a status keep the raw `ClientResponse` (`await api.health.$get()`) instead.
 */
import { hc, type ClientResponse } from 'hono/client';
import type { App } from './app';

/** The one error body of the API (src/http/errors.ts). */
export interface ApiErrorBody {
  error: string;
  code: string;
  details?: unknown;
}

/** A non-2xx answer. `code` is the API's machine code, or `http_<status>` when the body is not the API's shape. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Headers,
  ) {
    super(`${status} ${code}: ${message}`);
  }

  static async from(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => '');
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (isErrorBody(body)) return new ApiError(res.status, body.code, body.error, body.details, res.headers);
    return new ApiError(res.status, `http_${res.status}`, text.trim().slice(0, 300) || `HTTP ${res.status}`, undefined, res.headers);
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as ApiErrorBody).error === 'string' && typeof (v as ApiErrorBody).code === 'string';
}

type SuccessStatus = 200 | 201 | 202 | 203 | 206 | 207 | 208 | 226;

/** The body type of a typed response's 2xx variants (204 and other empty answers give `null`). */
export type SuccessBody<R> = R extends ClientResponse<infer B, infer S, infer _F> ? (S extends SuccessStatus ? B : S extends 204 ? null : never) : never;

/**
 * Awaits a typed call and returns its 2xx JSON body; any other status throws `ApiError`.
 * A 204 (or an empty body) resolves to `null`.
 */
export async function ok<R extends ClientResponse<unknown, number, string>>(call: Promise<R> | R): Promise<SuccessBody<R>> {
  const res = await call;
  if (!res.ok) throw await ApiError.from(res as unknown as Response);
  if (res.status === 204) return null as SuccessBody<R>;
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as SuccessBody<R>;
}

export interface ClientOptions {
  /** Origin (and optional path prefix) of the Worker, e.g. `https://edgeplane.example` or `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** Bearer token, or a function read on every request (so a refreshed token is picked up). */
  token?: string | (() => string | null | undefined);
  /** Transport: tests pass the Worker's `SELF.fetch`, agents a fetch with a timeout. Defaults to the global fetch. */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** Extra headers on every request (e.g. `cf-connecting-ip` in tests). */
  headers?: Record<string, string>;
}

/** The client type of the whole API (what `createClient` returns). */
export type Client = ReturnType<typeof hc<App>>;

export function createClient(opts: ClientOptions): Client {
  const token = opts.token;
  return hc<App>(opts.baseUrl.replace(/\/+$/, ''), {
    ...(opts.fetch ? { fetch: opts.fetch as typeof fetch } : {}),
    headers: () => {
      const t = typeof token === 'function' ? token() : token;
      return { ...opts.headers, ...(t ? { Authorization: `Bearer ${t}` } : {}) };
    },
  });
}

export type { App };
