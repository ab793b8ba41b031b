/**
 * Runs a rate-limit probe inside one window of the rate-limiting binding. The local binding counts
 * per fixed window (`floor(now / period)`, wrangler.toml `[[ratelimits]]` period 60 s) and forgets
 * every count when a new window starts, so a probe that straddles a minute boundary splits its
 * requests over two windows and may never reach the limit: on a loaded machine that happened. A
 * round that crossed a boundary proves nothing either way and is run again with a fresh round
 * number (callers derive a fresh client address from it); a round inside one window is the verdict.
 *
 *   const throttled = await inOneRateWindow(60, (round) => sprayFrom(`203.0.113.${200 + round}`));
 *   expect(throttled?.status).toBe(429);
 */
export async function inOneRateWindow<T>(periodSeconds: number, probe: (round: number) => Promise<T>): Promise<T> {
  const windowOf = (ms: number) => Math.floor(ms / (periodSeconds * 1000));
  for (let round = 0; ; round++) {
    const before = windowOf(Date.now());
    const result = await probe(round);
    if (windowOf(Date.now()) === before || round === 2) return result;
  }
}
