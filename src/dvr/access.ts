/**
 * Per-source visibility (contract §7.8, as tightened by the issue): a user needs a subscription of
 * any posture to the source; admins always pass. Events/logs answer an outsider with the same 404
 * as an unknown source (so source names cannot be probed); filestat keeps the contract's
 * 404 `source not found` / 403 `forbidden`; files, media and thumbnails follow events/logs
 * (the reference let any logged-in user read every recording).
 *
 *   const src = await visibleSource(c, driver, username);  // throws 404 when not visible
 */
import type { Context } from 'hono';
import type { AppEnv, AuthUser } from '../env';
import { db } from '../db/client';
import { Forbidden, NotFound } from '../http/errors';
import { sourceVisibility } from './queries';

export interface VisibleSource {
  id: number;
  driver: string;
  username: string;
}

function lookup(c: Context<AppEnv>, driver: string, username: string) {
  return sourceVisibility(db(c.env), driver, username, c.get('user').id);
}

/** Unknown and not-visible sources look the same: 404 `source d/u not found`. */
export async function visibleSource(c: Context<AppEnv>, driver: string, username: string): Promise<VisibleSource> {
  return visibleOrNotFound(await lookup(c, driver, username), c.get('user'), driver, username);
}

/** `visibleSource` for a `sourceVisibilityQuery` row already read (e.g. in the handler's batch). */
export function visibleOrNotFound(row: { id: number; subscribed: boolean } | undefined, user: AuthUser, driver: string, username: string): VisibleSource {
  if (!row || (user.role !== 'admin' && !row.subscribed)) throw new NotFound(`source ${driver}/${username} not found`);
  return { id: row.id, driver, username };
}

/** filestat's order of checks (contract §3.5): 404 `source not found`, then 403 `forbidden`. */
export async function visibleSourceForStat(c: Context<AppEnv>, driver: string, username: string): Promise<VisibleSource> {
  const row = await lookup(c, driver, username);
  if (!row) throw new NotFound('source not found');
  if (c.get('user').role !== 'admin' && !row.subscribed) throw new Forbidden('forbidden');
  return { id: row.id, driver, username };
}
