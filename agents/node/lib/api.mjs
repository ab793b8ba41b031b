/**
 * The control plane as the agent sees it: the node-agent routes of the console API, every answer
 * validated with zod before the agent acts on it. Network failures and 5xx answers are
 * `Unreachable` (retry with backoff); other refusals are `ApiError` with the server's `code`.
 *
 *   const api = new NodeApi({ base: cfg.api, token: () => currentToken });
 *   const beat = await api.heartbeat({ status: 'ready', installs, sessions });
 */
import { z } from 'zod';

export class ApiError extends Error {
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

  async call(method, path, body, schema, { auth = true } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) headers.Authorization = `Bearer ${this.token()}`;
    let res;
    try {
      res = await this.fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new Unreachable(`${method} ${path}: ${e.cause?.code ?? e.message}`);
    }
    const text = await res.text().catch(() => '');
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (res.status >= 500 || (res.status === 429 && !data)) throw new Unreachable(`${method} ${path}: HTTP ${res.status}`);
    if (!res.ok) {
      const err = ErrorBody.safeParse(data);
      throw new ApiError(res.status, err.success ? err.data.code : 'http_error', err.success ? err.data.error : `HTTP ${res.status}`);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new ApiError(res.status, 'bad_response', `${method} ${path}: unexpected answer (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`);
    return parsed.data;
  }

  enrol(code, orgId) {
    return this.call('POST', '/nodes/enrol', { code, ...(orgId ? { org_id: orgId } : {}) }, EnrolReply, { auth: false });
  }

  heartbeat(body) {
    return this.call('POST', '/nodes/heartbeat', body, HeartbeatReply);
  }

  async resolve(refs) {
    const games = [];
    for (let i = 0; i < refs.length; i += 2000) games.push(...(await this.call('POST', '/nodes/catalog/resolve', { ids: refs.slice(i, i + 2000) }, ResolveReply)).games);
    return games;
  }

  reportSession(id, status, reason) {
    return this.call('POST', `/nodes/sessions/${id}/status`, { status, ...(reason ? { reason: String(reason).slice(0, 200) } : {}) }, StatusReply);
  }
}
