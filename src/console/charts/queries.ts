/**
 * Every D1 statement of the charts (the daily Top 10, its scrape runs and snapshots), typed
 * against the schema. Functions take the drizzle client first; the ones named `…Query` return an
 * unexecuted statement for the caller's `d.batch([...])` (GET /charts/top10?org_id= sends the
 * caller's check, the membership and the chart in one batch).
 *
 *   const [rows] = await d.batch([chartRowsQuery(d, env, { date: null, orgId: 3, userId: 7 })]);
 */
import { and, asc, desc, eq, inArray, isNotNull, lt, lte, max, ne, notExists, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { outer } from '../../db/helpers';
import { apps, chartRuns, chartsTop10, gameExternalIds, games, userGameLibrary } from '../../db/schema';
import { installReady } from '../apps/queries';

export interface ChartScope {
  /** `YYYY-MM-DD`; null = the latest snapshot. */
  date: string | null;
  /** Flags are computed only for an org the caller was checked against; null = public chart. */
  orgId: number | null;
  userId: number | null;
}

/** The day a chart request reads: the snapshot of `date`, else the latest one before it. */
function chartDay(d: Db, date: string | null) {
  const latest = d.select({ day: max(chartsTop10.chartDate) }).from(chartsTop10);
  return date === null ? latest : latest.where(lte(chartsTop10.chartDate, date));
}

/**
 * The ten rows of the chosen day with their games, `apps` overrides and external ids; `installed`
 * and `owned` only for a scope with an org (and a user), else 0. One statement; with `guard`
 * (row-independent, e.g. `orgMemberOrAdminSql` of src/auth/queries/users.ts) none when the guard
 * is false.
 */
export function chartRowsQuery(d: Db, env: Pick<Env, 'NODE_OFFLINE_AFTER_SECONDS'>, scope: ChartScope, guard?: SQL) {
  const owned =
    scope.userId === null || scope.orgId === null
      ? sql<number>`0`
      : sql<number>`EXISTS (SELECT 1 FROM ${userGameLibrary} WHERE ${userGameLibrary.orgId} = ${scope.orgId}
          AND ${userGameLibrary.userId} = ${scope.userId} AND ${userGameLibrary.gameId} = ${games.id} AND ${isNotNull(userGameLibrary.verifiedAt)})`;
  return d
    .select({
      rank: chartsTop10.rank,
      chartDate: chartsTop10.chartDate,
      // Aliased: in a batch D1 answers objects keyed by column name, so two `name` columns would collide.
      chartName: sql<string>`${chartsTop10.name}`.as('chart_name'),
      steamAppid: chartsTop10.steamAppid,
      gameId: games.id,
      slug: games.slug,
      name: games.name,
      description: games.description,
      coverUrl: games.coverUrl,
      rating: games.rating,
      moonlightName: apps.moonlightName,
      enabled: apps.enabled,
      sortOrder: apps.sortOrder,
      installed: sql<number>`CASE WHEN ${games.id} IS NULL THEN 0 ELSE ${installReady(env, scope.orgId, outer(games.id))} END`,
      owned: sql<number>`CASE WHEN ${games.id} IS NULL THEN 0 ELSE ${owned} END`,
      externalIds: sql<string | null>`(SELECT json_group_object(${gameExternalIds.platform}, ${gameExternalIds.externalId})
        FROM ${gameExternalIds} WHERE ${gameExternalIds.gameId} = ${games.id})`,
    })
    .from(chartsTop10)
    .leftJoin(games, eq(games.id, chartsTop10.gameId))
    .leftJoin(apps, eq(apps.id, games.slug))
    .where(and(eq(chartsTop10.chartDate, chartDay(d, scope.date)), guard))
    .orderBy(asc(chartsTop10.rank));
}

export type ChartRowOut = Awaited<ReturnType<typeof chartRowsQuery>>[number];

// ───────────── runs ─────────────

const runColumns = {
  id: chartRuns.id,
  chartDate: chartRuns.chartDate,
  trigger: chartRuns.trigger,
  source: chartRuns.source,
  status: chartRuns.status,
  error: chartRuns.error,
  startedAt: chartRuns.startedAt,
  finishedAt: chartRuns.finishedAt,
};

export type ChartRunRow = NonNullable<Awaited<ReturnType<typeof chartRunById>>>;

/** Run history, newest first (optionally of one day). */
export function chartRunsPage(d: Db, date: string | undefined, limit: number) {
  return d
    .select(runColumns)
    .from(chartRuns)
    .where(date === undefined ? undefined : eq(chartRuns.chartDate, date))
    .orderBy(desc(chartRuns.startedAt), desc(chartRuns.id))
    .limit(limit);
}

export async function latestChartDate(d: Db): Promise<string | null> {
  return (await chartDay(d, null).get())?.day ?? null;
}

export async function chartRunById(d: Db, id: number) {
  return d.select(runColumns).from(chartRuns).where(eq(chartRuns.id, id)).get();
}

/**
 * Claims a run row unless another run started after `staleBefore` is still running (then null).
 * RETURNING on the conditional insert: no second query that could see another writer's rowid.
 */
export async function claimChartRun(d: Db, run: { chartDate: string; trigger: 'cron' | 'manual' | 'retry'; now: string; staleBefore: string }): Promise<number | null> {
  const busy = d
    .select({ one: sql`1` })
    .from(chartRuns)
    .where(and(eq(chartRuns.status, 'running'), sql`${chartRuns.startedAt} >= ${run.staleBefore}`));
  const rows = await d.all<{ id: number }>(sql`INSERT INTO ${chartRuns} (${sql.identifier(chartRuns.chartDate.name)}, ${sql.identifier(chartRuns.trigger.name)},
      ${sql.identifier(chartRuns.status.name)}, ${sql.identifier(chartRuns.startedAt.name)})
    SELECT ${run.chartDate}, ${run.trigger}, 'running', ${run.now} WHERE ${notExists(busy)}
    RETURNING ${sql.identifier(chartRuns.id.name)}`);
  return rows[0]?.id ?? null;
}

export async function failChartRun(d: Db, runId: number, error: string, now: string): Promise<void> {
  await d.update(chartRuns).set({ status: 'failed', error, finishedAt: now }).where(eq(chartRuns.id, runId)).run();
}

/** True once a snapshot of `chartDate` exists. */
export async function hasChartOn(d: Db, chartDate: string): Promise<boolean> {
  return (await d.select({ one: sql`1` }).from(chartsTop10).where(eq(chartsTop10.chartDate, chartDate)).limit(1).get()) !== undefined;
}

/** The runs of one day, newest first. */
export function chartRunsOn(d: Db, chartDate: string) {
  return d
    .select({ status: chartRuns.status, startedAt: chartRuns.startedAt, finishedAt: chartRuns.finishedAt })
    .from(chartRuns)
    .where(eq(chartRuns.chartDate, chartDate))
    .orderBy(desc(chartRuns.startedAt), desc(chartRuns.id));
}

/** Finished runs of days before `cutoff` (history is for diagnosis, not an archive). */
export async function deleteChartRunsBefore(d: Db, cutoff: string): Promise<void> {
  await d.delete(chartRuns).where(and(lt(chartRuns.chartDate, cutoff), ne(chartRuns.status, 'running'))).run();
}

// ───────────── snapshots ─────────────

/** Catalog games known by these Steam appids. */
export function gamesBySteamAppids(d: Db, appids: string[]) {
  return d
    .select({ externalId: gameExternalIds.externalId, gameId: games.id, name: games.name, isStub: games.isStub })
    .from(gameExternalIds)
    .innerJoin(games, eq(games.id, gameExternalIds.gameId))
    .where(and(eq(gameExternalIds.platform, 'steam'), inArray(gameExternalIds.externalId, appids)));
}

/** Which of these slugs games already hold. */
export async function takenSlugs(d: Db, slugs: string[]): Promise<string[]> {
  if (slugs.length === 0) return [];
  return (await d.select({ slug: games.slug }).from(games).where(inArray(games.slug, slugs))).map((r) => r.slug);
}

const steamIdIs = (ext: string) => and(eq(gameExternalIds.platform, 'steam'), eq(gameExternalIds.externalId, ext));

/**
 * The statements that write one snapshot, for one atomic batch: stubs for unknown appids (guarded
 * by NOT EXISTS so a stub created concurrently, or by an admin, is reused, not doubled), real names
 * for placeholder-named stubs, the day's ten rows, and the run marked ok.
 */
export function snapshotStatements(
  d: Db,
  snap: {
    chartDate: string;
    source: string;
    runId: number;
    now: string;
    stubs: Array<{ slug: string; name: string; appid: string }>;
    renames: Array<{ gameId: number; from: string; to: string }>;
    rows: Array<{ rank: number; name: string; appid: number; currentPlayers: number | null; peakPlayers: number | null; hoursPlayed: number | null }>;
  },
): SQL[] {
  const { now } = snap;
  const out: SQL[] = [];
  const known = (ext: string) => d.select({ one: sql`1` }).from(gameExternalIds).where(steamIdIs(ext));
  for (const s of snap.stubs) {
    out.push(sql`INSERT INTO ${games} (${sql.identifier(games.slug.name)}, ${sql.identifier(games.name.name)}, ${sql.identifier(games.isStub.name)},
        ${sql.identifier(games.createdAt.name)}, ${sql.identifier(games.updatedAt.name)})
      SELECT ${s.slug}, ${s.name}, 1, ${now}, ${now} WHERE ${notExists(known(s.appid))}`);
    const stub = d
      .select({ gameId: games.id, platform: sql`'steam'`, externalId: sql`${s.appid}` })
      .from(games)
      .where(and(eq(games.slug, s.slug), eq(games.isStub, true), notExists(known(s.appid))));
    out.push(sql`INSERT INTO ${gameExternalIds} (${sql.identifier(gameExternalIds.gameId.name)}, ${sql.identifier(gameExternalIds.platform.name)},
        ${sql.identifier(gameExternalIds.externalId.name)}) ${stub.getSQL()}`);
  }
  for (const r of snap.renames) {
    out.push(
      d
        .update(games)
        .set({ name: r.to, updatedAt: now })
        .where(and(eq(games.id, r.gameId), eq(games.isStub, true), eq(games.name, r.from)))
        .getSQL(),
    );
  }
  out.push(d.delete(chartsTop10).where(eq(chartsTop10.chartDate, snap.chartDate)).getSQL());
  for (const r of snap.rows) {
    const gameId = d.select({ id: gameExternalIds.gameId }).from(gameExternalIds).where(steamIdIs(String(r.appid)));
    out.push(
      d
        .insert(chartsTop10)
        .values({
          chartDate: snap.chartDate,
          rank: r.rank,
          name: r.name,
          steamAppid: r.appid,
          gameId: sql`(${gameId})`,
          source: snap.source,
          currentPlayers: r.currentPlayers,
          peakPlayers: r.peakPlayers,
          hoursPlayed: r.hoursPlayed,
        })
        .getSQL(),
    );
  }
  out.push(d.update(chartRuns).set({ status: 'ok', source: snap.source, error: null, finishedAt: now }).where(eq(chartRuns.id, snap.runId)).getSQL());
  return out;
}
