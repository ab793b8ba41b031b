/**
 * The overseer client: the recorder fleet as the DVR routes see it. `OVERSEER_URLS` (comma-separated)
 * names several overseers, each with its own OverseerLink Durable Object (`getByName(<overseer id>)`);
 * `OVERSEER_URL` alone stays the one-overseer case, whose link keeps the name `overseer`.
 *
 * A source belongs to the overseer that wins rendezvous (highest-random-weight) hashing on
 * `driver/username` among the overseers considered healthy: connected, or unreachable for less
 * than `OVERSEER_FAILOVER_SECONDS` (default 60). Past that grace the others take its sources over;
 * when it returns, the links hand them back (see OverseerLink's reconcile).
 *
 * Only the routes that need a link reach for it (a start, a stop, /api/health, /api/workers,
 * diagnostics): an anonymous 404 never wakes one.
 *
 *   await overseerLink(c.env).requestStart(ref);   // goes to the source's owner
 */
import type { SourceRef } from './runtime';
import { world } from '../world';

export interface OverseerEntry {
  /** The link object's name and the id shown in diagnostics. */
  id: string;
  url: string;
}

/** What a link reports about itself to the fleet (no dial is awaited). */
export interface OverseerStatus {
  id: string;
  connected: boolean;
  /** ms since the epoch when it was last seen unreachable; null while connected (or never dialed). */
  downSince: number | null;
}

type FleetEnv = Pick<Env, 'OVERSEER_LINK' | 'OVERSEER_URL' | 'OVERSEER_URLS' | 'OVERSEER_FAILOVER_SECONDS'>;

/** The configured overseers, in configuration order (deduplicated by id). */
export function overseerFleet(env: Pick<FleetEnv, 'OVERSEER_URL' | 'OVERSEER_URLS'>): OverseerEntry[] {
  const urls = (env.OVERSEER_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) return env.OVERSEER_URL ? [{ id: 'overseer', url: env.OVERSEER_URL }] : [];
  if (urls.length === 1) return [{ id: 'overseer', url: urls[0]! }];
  const seen = new Map<string, OverseerEntry>();
  for (const url of urls) {
    const id = overseerIdOf(url);
    if (!seen.has(id)) seen.set(id, { id, url });
  }
  return [...seen.values()];
}

/** A fleet member's id: the URL's host and path, stable under reordering of `OVERSEER_URLS`. */
function overseerIdOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return url;
  }
}

export function failoverGraceMs(env: Pick<FleetEnv, 'OVERSEER_FAILOVER_SECONDS'>): number {
  const raw = (env.OVERSEER_FAILOVER_SECONDS ?? '').trim();
  const s = Number(raw);
  return raw !== '' && Number.isFinite(s) && s >= 0 ? s * 1000 : 60_000;
}

/** Healthy: connected, never seen down, or down for less than the grace period. */
export function isEligible(s: OverseerStatus, graceMs: number, now = world.now()): boolean {
  return s.connected || s.downSince === null || now - s.downSince < graceMs;
}

/** FNV-1a over the UTF-16 code units, then a 32-bit avalanche: cheap, stable, well spread. */
function weight(overseerId: string, key: string): number {
  let h = 0x811c9dc5;
  const s = `${overseerId}\u0000${key}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Rendezvous hashing: the id with the highest weight for `driver/username` (ties by id). */
export function ownerOf(ref: Pick<SourceRef, 'driver' | 'username'>, ids: readonly string[]): string | undefined {
  const key = `${ref.driver}/${ref.username}`;
  let best: string | undefined;
  let bestW = -1;
  for (const id of ids) {
    const w = weight(id, key);
    if (w > bestW || (w === bestW && best !== undefined && id < best)) {
      best = id;
      bestW = w;
    }
  }
  return best;
}

function linkOf(env: FleetEnv, id: string) {
  return env.OVERSEER_LINK.getByName(id);
}

/** Every overseer's status, asked in parallel. */
export async function fleetStatus(env: FleetEnv): Promise<OverseerStatus[]> {
  return Promise.all(overseerFleet(env).map((o) => linkOf(env, o.id).status()));
}

/** The ids sources are assigned over now; when none is healthy, all of them (a start then fails
 * visibly on its owner instead of being dropped). */
export async function eligibleIds(env: FleetEnv): Promise<string[]> {
  const fleet = overseerFleet(env);
  if (fleet.length <= 1) return fleet.map((o) => o.id);
  const grace = failoverGraceMs(env);
  const statuses = await fleetStatus(env);
  const ok = statuses.filter((s) => isEligible(s, grace)).map((s) => s.id);
  return ok.length > 0 ? ok : fleet.map((o) => o.id);
}

/** The link of the overseer that owns `ref` now. */
async function ownerLink(env: FleetEnv, ref: SourceRef) {
  const fleet = overseerFleet(env);
  if (fleet.length <= 1) return linkOf(env, fleet[0]?.id ?? 'overseer');
  return linkOf(env, ownerOf(ref, await eligibleIds(env))!);
}

function allLinks(env: FleetEnv) {
  const fleet = overseerFleet(env);
  return fleet.length === 0 ? [linkOf(env, 'overseer')] : fleet.map((o) => linkOf(env, o.id));
}

/** The fleet behind the one-link interface the routes were written against. */
export function overseerLink(env: FleetEnv) {
  return {
    requestStart: async (ref: SourceRef) => (await ownerLink(env, ref)).requestStart(ref),
    /** Every link is asked: only the one holding the source's task (or start) acts. */
    stopSource: async (ref: SourceRef) => void (await Promise.all(allLinks(env).map((l) => l.stopSource(ref)))),
    resetError: async (ref: SourceRef) => (await ownerLink(env, ref)).resetError(ref),
    restart: async (ref: SourceRef, line: string) => (await ownerLink(env, ref)).restart(ref, line),
    restartMany: async (refs: SourceRef[], line: string) => {
      const fleet = overseerFleet(env);
      if (fleet.length <= 1) return allLinks(env)[0]!.restartMany(refs, line);
      const ids = await eligibleIds(env);
      const byOwner = new Map<string, SourceRef[]>();
      for (const ref of refs) {
        const id = ownerOf(ref, ids)!;
        byOwner.set(id, [...(byOwner.get(id) ?? []), ref]);
      }
      await Promise.all([...byOwner].map(([id, rs]) => linkOf(env, id).restartMany(rs, line)));
    },
    /** True when at least one overseer is connected (dialing the ones that are down). */
    wake: async () => (await Promise.all(allLinks(env).map((l) => l.wake()))).some(Boolean),
    configChanged: async () => void (await Promise.all(allLinks(env).map((l) => l.configChanged()))),
  };
}

/** Per overseer: its id, URL host and link — for health, workers and diagnostics. */
export function overseerLinks(env: FleetEnv): Array<{ id: string; link: ReturnType<typeof linkOf> }> {
  const fleet = overseerFleet(env);
  if (fleet.length === 0) return [{ id: 'overseer', link: linkOf(env, 'overseer') }];
  return fleet.map((o) => ({ id: o.id, link: linkOf(env, o.id) }));
}

// Without the RPC result's `Symbol.dispose`: the answer is plain JSON, whichever lib declares Disposable.
type Diagnostics = Plain<Awaited<ReturnType<ReturnType<typeof linkOf>['diagnostics']>>>;
type Plain<T> = { [K in keyof T as K extends symbol ? never : K]: T[K] };

/**
 * `/api/admin/diagnostics`' recorder part: `recorder` keeps the one-overseer shape (in a fleet:
 * connected while any overseer is, pool and metrics left out), `recorders` has one entry per overseer.
 */
export async function fleetDiagnostics(env: FleetEnv): Promise<{ recorder: Diagnostics; recorders: Array<Diagnostics & { id: string }> }> {
  const recorders = await Promise.all(
    overseerLinks(env).map(async ({ id, link }) => {
      const d = await link.diagnostics().catch((e: unknown) => ({ connected: false, error: e instanceof Error ? e.message : String(e) }));
      return { id, ...d };
    }),
  );
  if (recorders.length === 1) {
    const { id: _id, ...recorder } = recorders[0]!;
    return { recorder, recorders };
  }
  const connected = recorders.filter((r) => r.connected).length;
  const recorder: Diagnostics = connected > 0 ? { connected: true } : { connected: false, error: 'no overseer connected' };
  if (connected > 0 && connected < recorders.length) recorder.error = `${recorders.length - connected} of ${recorders.length} overseers disconnected`;
  return { recorder, recorders };
}
