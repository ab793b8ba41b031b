/**
 * Timing of the agent's calls to the control plane: the heartbeat interval with jitter (so a rack
 * of nodes restarted together does not beat in lockstep), and exponential backoff with full jitter
 * while the control plane is unreachable (so a recovering control plane is not stampeded).
 *
 *   const b = new Backoff({ baseMs: 1000, maxMs: 300_000 });
 *   b.next();  // 0..1000, then 0..2000, 0..4000 ... capped at maxMs
 *   b.reset(); // after a success
 */
export class Backoff {
  /** @param {{ baseMs?: number, maxMs?: number, random?: () => number }} o */
  constructor(o = {}) {
    this.baseMs = o.baseMs ?? 1000;
    this.maxMs = o.maxMs ?? 300_000;
    this.random = o.random ?? Math.random;
    this.failures = 0;
  }

  /** The ceiling of the next wait: base · 2^failures, capped. */
  ceiling() {
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 30));
  }

  /** The wait before the next attempt after one more failure. */
  next() {
    const ceiling = this.ceiling();
    this.failures += 1;
    return Math.round(this.random() * ceiling);
  }

  reset() {
    this.failures = 0;
  }
}

/** The regular interval ±`spread` (a fraction), never below one second. */
export function jittered(intervalMs, spread = 0.1, random = Math.random) {
  return Math.max(1000, Math.round(intervalMs * (1 - spread + 2 * spread * random())));
}
