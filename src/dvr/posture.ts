/**
 * Posture rules (contract §7) and the one posture-route factory the user router (by
 * `{driver}/{username}`) and the admin router (by `{sub_id}`) share. A source records while it has
 * ≥ 1 active subscription and is not errored: starts fire when a write leaves exactly one active
 * subscription (§7.3, also for a user's resume: the reference defect of §7.9 is fixed); stops when
 * none is left (§7.4).
 *
 *   await applyPosture(c, row, 'paused', 'owner');   // audited; stops the recorder if none is left
 *   newRouter().route('/', postureRoutes({ params: SubIdParams, path: '/{sub_id}', via: 'admin', … }))
 */
import { createRoute, type z } from '@hono/zod-openapi';
import type { Hook } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { audit, auditStatement } from '../auth/audit';
import { db } from '../db/client';
import { BadRequest, Conflict, NotFound } from '../http/errors';
import { describeIssues, errors, json, newRouter } from '../http/openapi';
import { overseerLink } from './overseer';
import { writePosture, type Posture, type StatusRow } from './queries';
import { refOf, statusWithLogs, SubscriptionStatusSchema } from './status';

export type { Posture };

const VERB: Record<Posture, string> = { active: 'resume', paused: 'pause', archived: 'archive' };

/**
 * A posture change by the owner or by an admin (`via`), audited, with its side effect: start when
 * this write left exactly one active subscription, stop when it left none. The count comes from
 * the same atomic batch as the write, so concurrent resumes agree on who was first.
 */
export async function applyPosture(c: Context<AppEnv>, row: StatusRow, posture: Posture, via: 'owner' | 'admin'): Promise<void> {
  // Idempotent pause/resume: nothing written, nothing audited (archive always writes, §3.4).
  if (posture !== 'archived' && row.posture === posture) return;
  const action = `dvr.${via === 'admin' ? 'admin.' : ''}subscription.${VERB[posture]}`;
  const entry = {
    targetType: 'subscription',
    targetId: row.subId,
    details: { source: `${row.driver}/${row.username}`, owner_user_id: row.userId, from: row.posture },
  };
  const { changed, active } = await writePosture(db(c.env), { subId: row.subId, sourceId: row.sourceId, posture }, auditStatement(c, action, entry));
  if (!changed) return;
  const ref = refOf(row);
  if (posture === 'active' && active === 1) await overseerLink(c.env).requestStart(ref);
  if (posture !== 'active' && active === 0) await overseerLink(c.env).stopSource(ref);
}

/** The body hook of `POST /api/subscriptions`: the contract's exact messages (missing or empty
 * field → "<field> is required"; present but unusable → which rule it broke). */
export function subscribeHook(result: { success: boolean; error?: { issues: readonly { path: PropertyKey[]; message: string; code: string }[] } }): undefined {
  if (result.success || !result.error) return undefined;
  const issues = result.error.issues;
  const details = describeIssues(issues);
  if (issues.some((i) => i.path.length === 0)) throw new BadRequest('invalid JSON', 'invalid_json', details);
  for (const key of ['driver', 'username']) {
    const mine = issues.filter((i) => i.path[0] === key);
    if (mine.length === 0) continue;
    if (mine.some((i) => i.code === 'invalid_type' || i.code === 'too_small')) throw new BadRequest(`${key} is required`, 'validation_failed', details);
    throw new BadRequest(`${key}: ${mine[0]!.message}`, 'validation_failed', details);
  }
  throw new BadRequest('invalid request', 'validation_failed', details);
}

// ───────────── the posture-route factory ─────────────

type Action = 'pause' | 'resume' | 'archive';
const POSTURE_OF: Record<Action, Posture> = { pause: 'paused', resume: 'active', archive: 'archived' };

/** How one router addresses a subscription: the user router by source, the admin one by `sub_id`. */
export interface PostureRouteOptions<P extends z.ZodObject> {
  /** The path params and their sub-app path, e.g. `SourceParams` and `'/{driver}/{username}'`. */
  params: P;
  path: string;
  via: 'owner' | 'admin';
  tags: string[];
  middleware: MiddlewareHandler<AppEnv>[];
  /** operationId of each operation: `pause` → `pauseSubscription` or `pauseAnySubscription`. */
  operationId: (verb: Action | 'delete' | 'resetError') => string;
  summaries: Record<Action | 'delete' | 'resetError', string>;
  /** The addressed subscription's row, or `Err` (404 for postures, 409 for reset-error). */
  find: (c: Context<AppEnv>, params: z.output<P>, Err: typeof NotFound | typeof Conflict) => Promise<StatusRow>;
  hook?: Hook<unknown, AppEnv, string, undefined>;
}

/**
 * Archive (DELETE), pause, resume, archive and reset-error on one subscription, for either router.
 * Answers carry the subscription after the write, with its log tail.
 */
export function postureRoutes<P extends z.ZodObject>(o: PostureRouteOptions<P>) {
  const route = (method: 'post' | 'delete', suffix: string, verb: Action | 'delete' | 'resetError', ok: 200 | 204) =>
    createRoute({
      method,
      path: `${o.path}${suffix}`,
      operationId: o.operationId(verb),
      tags: o.tags,
      summary: o.summaries[verb],
      security: [{ bearer: [] }],
      middleware: o.middleware,
      request: { params: o.params },
      responses:
        ok === 204
          ? { 204: { description: 'Archived' }, ...errors(400, 401, 403, 404) }
          : { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, verb === 'resetError' ? 409 : 404) },
    });
  const paramsOf = (c: Context<AppEnv>) => (c.req as unknown as { valid(t: 'param'): z.output<P> }).valid('param');

  const change = async (c: Context<AppEnv>, action: Action) => {
    const params = paramsOf(c);
    await applyPosture(c, await o.find(c, params, NotFound), POSTURE_OF[action], o.via);
    return statusWithLogs(c.env, await o.find(c, params, NotFound));
  };
  const posture = (action: Action) => route('post', `/${action}`, action, 200);

  return newRouter()
    .openapi(
      route('delete', '', 'delete', 204),
      async (c) => {
        await change(c, 'archive');
        return c.body(null, 204);
      },
      o.hook,
    )
    .openapi(posture('pause'), async (c) => c.json(await change(c, 'pause'), 200), o.hook)
    .openapi(posture('resume'), async (c) => c.json(await change(c, 'resume'), 200), o.hook)
    .openapi(posture('archive'), async (c) => c.json(await change(c, 'archive'), 200), o.hook)
    .openapi(
      route('post', '/reset-error', 'resetError', 200),
      async (c) => {
        const params = paramsOf(c);
        const row = await o.find(c, params, Conflict);
        const source = `${row.driver}/${row.username}`;
        if (!(await overseerLink(c.env).resetError(refOf(row)))) throw new Conflict(`source ${source} is not in errored state`, 'not_errored');
        const details = o.via === 'admin' ? { source, owner_user_id: row.userId } : { source };
        await audit(c, `dvr.${o.via === 'admin' ? 'admin.' : ''}subscription.reset_error`, { targetType: 'subscription', targetId: row.subId, details });
        return c.json(await statusWithLogs(c.env, await o.find(c, params, NotFound)), 200);
      },
      o.hook,
    );
}
