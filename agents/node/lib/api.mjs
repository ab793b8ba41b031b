/**
 * The control plane as the agent sees it: the node-agent routes of the console API through Hono's
 * typed client (`hc`), every answer validated with zod before the agent acts on it. Network failures
 * and 5xx answers are `Unreachable` (retry with backoff); other refusals are `ApiError` with the
 * server's `code`.
 *
 * The JSDoc types come from the Worker's `App` (src/client.ts): type-only, erased at run time (the
 * shipped package does not contain src/), but `npm run typecheck` in the repository fails when a
 * route, a request field or an answer field the agent relies on is renamed.
 *
 *   const api = new NodeApi({ base: cfg.api, token: () => currentToken });
 *   const beat = await api.heartbeat({ status: 'ready', installs, sessions });
 */
// @ts-check
import { hc } from 'hono/client';
import { z } from 'zod';

/** @typedef {import('../../../src/client').Client} Client */
/**
 * The 2xx body the Worker declares for a call.
 * @template {(...args: any) => any} F
 * @typedef {import('../../../src/client').SuccessBody<Awaited<ReturnType<F>>>} Answer
 */
/**
 * `Served` must provide every field `Read` (what the agent's zod schema accepts) requires: a type error
 * here means the Worker renamed or dropped a field the agent acts on.
 * @template Read
 * @template {Read} Served
 * @typedef {Read} Provides
 */
/**
 * The JSON body a call takes.
 * @template {(...args: any) => any} F
 * @typedef {Parameters<F>[0] extends { json: infer J } ? J : never} BodyOf
 */

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

export class Unreachable extends Error {}

const Assignment = z.object({
  id: z.number().int().positive(),
  org_id: z.number().int(),
  user_id: z.number().int(),
  game_id: z.number().int(),
  status: z.string(),
  stream_token: z.string().min(1).max(8192),
  stream_token_expires_at: z.string(),
});

export const HeartbeatReply = z.object({
  node_id: z.number().int(),
  org_id: z.number().int(),
  status: z.string(),
  server_time: z.string(),
  heartbeat_interval_seconds: z.number().int().positive().max(3600),
  installs: z.number().int(),
  unknown_game_ids: z.array(z.number().int()),
  sessions: z.array(Assignment).max(4096),
  results: z.array(z.object({ id: z.number().int(), status: z.string() })),
  node_token: z.string().regex(/^epn_[A-Za-z0-9_-]{43}$/).optional(),
});

export const EnrolReply = z.object({
  node_id: z.number().int().positive(),
  org_id: z.number().int().positive(),
  node_name: z.string(),
  token: z.string().regex(/^epn_[A-Za-z0-9_-]{43}$/),
  session_token_issuer: z.string().min(1),
  session_token_audience: z.string().min(1),
  session_token_typ: z.string().min(1),
  jwks_url: z.string().url(),
});

const ResolveReply = z.object({
  games: z.array(z.object({ platform: z.string(), external_id: z.string(), game_id: z.number().int().positive() })),
});
const StatusReply = z.object({ id: z.number().int(), status: z.string() });
const ErrorBody = z.object({ error: z.string(), code: z.string() }).passthrough();

export class NodeApi {
  /** @param {{ base: string, token?: () => string, fetch?: typeof fetch, timeoutMs?: number }} o */
  constructor(o) {
    this.base = o.base.replace(/\/+$/, '');
    this.token = o.token ?? (() => '');
    this.fetch = o.fetch ?? fetch;
    this.timeoutMs = o.timeoutMs ?? 15_000;
  }

  /**
   * The typed client over the current `base` (read per call: the base may be re-pointed while the
   * agent runs, e.g. after a re-enrolment against another URL).
   * @returns {Client}
   */
  client() {
    // `hc<App>` cannot be spelled in JavaScript: the untyped proxy is given the client's type.
    return /** @type {Client} */ (/** @type {unknown} */ (hc(this.base, {
      // Read at call time: tests and the CLI swap `fetch`; every request gets its own timeout.
      fetch: (/** @type {RequestInfo | URL} */ input, /** @type {RequestInit | undefined} */ init) => this.fetch(input, { ...init, signal: AbortSignal.timeout(this.timeoutMs) }),
      headers: { Accept: 'application/json' },
    })));
  }

  /**
   * Sends one typed request and applies the agent's rules to the answer.
   * @template T
   * @param {string} label  `METHOD /path`, for messages
   * @param {(init: { headers: Record<string, string> }) => Promise<Response> | Promise<unknown>} send
   * @param {z.ZodType<T>} schema
   * @returns {Promise<T>}
   */
  async call(label, send, schema, { auth = true } = {}) {
    /** @type {Record<string, string>} */
    const headers = auth ? { Authorization: `Bearer ${this.token()}` } : {};
    /** @type {Response} */
    let res;
    try {
      res = /** @type {Response} */ (await send({ headers }));
    } catch (e) {
      const err = /** @type {Error & { cause?: { code?: string } }} */ (e);
      throw new Unreachable(`${label}: ${err.cause?.code ?? err.message}`);
    }
    const text = await res.text().catch(() => '');
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (res.status >= 500 || (res.status === 429 && !data)) throw new Unreachable(`${label}: HTTP ${res.status}`);
    if (!res.ok) {
      const err = ErrorBody.safeParse(data);
      throw new ApiError(res.status, err.success ? err.data.code : 'http_error', err.success ? err.data.error : `HTTP ${res.status}`);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new ApiError(res.status, 'bad_response', `${label}: unexpected answer (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`);
    return parsed.data;
  }

  /**
   * @param {string} code @param {number} [orgId]
   * @returns {Promise<Provides<z.infer<typeof EnrolReply>, Answer<Client['nodes']['enrol']['$post']>>>}
   */
  enrol(code, orgId) {
    const json = { code, ...(orgId ? { org_id: orgId } : {}) };
    return this.call('POST /nodes/enrol', (init) => this.client().nodes.enrol.$post({ json }, init), EnrolReply, { auth: false });
  }

  /**
   * @param {BodyOf<Client['nodes']['heartbeat']['$post']>} body
   * @returns {Promise<Provides<z.infer<typeof HeartbeatReply>, Answer<Client['nodes']['heartbeat']['$post']>>>}
   */
  heartbeat(body) {
    return this.call('POST /nodes/heartbeat', (init) => this.client().nodes.heartbeat.$post({ json: body }, init), HeartbeatReply);
  }

  /**
   * @param {BodyOf<Client['nodes']['catalog']['resolve']['$post']>['ids']} refs
   * @returns {Promise<Provides<z.infer<typeof ResolveReply>, Answer<Client['nodes']['catalog']['resolve']['$post']>>['games']>}
   */
  async resolve(refs) {
    const games = [];
    for (let i = 0; i < refs.length; i += 2000) {
      const ids = refs.slice(i, i + 2000);
      games.push(...(await this.call('POST /nodes/catalog/resolve', (init) => this.client().nodes.catalog.resolve.$post({ json: { ids } }, init), ResolveReply)).games);
    }
    return games;
  }

  /**
   * @param {number} id @param {BodyOf<Client['nodes']['sessions'][':session_id']['status']['$post']>['status']} status @param {unknown} [reason]
   * @returns {Promise<Provides<z.infer<typeof StatusReply>, Answer<Client['nodes']['sessions'][':session_id']['status']['$post']>>>}
   */
  reportSession(id, status, reason) {
    const json = { status, ...(reason ? { reason: String(reason).slice(0, 200) } : {}) };
    return this.call(`POST /nodes/sessions/${id}/status`, (init) => this.client().nodes.sessions[':session_id'].status.$post({ param: { session_id: String(id) }, json }, init), StatusReply);
  }
}
