/** NACK pacing: a token bucket per upstream. */
export interface NackRate {
  /** Tokens added per second (NACKs per second, sustained). */
  perSecond: number;
  /** Bucket size: NACKs that may go at once after a quiet spell. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Keeps the NACKs sent to each upstream within `rate`, so they never reach the upstream's
 * own per-source limit, which answers with silence. A send that finds the bucket empty
 * reserves the next token (the balance goes negative) and waits its turn: waits are served
 * in the order they were asked for, and a wait that is given up returns its token.
 */
export class Pacer {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly rate: NackRate | false) {}

  /** False when pacing is off: every NACK goes at once. */
  get enabled(): boolean {
    return this.rate !== false;
  }

  /**
   * Takes a token for one NACK to `upstream` at `now`: 0 to send at once, the wait in ms
   * otherwise, or -1 when the wait would end after `deadline` (nothing is taken then).
   */
  reserve(upstream: string, now: number, deadline: number): number {
    const rate = this.rate;
    if (rate === false) return 0;
    let b = this.buckets.get(upstream);
    if (b === undefined) {
      b = { tokens: rate.burst, at: now };
      this.buckets.set(upstream, b);
    }
    b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) * rate.perSecond) / 1000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    const wait = ((1 - b.tokens) * 1000) / rate.perSecond;
    if (now + wait > deadline) return -1;
    b.tokens -= 1;
    return wait;
  }

  /** Gives back a token reserved by a wait that was given up. */
  refund(upstream: string): void {
    const b = this.buckets.get(upstream);
    if (b !== undefined && this.rate !== false) b.tokens = Math.min(this.rate.burst, b.tokens + 1);
  }
}
