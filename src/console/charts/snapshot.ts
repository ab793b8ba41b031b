/**
 * Writing one day's Top 10 into `charts_top10`, atomically: a day is either ten complete ranks or
 * absent. One `db.batch` creates the stubs of unknown appids (game + Steam external id), replaces
 * the day's rows, and marks the run `ok` — if any statement fails, nothing is written, the previous
 * snapshot stays and the run is recorded as failed by the caller. Re-running a day replaces it.
 *
 *   await writeSnapshot(env, { chartDate: '2026-11-22', source: 'steamcharts', rows, runId });
 *
 * Every chart row links to a game: a known appid through `game_external_ids(platform='steam')`, an
 * unknown one through a stub (`games.is_stub = 1`) that admins enrich later.
 */
import { db } from '../../db/client';
import { nowIso } from '../../world';
import { runBatch } from '../../db/helpers';
import { gamesBySteamAppids, snapshotStatements, takenSlugs } from './queries';
import type { ChartRow } from './scrape';

export type ChartSource = 'steamcharts' | 'steam_api';

export interface Snapshot {
  chartDate: string;
  source: ChartSource;
  rows: ChartRow[];
  runId: number;
}

/** The name a stub gets when its source has none (Steam API); the next page scrape replaces it. */
export const placeholderName = (appid: number) => `Steam app ${appid}`;

/** `Baldur's Gate 3` → `baldurs-gate-3`; empty for names without letters or digits. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
}


export async function writeSnapshot(env: Env, snap: Snapshot): Promise<void> {
  const d = db(env);
  const appids = snap.rows.map((r) => String(r.appid));
  const known = await gamesBySteamAppids(d, appids);
  const byAppid = new Map(known.map((k) => [k.externalId, k]));

  // Stub slugs: the name's slug, else `<slug>-<appid>` when a game already holds it.
  const unknown = snap.rows.filter((r) => !byAppid.has(String(r.appid)));
  const candidates = unknown.flatMap((r) => {
    const base = slugify(r.name ?? '') || `steam-app-${r.appid}`;
    return [base, `${base}-${r.appid}`, `steam-app-${r.appid}`];
  });
  const taken = new Set(await takenSlugs(d, candidates));

  const now = nowIso();
  const stubs = unknown.map((r) => {
    const base = slugify(r.name ?? '') || `steam-app-${r.appid}`;
    const slug = [base, `${base}-${r.appid}`, `steam-app-${r.appid}`].find((s) => !taken.has(s)) ?? `steam-app-${r.appid}-${now.replace(/\D/g, '')}`;
    taken.add(slug);
    return { slug, name: r.name ?? placeholderName(r.appid), appid: String(r.appid) };
  });
  // A stub named by the fallback API gets its real name once the page provides one.
  const renames = snap.rows.flatMap((r) => {
    const k = byAppid.get(String(r.appid));
    return k && k.isStub && r.name !== null && k.name === placeholderName(r.appid) ? [{ gameId: k.gameId, from: k.name, to: r.name }] : [];
  });
  const rows = snap.rows.map((r) => ({
    rank: r.rank,
    name: r.name ?? byAppid.get(String(r.appid))?.name ?? placeholderName(r.appid),
    appid: r.appid,
    currentPlayers: r.currentPlayers,
    peakPlayers: r.peakPlayers,
    hoursPlayed: r.hoursPlayed,
  }));
  // Atomic, through the one workaround for raw `sql` in a D1 batch (`runBatch`, ownership/queries.ts).
  await runBatch(d, snapshotStatements(d, { chartDate: snap.chartDate, source: snap.source, runId: snap.runId, now, stubs, renames, rows }));
}
