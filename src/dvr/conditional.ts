/**
 * Cheap polls (issue 17 target 3): a list route's strong `ETag` is built from the change counters
 * of the scopes the list depends on (queries.ts `counterVersions`), and an `If-None-Match` that
 * matches answers 304 after reading only those counters, without building the list. Called after
 * the route's own authorization, so a 304 is never possible for a caller the list would refuse;
 * the tag names the list's key (`u7`, `all`…), so one user's tag never matches another's list.
 *
 *   return conditionalList(c, `subs-u${me.id}`, [scopes.user(me.id), scopes.sources, scopes.config], () => listStatuses(d, { userId: me.id }));
 */
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { db } from '../db/client';
import { counterVersions } from './queries';

/** The request header, validated (a list of tags or `*`; more than this is not a dashboard's). */
export const IfNoneMatchHeaders = z.object({ 'if-none-match': z.string().max(1024).optional() });

/** The 304 answer every conditional list declares. */
export const notModified = { 304: { description: 'Not modified: the If-None-Match tag is still current (no body)' } } as const;

function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

/**
 * The counters are read BEFORE the list: a change landing in between makes the tag older than the
 * body, so the next poll gets a 200 again (never a 304 hiding the change).
 */
export async function conditionalList<T>(c: Context<AppEnv>, key: string, wanted: readonly string[], build: () => Promise<T>) {
  const versions = await counterVersions(db(c.env), wanted);
  const etag = `"${key}-${versions.join('.')}"`;
  c.header('ETag', etag);
  if (matches(c.req.header('If-None-Match'), etag)) return c.body(null, 304);
  return c.json(await build(), 200);
}
