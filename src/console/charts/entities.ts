/**
 * HTML character references in scraped text. HTMLRewriter hands out text exactly as it appears in
 * the source, so `Baldur&#39;s Gate 3` and `Command &amp; Conquer` must be decoded here.
 *
 *   decodeEntities('Tom Clancy&#39;s Rainbow Six&reg; Siege &#43; X') // "Tom Clancy's Rainbow Six® Siege + X"
 *
 * Numeric references are decoded fully; named ones cover what game titles use. An unknown name is
 * left as written rather than guessed.
 */
const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  reg: '®',
  trade: '™',
  copy: '©',
  hellip: '…',
  ndash: '–',
  mdash: '—',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  middot: '·',
  deg: '°',
  times: '×',
  eacute: 'é',
  egrave: 'è',
  aacute: 'á',
  oacute: 'ó',
  uuml: 'ü',
  ouml: 'ö',
  auml: 'ä',
  szlig: 'ß',
};

function fromCodePoint(n: number): string {
  // NUL, surrogates and out-of-range points become U+FFFD, as browsers do.
  if (!Number.isFinite(n) || n <= 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(n);
}

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});/g, (whole, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X')) return fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return fromCodePoint(Number.parseInt(ref.slice(1), 10));
    // Own keys only: `&constructor;` in a scraped page must stay text, not find Object.prototype's.
    return Object.hasOwn(NAMED, ref) ? NAMED[ref]! : whole;
  });
}
