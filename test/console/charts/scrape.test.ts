import { describe, expect, it } from 'vitest';
import top from '../../fixtures/steamcharts/top.html?raw';
import plain from '../../fixtures/steamcharts/top-plain-numbers.html?raw';
import truncated from '../../fixtures/steamcharts/top-truncated.html?raw';
import changed from '../../fixtures/steamcharts/top-changed-layout.html?raw';
import { decodeEntities } from '../../../src/console/charts/entities';
import { appidOf, ChartSourceError, MAX_PAGE_BYTES, parseCount, parseTopGames, topTen } from '../../../src/console/charts/scrape';

/** The page as the network delivers it: in small chunks that split tags, entities and numbers. */
function chunked(html: string, size = 37): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(html);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

const parse = async (html: string) => topTen(await parseTopGames(chunked(html)));

describe('Steam Charts page parser', () => {
  it('reads ranks 1–10 of table#top-games with trimmed, decoded names and separated numbers', async () => {
    const rows = await parse(top);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toEqual({ rank: 1, appid: 730, name: 'Counter-Strike 2', currentPlayers: 1412366, peakPlayers: 1818368, hoursPlayed: 584726224 });
    expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rows[4]!.name).toBe('Apex Legends™');
    expect(rows[8]!.name).toBe("Baldur's Gate 3");
    expect(rows[9]).toMatchObject({ appid: 2246340, name: 'Monster Hunter Wilds' });
  });

  it('ignores the other tables on the page (trending, records)', async () => {
    const appids = (await parse(top)).map((r) => r.appid);
    expect(appids).not.toContain(3527290);
    expect(appids[0]).toBe(730);
  });

  it('reads numbers without thousands separators, CRLF lines and &#43; / &amp; / numeric entities', async () => {
    const rows = await parse(plain);
    expect(rows[0]).toMatchObject({ rank: 1, appid: 570, name: 'Dota 2', currentPlayers: 612031 });
    expect(rows[4]).toMatchObject({ appid: 1938090, name: 'Call of Duty®: Black Ops 6 + Warzone', currentPlayers: 120001, peakPlayers: 220002, hoursPlayed: 60000003 });
    expect(rows[6]!.name).toBe('The Sims™ 4 & Friends');
    expect(rows[9]).toMatchObject({ currentPlayers: 0 });
  });

  it('gives the same rows however the stream is chunked', async () => {
    const one = await topTen(await parseTopGames(chunked(top, top.length)));
    const tiny = await topTen(await parseTopGames(chunked(top, 3)));
    expect(tiny).toEqual(one);
  });

  it('refuses a page without table#top-games (layout changed)', async () => {
    await expect(parse(changed)).rejects.toThrow(/no table#top-games/);
  });

  it('refuses a truncated page', async () => {
    await expect(parse(truncated)).rejects.toThrow(/truncated/);
  });

  it('refuses a page whose top-10 row has no /app/{appid} link', async () => {
    const html = top.replace('<a href="/app/1172470">', '<a href="/search/?q=apex">');
    await expect(parse(html)).rejects.toThrow(/data row 5: row without an \/app\/\{appid\} link/);
  });

  it('refuses a page with fewer than 10 usable rows', async () => {
    const firstRows = top.slice(0, top.indexOf('<td class="left">9.</td>'));
    const html = `${firstRows.slice(0, firstRows.lastIndexOf('<tr'))}</tbody></table></div></body></html>`;
    await expect(parse(html)).rejects.toThrow(/only 8 usable rows/);
  });

  it('refuses duplicated ranks', async () => {
    const html = top.replace('<td class="left">3.</td>', '<td class="left">2.</td>');
    await expect(parse(html)).rejects.toBeInstanceOf(ChartSourceError);
  });

  it('refuses a body larger than the cap instead of buffering it', async () => {
    const huge = top.replace('</body>', `<div>${'x'.repeat(MAX_PAGE_BYTES)}</div></body>`);
    await expect(parseTopGames(chunked(huge, 64 * 1024))).rejects.toThrow(/larger than/);
  });

  it('refuses an empty body', async () => {
    const page = await parseTopGames(null);
    expect(() => topTen(page)).toThrow(/no table#top-games/);
  });
});

describe('parser helpers', () => {
  it('parses counts with or without separators and refuses anything else', () => {
    expect(parseCount(' 1,234,567 ')).toBe(1234567);
    expect(parseCount('1234567')).toBe(1234567);
    expect(parseCount('-')).toBeNull();
    expect(parseCount('')).toBeNull();
    expect(parseCount('12%')).toBeNull();
  });

  it('extracts appids from relative and absolute links only', () => {
    expect(appidOf('/app/730')).toBe(730);
    expect(appidOf('https://steamcharts.com/app/570/')).toBe(570);
    expect(appidOf('/app/730#all')).toBe(730);
    expect(appidOf('/apps/730')).toBeNull();
    expect(appidOf('/app/abc')).toBeNull();
    expect(appidOf(null)).toBeNull();
  });

  it('decodes numeric and named entities and leaves unknown names alone', () => {
    expect(decodeEntities('A &#43; B &amp; C &#x2122; &trade; &bogus; &#0;')).toBe('A + B & C ™ ™ &bogus; \ufffd');
  });
});
