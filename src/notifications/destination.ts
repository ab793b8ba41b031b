/**
 * Where a webhook may be sent: the SSRF guard, applied when an endpoint is registered or changed AND
 * again before every delivery (a URL stored before a rule tightened, or a flag turned off, is still
 * refused).
 *
 *   const dest = checkDestination('https://hooks.example.com/in', { allowPrivate: false });
 *   if (!dest.ok) throw new BadRequest(dest.reason, 'webhook_url_refused');
 *
 * Workers cannot resolve DNS before a fetch, so only the URL itself is judged: https only, no
 * credentials, no single-label or internal names (`localhost`, `*.local`, `*.internal`, …), and no
 * literal address in a private, loopback, link-local, shared, documentation, multicast or reserved
 * range — IPv4 in any spelling (the URL parser turns `2130706433`, `0x7f.1` and `0177.0.0.1` into
 * dotted quads first) and IPv6 including IPv4-mapped, -compatible, NAT64 and 6to4 forms that embed
 * one. A public name that resolves to a private address is left to the platform, whose outbound
 * fetch does not reach private networks. `allowPrivate` (`WEBHOOKS_ALLOW_PRIVATE`) lifts the address
 * and scheme rules for local development and tests.
 */

export type Destination = { ok: true; url: URL } | { ok: false; reason: string };

export function allowsPrivate(env: Pick<Env, 'WEBHOOKS_ALLOW_PRIVATE'>): boolean {
  return env.WEBHOOKS_ALLOW_PRIVATE === 'true';
}

const INTERNAL_SUFFIXES = ['.localhost', '.local', '.internal', '.localdomain', '.home.arpa', '.intranet', '.lan', '.corp'];

export function checkDestination(raw: string, opts: { allowPrivate: boolean }): Destination {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a valid URL' };
  }
  if (url.protocol !== 'https:' && !(opts.allowPrivate && url.protocol === 'http:')) {
    return { ok: false, reason: opts.allowPrivate ? 'only http and https URLs' : 'only https URLs are allowed' };
  }
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL are not allowed' };
  if (opts.allowPrivate) return { ok: true, url };
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[')) {
    const why = blockedIpv6(host.slice(1, -1));
    return why ? { ok: false, reason: `address refused: ${why}` } : { ok: true, url };
  }
  const v4 = parseIpv4(host);
  if (v4 !== null) {
    const why = blockedIpv4(v4);
    return why ? { ok: false, reason: `address refused: ${why}` } : { ok: true, url };
  }
  if (host === 'localhost' || INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) return { ok: false, reason: 'internal host names are not allowed' };
  // A name without a dot is resolved against a search domain, never on the public internet.
  if (!host.includes('.')) return { ok: false, reason: 'single-label host names are not allowed' };
  return { ok: true, url };
}

/** Dotted-quad only: the WHATWG URL parser has already normalised every other IPv4 spelling. */
function parseIpv4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

const V4_BLOCKS: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function blockedIpv4(ip: number): string | null {
  for (const [base, bits, why] of V4_BLOCKS) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((ip & mask) >>> 0) === ((parseIpv4(base)! & mask) >>> 0)) return why;
  }
  return null;
}

/** Eight 16-bit groups, or null. Accepts `::` and a trailing dotted quad. */
function parseIpv6(text: string): number[] | null {
  let s = text.replace(/%.*$/, '');
  const tail = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  if (tail) {
    const v4 = parseIpv4(tail[1]!);
    if (v4 === null) return null;
    s = `${s.slice(0, -tail[1]!.length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === '' ? [] : h.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0) return null;
  const groups = [...head, ...Array<number>(fill).fill(0), ...rest];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g)) ? groups : null;
}

function blockedIpv6(text: string): string | null {
  const g = parseIpv6(text);
  if (!g) return 'not an IPv6 address';
  const embedded = (hi: number, lo: number) => blockedIpv4(((hi << 16) >>> 0) + lo);
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(8)) return 'unspecified';
  if (zeros(7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible): judged as the IPv4 address they carry.
  if (zeros(5) && g[5] === 0xffff) return embedded(g[6]!, g[7]!) ?? null;
  if (zeros(6)) return embedded(g[6]!, g[7]!) ?? 'IPv4-compatible';
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embedded(g[6]!, g[7]!);
  if (g[0] === 0x2002) return embedded(g[1]!, g[2]!);
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique local (ULA)';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'site-local';
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  if (g[0] === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return 'discard';
  return null;
}
