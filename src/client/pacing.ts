/** NACK pacing: a token bucket per upstream. */
export interface NackRate {
  /** Tokens added per second (NACKs per second, sustained). */
  perSecond: number;
  /** Bucket size: NACKs that may go at once after a quiet spell. */
  burst: number;
}

interface Bucket {
  /** Tokens, refilled up to `burst`; spent when a NACK actually leaves. */
  tokens: number;
  /** NACKs that hold a token but have not left yet (waiting, or in the transport's set-up). */
  promised: number;
  at: number;
}

/**
 * Keeps the NACKs sent to each upstream within `rate`, so they never reach the upstream's
 * own per-source limit, which answers with silence. A NACK promises itself a token before
 * it is sent and spends it when it actually leaves (`sent`): a NACK held up by a DNS lookup
 * or socket set-up must not let the bucket refill past what the upstream's own bucket, capped
 * at its burst, can take when the held NACKs all leave at once. When no token is free a NACK
 * waits its turn: waits are served in the order they were asked for, and a wait given up
 * returns its promise.
 */
export class Pacer {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly rate: NackRate | false) {}

  /** False when pacing is off: every NACK goes at once. */
  get enabled(): boolean {
    return this.rate !== false;
  }

  /**
   * Promises a token to one NACK to `upstream` at `now`: 0 to send at once, the wait in ms
   * otherwise, or -1 when the wait would end after `deadline` (nothing is promised then).
   */
  reserve(upstream: string, now: number, deadline: number): number {
    const rate = this.rate;
    if (rate === false) return 0;
    const b = this.refill(upstream, now, rate);
    const free = b.tokens - b.promised;
    if (free >= 1) {
      b.promised++;
      return 0;
    }
    const wait = ((1 - free) * 1000) / rate.perSecond;
    if (now + wait > deadline) return -1;
    b.promised++;
    return wait;
  }

  /** A NACK that was promised a token left now: the token is spent. */
  sent(upstream: string, now: number): void {
    const rate = this.rate;
    if (rate === false) return;
    const b = this.refill(upstream, now, rate);
    b.promised = Math.max(0, b.promised - 1);
    b.tokens -= 1;
  }

  /** A NACK that was promised a token will not be sent (its wait was given up). */
  refund(upstream: string): void {
    const b = this.buckets.get(upstream);
    if (b !== undefined) b.promised = Math.max(0, b.promised - 1);
  }

  private refill(upstream: string, now: number, rate: NackRate): Bucket {
    let b = this.buckets.get(upstream);
    if (b === undefined) {
      b = { tokens: rate.burst, promised: 0, at: now };
      this.buckets.set(upstream, b);
    }
    b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) * rate.perSecond) / 1000);
    b.at = now;
    return b;
  }
}
