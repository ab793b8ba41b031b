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
import type { AppEnv } from '../env';
import { Forbidden, NotFound } from '../http/errors';

export interface VisibleSource {
  id: number;
  driver: string;
  username: string;
}

async function lookup(c: Context<AppEnv>, driver: string, username: string): Promise<{ id: number; subscribed: number } | null> {
  return c.env.DB.prepare(
    `SELECT s.id, EXISTS (SELECT 1 FROM subscriptions x WHERE x.source_id = s.id AND x.user_id = ?3) AS subscribed
       FROM sources s WHERE s.driver = ?1 AND s.username = ?2`,
  )
    .bind(driver, username, c.get('user').id)
    .first<{ id: number; subscribed: number }>();
}

/** Unknown and not-visible sources look the same: 404 `source d/u not found`. */
export async function visibleSource(c: Context<AppEnv>, driver: string, username: string): Promise<VisibleSource> {
  const row = await lookup(c, driver, username);
  if (!row || (c.get('user').role !== 'admin' && row.subscribed !== 1)) throw new NotFound(`source ${driver}/${username} not found`);
  return { id: row.id, driver, username };
}

/** filestat's order of checks (contract §3.5): 404 `source not found`, then 403 `forbidden`. */
export async function visibleSourceForStat(c: Context<AppEnv>, driver: string, username: string): Promise<VisibleSource> {
  const row = await lookup(c, driver, username);
  if (!row) throw new NotFound('source not found');
  if (c.get('user').role !== 'admin' && row.subscribed !== 1) throw new Forbidden('forbidden');
  return { id: row.id, driver, username };
}
