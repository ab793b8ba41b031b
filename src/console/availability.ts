/**
 * What "install ready" means everywhere (tiles, chart entries, library entries, availability,
 * allocation): the game is installed on a node of the org that is `active` (not draining) and has
 * sent a heartbeat within `NODE_OFFLINE_AFTER_SECONDS`.
 *
 *   sql`SELECT ..., ${installReady(env, orgId, sql`g.id`)} AS installed FROM games g`
 */
import { sql, type SQL } from 'drizzle-orm';
import { nodeOnlineCutoff } from './nodes/model';

/** A boolean SQL expression; false when `orgId` is null (anonymous callers see no tenant's installs). */
export function installReady(env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>, orgId: number | null, gameIdExpr: SQL, region?: string | null): SQL {
  if (orgId === null) return sql`0`;
  const regionFilter = region ? sql` AND n.region = ${region}` : sql``;
  return sql`EXISTS (SELECT 1 FROM downloaded_games dg JOIN cluster_nodes n ON n.id = dg.node_id
    WHERE dg.org_id = ${orgId} AND dg.game_id = ${gameIdExpr} AND n.status = 'active'
      AND n.last_seen >= ${nodeOnlineCutoff(env)}${regionFilter})`;
}
