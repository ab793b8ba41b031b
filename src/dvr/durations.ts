/**
 * Go duration strings (`30s`, `5m`, `1h30m`, `1.5h`, `0`), the format of every duration in the DVR
 * config and of the overseer's `retry_policy` (contract §3.7, §5.2). The overseer drops the whole
 * connection on an unparseable duration, so config values are checked with this before they are
 * stored.
 *
 *   parseGoDuration('1h30m') // 5_400_000 (milliseconds)
 *   parseGoDuration('soon')  // null
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /([0-9]*\.?[0-9]+|[0-9]+\.)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds of a non-negative Go duration, or null when Go's `time.ParseDuration` would refuse it
 * (signs are refused too: no config value means anything negative). */
export function parseGoDuration(raw: string): number | null {
  if (raw === '0') return 0;
  if (raw.length === 0 || raw.length > 64) return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < raw.length) {
    const m = PART.exec(raw);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return Number.isFinite(total) ? total : null;
}

/** A duration config value: empty (= unset) or a valid Go duration. */
export function isDurationOrEmpty(raw: string): boolean {
  return raw === '' || parseGoDuration(raw) !== null;
}
