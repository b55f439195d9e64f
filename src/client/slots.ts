import { Fifo } from './fifo.js';

/**
 * The worker permits one gap holds. A gap holds one while it works (claims, stores,
 * delivers) and one per NACK it has out (a hedge takes a second); while it only waits
 * (for admission, a THROTTLED hold, an upstream to come back) it holds none.
 */
export class Lease {
  /** Permits held. */
  held = 0;
  /** NACKs out, each on one of the held permits. */
  asking = 0;
  /** The gap has its outcome: permits still asking are given back as their NACKs end. */
  ended = false;
}

interface Waiter {
  readonly lease: Lease;
  readonly resolve: (granted: boolean) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  settled: boolean;
}

/**
 * `workers` permits: a bound on gaps in flight and on NACKs out, hedges included, so the
 * transport's sockets stay bounded too. A freed permit goes first to a gap resuming after a
 * wait (its admission came, its upstream came back), then to the next queued gap (`next`).
 */
export class Slots {
  private free: number;
  private readonly waiters = new Fifo<Waiter>();
  /** Waiters that have not given up (the Fifo may still hold some that have). */
  private waiting = 0;
  /** Permits given back and not yet passed on (see `give`). */
  private owed = 0;
  private giving = false;

  constructor(
    private readonly size: number,
    /** Starts the next queued gap with a freed permit; false when none is queued. */
    private readonly next: () => boolean,
    /** Told the number of permits in use whenever it changes. */
    private readonly changed: ((inUse: number) => void) | undefined,
  ) {
    this.free = size;
  }

  /** Permits in use. */
  get inUse(): number {
    return this.size - this.free;
  }

  /** Takes a permit for a new gap, if one is free and no resuming gap waits for it. */
  tryStart(): boolean {
    if (this.free === 0 || this.waiting > 0) return false;
    this.free--;
    this.changed?.(this.inUse);
    return true;
  }

  /**
   * A permit for one more NACK of `lease`: one it holds and does not use, else a free one,
   * else the first one freed (false if `signal` aborts first).
   */
  acquire(lease: Lease, signal?: AbortSignal): boolean | Promise<boolean> {
    if (lease.held > lease.asking) return true;
    if (this.tryStart()) {
      lease.held++;
      return true;
    }
    if (signal?.aborted === true) return false;
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        lease,
        resolve,
        signal,
        settled: false,
        onAbort: () => {
          if (waiter.settled) return;
          waiter.settled = true;
          this.waiting--;
          resolve(false);
        },
      };
      this.waiters.push(waiter);
      this.waiting++;
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
    });
  }

  /** A permit for a hedge: only one free at once, never one a waiting gap needs. */
  tryAcquire(lease: Lease): boolean {
    if (!this.tryStart()) return false;
    lease.held++;
    return true;
  }

  /** A NACK of `lease` ended. */
  asked(lease: Lease): void {
    lease.asking--;
    if (lease.ended) this.rest(lease);
  }

  /** Gives back every permit of `lease` that no NACK uses (the gap is about to wait). */
  rest(lease: Lease): void {
    while (lease.held > lease.asking) {
      lease.held--;
      this.give();
    }
  }

  /** The gap has its outcome: its idle permits go now, the others as their NACKs end. */
  end(lease: Lease): void {
    lease.ended = true;
    this.rest(lease);
  }

  /**
   * Passes a permit on. A queued gap started here may end at once and give its permit back
   * before `next` returns: such permits are owed and passed on by this loop, never by a
   * nested call, so a queue of gaps that all end at once does not deepen the stack.
   */
  private give(): void {
    this.owed++;
    if (this.giving) return;
    this.giving = true;
    try {
      while (this.owed > 0) {
        this.owed--;
        if (this.toWaiter() || this.next()) continue;
        this.free++;
        this.changed?.(this.inUse);
      }
    } finally {
      this.giving = false;
    }
  }

  /** Hands a permit to the first gap still waiting to resume; false when none waits. */
  private toWaiter(): boolean {
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) {
      if (w.settled) continue; // gave up waiting
      w.settled = true;
      this.waiting--;
      w.signal?.removeEventListener('abort', w.onAbort);
      w.lease.held++;
      w.resolve(true);
      return true;
    }
    return false;
  }
}
