/**
 * The cluster-node domain model: the node as admins and the node-agent protocol see it, the one
 * mapping from its stored row (where the defaults of nullable columns are decided), liveness
 * (`NODE_OFFLINE_AFTER_SECONDS`, defined here once), and the input shapes shared by the admin
 * routes and the play routes.
 *
 *   const node = clusterNodeFromRow(row);                  // capacity 0 and status 'active' when unset
 *   const online = isOnline(node.lastSeen, nodeOnlineCutoff(env));
 */
import { z } from '../../http/openapi';
import { world } from '../../world';

export const Region = z.string().min(1).max(32).regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');
export const NodeName = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore');

/** Admin intent. Liveness is separate: it comes from `lastSeen`. */
export const NodeAdminStatus = z.enum(['active', 'draining']);

export interface ClusterNode {
  id: number;
  orgId: number;
  name: string;
  region: string | null;
  capacity: number;
  status: string;
  streamBaseUrl: string | null;
}

/** The columns of `cluster_nodes` the model is built from (nullable where the table allows it). */
export interface ClusterNodeRow {
  id: number;
  orgId: number;
  name: string;
  region: string | null;
  capacity: number | null;
  status: string | null;
  streamBaseUrl: string | null;
}

export function clusterNodeFromRow(r: ClusterNodeRow): ClusterNode {
  return { id: r.id, orgId: r.orgId, name: r.name, region: r.region, capacity: r.capacity ?? 0, status: r.status ?? 'active', streamBaseUrl: r.streamBaseUrl };
}

/** `NODE_OFFLINE_AFTER_SECONDS` (default 30): a node silent this long is offline. */
export function nodeOfflineAfterSeconds(env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>): number {
  const n = Number.parseInt(env.NODE_OFFLINE_AFTER_SECONDS, 10);
  return Number.isInteger(n) && n > 0 ? n : 30;
}

/** A node seen at or after this ISO time is online. */
export function nodeOnlineCutoff(env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>): string {
  return new Date(world.now() - nodeOfflineAfterSeconds(env) * 1000).toISOString();
}

export function isOnline(lastSeen: string | null, cutoff: string): boolean {
  return lastSeen !== null && lastSeen >= cutoff;
}

/** The agent heartbeats three times per offline period, so one lost beat never takes it offline. */
export function heartbeatIntervalSeconds(env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>): number {
  return Math.max(1, Math.floor(nodeOfflineAfterSeconds(env) / 3));
}
