/**
 * The Steam Charts top list (`CHART_SOURCE_URL`, https://steamcharts.com/top) parsed as a stream
 * with `HTMLRewriter`: no DOM, no buffering of the page. Only `table#top-games` is read; every other
 * table on the page is ignored. Each data row has six cells: rank (`1.`), `td.game-name` with a link
 * `/app/{appid}` and the whitespace-padded name, current players (`td.num`), a sparkline cell,
 * 30-day peak (`td.peak-concurrent`) and hours played (`td.player-hours`); numbers may or may not
 * carry thousands separators, names carry HTML entities (`&amp;`, `&#43;`).
 *
 *   const res = await world.fetch(env.CHART_SOURCE_URL, { signal: AbortSignal.timeout(10_000) });
 *   const top10 = topTen(await parseTopGames(res.body));   // throws ChartSourceError on a bad page
 *
 * A page is refused (ChartSourceError) when the table is missing or never closes (truncated), or
 * when ranks 1–10 are not ten complete rows each with an appid, a name and its rank.
 */
import { decodeEntities } from './entities';

/** One chart row, whichever source produced it. `name` is null when the source has none (Steam API). */
export interface ChartRow {
  rank: number;
  appid: number;
  name: string | null;
  currentPlayers: number | null;
  peakPlayers: number | null;
  hoursPlayed: number | null;
}

/** The source answered but its content cannot be trusted: the previous chart stays served. */
export class ChartSourceError extends Error {
  override name = 'ChartSourceError';
}

interface RawCell {
  classes: string[];
  text: string;
  href: string | null;
}

interface RawRow {
  cells: RawCell[];
  closed: boolean;
}

export interface ParsedPage {
  tableFound: boolean;
  tableClosed: boolean;
  rows: RawRow[];
}

/** The most of a page we read; the real one is ~40 KB. A larger body is refused, not buffered. */
export const MAX_PAGE_BYTES = 2 * 1024 * 1024;
const MAX_NAME = 200;

interface StreamFlags {
  tooLarge: boolean;
  /** The source failed mid-body (connection lost, timeout): rethrown once the rewriter is done. */
  error: unknown;
}

/**
 * Passes at most `max` bytes of the source, then ends the stream cleanly and flags why. (Erroring
 * the stream instead surfaces as an unhandled rejection inside the rewriter's own pipe.)
 */
function capped(body: ReadableStream<Uint8Array>, max: number, flags: StreamFlags): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        flags.error = e ?? new Error('page stream failed');
        return controller.close();
      }
      const { done, value } = chunk;
      if (done) return controller.close();
      seen += value.byteLength;
      if (seen > max) {
        flags.tooLarge = true;
        await reader.cancel();
        return controller.close();
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** Streams the page through HTMLRewriter and collects the raw cells of `table#top-games`. */
export async function parseTopGames(body: ReadableStream<Uint8Array> | null): Promise<ParsedPage> {
  const page: ParsedPage = { tableFound: false, tableClosed: false, rows: [] };
  if (!body) return page;
  // Only the first `table#top-games` counts; `inTable` also keeps rows of any later copy out.
  let inTable = false;
  const currentRow = (): RawRow | undefined => (inTable ? page.rows[page.rows.length - 1] : undefined);
  const currentCell = (): RawCell | undefined => {
    const row = currentRow();
    return row ? row.cells[row.cells.length - 1] : undefined;
  };

  const rewriter = new HTMLRewriter()
    .on('table#top-games', {
      element(el) {
        if (page.tableFound) return;
        page.tableFound = true;
        inTable = true;
        el.onEndTag(() => {
          inTable = false;
          page.tableClosed = true;
        });
      },
    })
    .on('table#top-games tr', {
      element(el) {
        if (!inTable) return;
        const row: RawRow = { cells: [], closed: false };
        page.rows.push(row);
        el.onEndTag(() => {
          row.closed = true;
        });
      },
    })
    .on('table#top-games tr > td', {
      element(el) {
        const row = currentRow();
        if (!row) return;
        row.cells.push({ classes: (el.getAttribute('class') ?? '').split(/\s+/).filter(Boolean), text: '', href: null });
      },
      // Text handlers see the text of descendants too (the name sits inside an <a>).
      text(t) {
        const cell = currentCell();
        if (cell && cell.text.length < 4096) cell.text += t.text;
      },
    })
    .on('table#top-games tr > td a[href]', {
      element(el) {
        const cell = currentCell();
        if (cell && cell.href === null) cell.href = el.getAttribute('href');
      },
    });

  const flags: StreamFlags = { tooLarge: false, error: undefined };
  const out = rewriter.transform(new Response(capped(body, MAX_PAGE_BYTES, flags)));
  // The rewriter only runs while its output is read; drain it without keeping anything.
  const reader = out.body!.getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  if (flags.error !== undefined) throw flags.error;
  if (flags.tooLarge) throw new ChartSourceError(`page larger than ${MAX_PAGE_BYTES} bytes`);
  return page;
}

function cleanText(raw: string): string {
  return decodeEntities(raw)
    .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** `1,234,567`, `1234567`, ` 1 234 ` → integer; anything else (`-`, empty) → null. */
export function parseCount(raw: string): number | null {
  const s = cleanText(raw).replace(/[,\s\u00a0\u202f.]/gu, '');
  if (!/^[0-9]{1,15}$/.test(s)) return null;
  return Number(s);
}

/** `/app/730`, `https://steamcharts.com/app/730`, `/app/730/` → 730. */
export function appidOf(href: string | null): number | null {
  if (href === null) return null;
  const m = /(?:^|\/)app\/([0-9]{1,10})(?:[/?#]|$)/.exec(decodeEntities(href).trim());
  if (!m) return null;
  const n = Number(m[1]);
  return n > 0 && n <= 0x7fffffff ? n : null;
}

function rowOf(raw: RawRow): ChartRow | { problem: string; rank: number | null } {
  const rankMatch = /^([0-9]{1,4})\.?$/.exec(cleanText(raw.cells[0]?.text ?? ''));
  const rank = rankMatch ? Number(rankMatch[1]) : null;
  const has = (cls: string) => raw.cells.find((c) => c.classes.includes(cls));
  const nameCell = has('game-name');
  const currentCell = raw.cells.find((c) => c.classes.includes('num') && !c.classes.includes('period-col'));
  if (!raw.closed) return { problem: 'row not closed (truncated page)', rank };
  if (rank === null) return { problem: 'row without a rank', rank };
  if (!nameCell) return { problem: 'row without a td.game-name cell', rank };
  const appid = appidOf(nameCell.href);
  if (appid === null) return { problem: 'row without an /app/{appid} link', rank };
  const name = cleanText(nameCell.text).slice(0, MAX_NAME);
  if (!name) return { problem: 'row without a game name', rank };
  return {
    rank,
    appid,
    name,
    currentPlayers: currentCell ? parseCount(currentCell.text) : null,
    peakPlayers: parseCount(has('peak-concurrent')?.text ?? ''),
    hoursPlayed: parseCount(has('player-hours')?.text ?? ''),
  };
}

/**
 * Ranks 1–10 of a parsed page, or a ChartSourceError saying what is wrong with it. Rows after the
 * tenth are not inspected: the chart only ever shows ten.
 */
export function topTen(page: ParsedPage): ChartRow[] {
  if (!page.tableFound) throw new ChartSourceError('layout changed: no table#top-games on the page');
  if (!page.tableClosed) throw new ChartSourceError('page truncated: table#top-games never closes');
  // Header rows use <th>: only rows with cells are data rows.
  const data = page.rows.filter((r) => r.cells.length > 0).slice(0, 10);
  const rows: ChartRow[] = [];
  for (const [i, raw] of data.entries()) {
    const row = rowOf(raw);
    if ('problem' in row) throw new ChartSourceError(`layout changed: data row ${i + 1}: ${row.problem}`);
    rows.push(row);
  }
  if (rows.length < 10) throw new ChartSourceError(`layout changed: only ${rows.length} usable rows in table#top-games (need 10)`);
  return checkRanks(rows);
}

/** Ranks must be exactly 1..10 and each appid must appear once, whatever the source. */
export function checkRanks(rows: ChartRow[]): ChartRow[] {
  const sorted = [...rows].sort((a, b) => a.rank - b.rank);
  for (const [i, r] of sorted.entries()) {
    if (r.rank !== i + 1) throw new ChartSourceError(`ranks are not 1–10 (found rank ${r.rank} at position ${i + 1})`);
  }
  if (new Set(sorted.map((r) => r.appid)).size !== sorted.length) throw new ChartSourceError('the same appid appears twice in the top 10');
  return sorted;
}
