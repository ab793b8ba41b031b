/**
 * Routers are `OpenAPIHono` apps: each route is declared once with `createRoute` and zod schemas,
 * which both validate the request (before the handler runs) and generate `/openapi.json`.
 *
 *   export const thingsRouter = newRouter().openapi(
 *     createRoute({ method: 'get', path: '/things/{id}', request: { params: IdParams },
 *                   middleware: [requireUser], responses: { 200: json(Thing, 'The thing'), ...errors(401, 404) } }),
 *     (c) => c.json(load(c.req.valid('param').id), 200),
 *   );
 */
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Hook } from '@hono/zod-openapi';
import type { Env as HonoEnv } from 'hono';
import type { AppEnv } from '../env';
import { BadRequest, ValidationFailed } from './errors';

type Issue = { path: PropertyKey[]; message: string; code: string };

/** Issues without the submitted values: a validation error never echoes input (passwords!). */
export function describeIssues(issues: readonly Issue[]) {
  return issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message, code: i.code }));
}

function firstMessage(issues: readonly Issue[]): string {
  const first = issues[0];
  if (!first) return 'invalid request';
  const where = first.path.map(String).join('.');
  return where ? `${where}: ${first.message}` : first.message;
}

/** Default: any zod failure is a 400 in the common error shape. */
export function validationHook<E extends HonoEnv = AppEnv>(): Hook<unknown, E, string, undefined> {
  return (result) => {
    if (!result.success) {
      const issues = result.error.issues as readonly Issue[];
      throw new ValidationFailed(firstMessage(issues), describeIssues(issues));
    }
  };
}

/** A hook for routes whose clients expect one exact message (the DVR dashboard's contract). */
export function failWith<T>(message: string): Hook<T, AppEnv, string, undefined> {
  return (result) => {
    if (!result.success) {
      throw new BadRequest(message, 'validation_failed', describeIssues(result.error.issues as readonly Issue[]));
    }
  };
}

/**
 * The generator writes a flagged regex (`/…/u`, needed for `\p{L}`) as its source plus `/u`, a
 * pattern no value can match (zod-to-openapi strips only the slashes it expects); JSON Schema
 * patterns are already Unicode-aware, so the flags are dropped from the published document.
 */
export function plainPatterns<T>(doc: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, k === 'pattern' && typeof x === 'string' ? x.replace(/(\$)\/[dgimsuvy]+$/, '$1') : walk(x)]),
    );
  };
  return walk(doc) as T;
}

export function newRouter<E extends HonoEnv = AppEnv>() {
  return new OpenAPIHono<E>({ defaultHook: validationHook<E>() });
}

// ─────────────── shared schemas ───────────────

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: 'not found' }),
    code: z.string().openapi({ example: 'not_found' }),
    details: z.unknown().optional(),
  })
  .openapi('Error');

const statusText: Record<number, string> = {
  400: 'Invalid request',
  401: 'Not authenticated (or token expired)',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Unsupported media type',
  429: 'Throttled; see Retry-After',
  502: 'Upstream service failed',
  503: 'Dependency unavailable',
};

/** The error responses a route documents, e.g. `...errors(400, 401, 404)`. */
export function errors<const S extends readonly (keyof typeof statusText)[]>(...statuses: S) {
  const out: Record<number, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }> = {};
  for (const s of statuses) {
    out[s] = { description: statusText[s] ?? 'Error', content: { 'application/json': { schema: ErrorSchema } } };
  }
  return out as { [K in S[number]]: { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } } };
}

/** `security` of a route behind `requireUser`, which takes the access token from either place: a
 * bearer header (launcher, scripts) or the dashboard's cookie. (`[{ bearer: [] }]` names the first
 * only; both schemes are registered in src/app.ts.) */
export const userSecurity: Array<Record<string, string[]>> = [{ bearer: [] }, { cookie: [] }];

/** A JSON response entry for `responses`. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** A required JSON request body. (`required: true` matters: without it a body with another
 * content type would skip validation entirely.) */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { 'application/json': { schema } } };
}

/** Path/query integer ids: decimal digits only, positive, within the safe-integer range. */
export const IntId = z
  .string()
  .regex(/^[0-9]{1,16}$/, 'must be a positive integer')
  .transform(Number)
  .refine((n) => n > 0 && Number.isSafeInteger(n), 'must be a positive integer');

export { z };
