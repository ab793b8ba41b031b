/**
 * Calling the Worker from tests: requests go through the real `fetch` handler (all middleware,
 * real D1/R2/DOs), exactly as a client's would.
 *
 *   const res = await call('POST', '/auth/login', { body: { username, password } });
 *   const res = await call('GET', '/orgs', { token });
 *   const orgs = await ok(client({ token }).orgs.$get());   // typed (src/client.ts)
 */
import { SELF } from 'cloudflare:test';
import { createClient, type Client } from '../../src/client';

export { ApiError, ok } from '../../src/client';

export const BASE = 'https://edgeplane.test';

export interface CallOptions {
  body?: unknown;
  /** Raw body (string) instead of JSON. */
  raw?: BodyInit;
  token?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

export function call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers = new Headers(opts.headers);
  if (opts.body !== undefined) headers.set('Content-Type', 'application/json');
  if (opts.token) headers.set('Authorization', `Bearer ${opts.token}`);
  if (opts.cookie) headers.set('Cookie', opts.cookie);
  if (!headers.has('cf-connecting-ip')) headers.set('cf-connecting-ip', '203.0.113.7');
  return SELF.fetch(`${BASE}${path}`, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    redirect: 'manual',
  });
}

/** The JSON body of a raw `Response` or of a typed client's response, as `T`. */
export async function json<T = Record<string, unknown>>(res: { json(): Promise<unknown> }): Promise<T> {
  return (await res.json()) as T;
}

/** Cookies from Set-Cookie headers as `name=value` pairs (attributes dropped). */
export function cookiesOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const i = pair!.indexOf('=');
    out[pair!.slice(0, i)] = pair!.slice(i + 1);
  }
  return out;
}

export function cookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
}

/**
 * The typed client (src/client.ts) over the Worker's own fetch handler, as a test's actor:
 * `token` (or a function returning it) is sent as `Authorization: Bearer`.
 *
 *   const res = await client({ token: alice.token }).users[':user_id'].settings.$get({ param: { user_id: String(alice.id) } });
 *   const body = await ok(client().users.exists.$get());
 */
export function client(opts: { token?: string | (() => string | undefined); headers?: Record<string, string> } = {}): Client {
  return createClient({
    baseUrl: BASE,
    fetch: (input, init) => SELF.fetch(input, init),
    token: opts.token,
    headers: { 'cf-connecting-ip': '203.0.113.7', ...opts.headers },
  });
}
