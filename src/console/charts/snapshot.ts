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
import { sql, type SQL } from 'drizzle-orm';
import { db } from '../../db/client';
import { nowIso } from '../../world';
import { runBatch } from '../ownership/batch';
import type { ChartRow } from './scrape';

export type ChartSource = 'steamcharts' | 'steam_api';

export interface Snapshot {
  chartDate: string;
  source: ChartSource;
  rows: ChartRow[];
  runId: number;
}

interface Known {
  external_id: string;
  game_id: number;
  name: string;
  is_stub: number;
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


const inList = (values: readonly (string | number)[]) => sql.join(values.map((v) => sql`${v}`), sql`, `);

export async function writeSnapshot(env: Env, snap: Snapshot): Promise<void> {
  const d = db(env);
  const appids = snap.rows.map((r) => String(r.appid));
  const known = await d.all<Known>(sql`
    SELECT e.external_id, g.id AS game_id, g.name, g.is_stub FROM game_external_ids e JOIN games g ON g.id = e.game_id
    WHERE e.platform = 'steam' AND e.external_id IN (${inList(appids)})`);
  const byAppid = new Map(known.map((k) => [k.external_id, k]));

  // Stub slugs: the name's slug, else `<slug>-<appid>` when a game already holds it.
  const unknown = snap.rows.filter((r) => !byAppid.has(String(r.appid)));
  const candidates = unknown.flatMap((r) => {
    const base = slugify(r.name ?? '') || `steam-app-${r.appid}`;
    return [base, `${base}-${r.appid}`, `steam-app-${r.appid}`];
  });
  const taken = new Set(
    candidates.length === 0
      ? []
      : (await d.all<{ slug: string }>(sql`SELECT slug FROM games WHERE slug IN (${inList(candidates)})`)).map((r) => r.slug),
  );

  const now = nowIso();
  const statements: SQL[] = [];
  for (const r of unknown) {
    const base = slugify(r.name ?? '') || `steam-app-${r.appid}`;
    const slug = [base, `${base}-${r.appid}`, `steam-app-${r.appid}`].find((s) => !taken.has(s)) ?? `steam-app-${r.appid}-${now.replace(/\D/g, '')}`;
    taken.add(slug);
    const name = r.name ?? placeholderName(r.appid);
    const ext = String(r.appid);
    // Guarded by NOT EXISTS so a stub created concurrently (or by an admin) is reused, not doubled.
    statements.push(sql`INSERT INTO games (slug, name, is_stub, created_at, updated_at)
      SELECT ${slug}, ${name}, 1, ${now}, ${now}
      WHERE NOT EXISTS (SELECT 1 FROM game_external_ids WHERE platform = 'steam' AND external_id = ${ext})`);
    statements.push(sql`INSERT INTO game_external_ids (game_id, platform, external_id)
      SELECT id, 'steam', ${ext} FROM games WHERE slug = ${slug} AND is_stub = 1
        AND NOT EXISTS (SELECT 1 FROM game_external_ids WHERE platform = 'steam' AND external_id = ${ext})`);
  }
  for (const r of snap.rows) {
    const k = byAppid.get(String(r.appid));
    // A stub named by the fallback API gets its real name once the page provides one.
    if (k && k.is_stub && r.name !== null && k.name === placeholderName(r.appid)) {
      statements.push(sql`UPDATE games SET name = ${r.name}, updated_at = ${now} WHERE id = ${k.game_id} AND is_stub = 1 AND name = ${k.name}`);
    }
  }

  statements.push(sql`DELETE FROM charts_top10 WHERE chart_date = ${snap.chartDate}`);
  for (const r of snap.rows) {
    const ext = String(r.appid);
    const name = r.name ?? byAppid.get(ext)?.name ?? placeholderName(r.appid);
    statements.push(sql`INSERT INTO charts_top10 (chart_date, rank, name, steam_appid, game_id, source, current_players, peak_players, hours_played)
      VALUES (${snap.chartDate}, ${r.rank}, ${name}, ${r.appid},
        (SELECT game_id FROM game_external_ids WHERE platform = 'steam' AND external_id = ${ext}),
        ${snap.source}, ${r.currentPlayers}, ${r.peakPlayers}, ${r.hoursPlayed})`);
  }
  statements.push(sql`UPDATE chart_runs SET status = 'ok', source = ${snap.source}, error = NULL, finished_at = ${now} WHERE id = ${snap.runId}`);

  // Atomic, through the one workaround for raw `sql` in a D1 batch (see ownership/batch.ts).
  await runBatch(env, statements);
}
