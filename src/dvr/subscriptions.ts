/**
 * Caller-scoped subscriptions (contract §3.4), mounted at `/api/subscriptions`: list (admins:
 * everyone's), subscribe, and the `{driver}/{username}` routes, which address only the caller's own
 * subscription — admins included (they use the `sub_id` routes in admin.ts for others').
 *
 *   POST /api/subscriptions {"driver":"chaturbate","username":"alice"}  → 201 SubscriptionStatus
 *   POST /api/subscriptions/chaturbate/alice/pause                      → 200 (status "inactive")
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { auditStatement } from '../auth/audit';
import { callerCheck, requireCallerDeferred, requireUser } from '../auth/middleware';
import { db } from '../db/client';
import { BadRequest, type Conflict, NotFound } from '../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../http/openapi';
import { overseerLink } from './overseer';
import { Segment, SourceParams } from './paths';
import { postureRoutes, subscribeHook } from './posture';
import { answerList, IfNoneMatchHeaders, JsonText, notModified, tagClaim, type ListView } from './conditional';
import { builtList } from './list-cache';
import { counterVersionsQuery, findOwnStatusRow, ownStatusRowQuery, scopes, subscribe, subscriptionListJsonQuery, type StatusRow } from './queries';
import { monitorName } from './runtime';
import { configuredDrivers, mergeStored } from './settings';
import { listBody, listTemplates, present, statusWithLogs, SubscriptionStatusSchema, type SubscriptionStatus } from './status';

const SubscribeBody = z.object({ driver: Segment, username: Segment }).openapi('Subscribe');
const tags = ['dvr subscriptions'];
const security = [{ bearer: [] }];

/** The caller's own subscription row, or the contract's 404s. */
function ownOrRefuse(row: OwnRow | undefined, driver: string, username: string, Err: typeof NotFound | typeof Conflict = NotFound): StatusRow {
  if (!row) throw new Err(`source ${driver}/${username} not found`);
  if (row.subId === null) throw new Err(`subscription ${driver}/${username} not found`);
  return row as StatusRow;
}
type OwnRow = NonNullable<Awaited<ReturnType<typeof findOwnStatusRow>>>;

async function ownRow(c: Context<AppEnv>, driver: string, username: string, Err: typeof NotFound | typeof Conflict = NotFound): Promise<StatusRow> {
  return ownOrRefuse(await findOwnStatusRow(db(c.env), c.get('user').id, driver, username), driver, username, Err);
}

/** The two views of the list: the caller's own, and an admin's (everyone's). */
export function subscriptionViews(userId: number): { all: ListView; own: ListView } {
  return {
    all: { key: 'subs-all', scopes: [scopes.subscriptions, scopes.sources, scopes.config] },
    own: { key: `subs-u${userId}`, scopes: [scopes.user(userId), scopes.sources, scopes.config] },
  };
}

export const subscriptionRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'listSubscriptions',
      tags,
      summary:
        "The caller's subscriptions (admins: every user's), ordered by sub_id; one storage round trip. Strong ETag: a matching If-None-Match answers 304 without reading the list",
      security,
      middleware: [requireCallerDeferred],
      request: { headers: IfNoneMatchHeaders },
      responses: { 200: json(z.array(SubscriptionStatusSchema), 'Subscriptions (logs are empty here: see /logs)'), ...notModified, ...errors(401, 403) },
    }),
    async (c) => {
      const d = db(c.env);
      // One batch (docs/dvr.md "Cheap polls") of three statements: the role is only known after
      // the caller's check, so the list statement holds both views, each arm guarded by the role
      // (from the same users row the check reads) and by the client's tag: at most one arm reads
      // rows, none on a 304, and the stored config comes with the parts (none on a 304).
      const caller = callerCheck(c, d);
      const views = subscriptionViews(caller.userId);
      const header = c.req.valid('header')['if-none-match'];
      // SQLite writes the list's JSON (queries.ts `listStatusJsonQuery`): the Worker joins a few strings.
      const built = listTemplates();
      // A body this isolate already built for a view (list-cache.ts) joins that view's guard: when
      // it is still current, its arm reads nothing and the kept bytes are the answer.
      const kept = { all: builtList(views.all.key), own: builtList(views.own.key) };
      const [callerRows, counters, parts] = await d.batch([
        caller.query,
        counterVersionsQuery(d, [...new Set([...views.all.scopes, ...views.own.scopes])]),
        subscriptionListJsonQuery(d, caller.userId, built.templates, { all: tagClaim(header, views.all, kept.all), own: tagClaim(header, views.own, kept.own) }),
      ]);
      const me = caller.confirm(callerRows);
      const list = () => new JsonText<SubscriptionStatus[]>(listBody(parts, built));
      // The view is chosen from the role this batch confirmed, and only that view's entry is served
      // (the parts, if any, are of that view: the other arm's role guard read nothing).
      if (me.role === 'admin') return answerList(c, views.all, counters, list, { kept: kept.all });
      return answerList(c, views.own, counters, list, { kept: kept.own });
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'subscribe',
      tags,
      summary: 'Subscribe (or reactivate): starts the recorder when this is the first active subscription',
      security,
      middleware: [requireUser],
      request: { body: jsonBody(SubscribeBody) },
      responses: { 201: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('json');
      const drivers = configuredDrivers(c.env);
      if (!drivers.has(driver)) throw new BadRequest(`driver ${driver} is not supported`, 'unknown_driver', { drivers: [...drivers] });
      const me = c.get('user');
      const d = db(c.env);
      const audit = auditStatement(c, 'dvr.subscription.subscribe', { targetType: 'source', targetId: `${driver}/${username}` });
      const { sourceId, active } = await subscribe(d, { userId: me.id, driver, username }, audit);
      if (active === 1) await overseerLink(c.env).requestStart({ sourceId, driver, username });
      return c.json(await statusWithLogs(c.env, (await findOwnStatusRow(d, me.id, driver, username)) as StatusRow), 201);
    },
    subscribeHook,
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{driver}/{username}',
      operationId: 'getSubscription',
      tags,
      summary: "The caller's subscription to one source, with the log tail",
      security,
      middleware: [requireCallerDeferred],
      request: { params: SourceParams },
      responses: { 200: json(SubscriptionStatusSchema, 'The subscription'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { driver, username } = c.req.valid('param');
      const d = db(c.env);
      const caller = callerCheck(c, d);
      // One round trip: the monitor's log tail is read alongside the batch (a read without side
      // effects, for a holder of a validly signed token only) and shown only once the batch has
      // confirmed the caller and found their subscription.
      const [[callerRows, rows], logs] = await Promise.all([
        d.batch([caller.query, ownStatusRowQuery(d, caller.userId, driver, username)]),
        c.env.SOURCE_MONITOR.getByName(monitorName({ driver, username })).logs(),
      ]);
      caller.confirm(callerRows);
      return c.json(present(ownOrRefuse(rows[0], driver, username), mergeStored(rows[0]!.configData), logs), 200);
    },
  )
  .route(
    '/',
    postureRoutes({
      params: SourceParams,
      path: '/{driver}/{username}',
      via: 'owner',
      tags,
      middleware: [requireUser],
      operationId: (verb) => ({ delete: 'archiveOwnSubscription', pause: 'pauseSubscription', resume: 'resumeSubscription', archive: 'archiveSubscription', resetError: 'resetSubscriptionError' })[verb],
      summaries: {
        delete: 'Archive the subscription (the row is kept and still listed)',
        pause: 'Pause (idempotent); stops the recorder when no active subscription is left',
        resume: 'Resume or reactivate (idempotent); starts the recorder when it becomes the first active subscription',
        archive: 'Archive (always writes); stops the recorder when no active subscription is left',
        resetError: 'Leave the errored state: stop the task, start a fresh one with the current config',
      },
      find: (c, { driver, username }, Err) => ownRow(c, driver, username, Err),
    }),
  );
