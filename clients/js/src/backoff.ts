/** How long to wait before reconnecting: full jitter between a floor and a cap. */
export interface BackoffOptions {
  /** The shortest wait, and the base the waits double from (default 100 ms). */
  floorMs?: number;
  /** The longest wait (default 5000 ms). */
  capMs?: number;
}

/**
 * Backoff gives the wait before reconnect attempt n (0, 1, 2, …): a random
 * time between floorMs and min(capMs, floorMs·2ⁿ), so that clients that lost
 * the same node spread out instead of arriving together.
 */
export class Backoff {
  readonly floorMs: number;
  readonly capMs: number;

  constructor(opts: BackoffOptions = {}) {
    this.floorMs = Math.max(0, opts.floorMs ?? 100);
    this.capMs = Math.max(this.floorMs, opts.capMs ?? 5000);
  }

  /** The wait before attempt n, in ms. */
  delay(n: number, random: () => number = Math.random): number {
    const top = Math.min(this.capMs, this.floorMs * 2 ** Math.min(n, 30));
    return this.floorMs + random() * (top - this.floorMs);
  }
}
