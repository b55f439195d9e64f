import type { ReceivedNack } from './records.js';

interface Waiter {
  readonly count: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Pending {@link UpstreamEmulator.waitForNacks} calls. */
export class NackWaiters {
  private readonly waiters = new Set<Waiter>();

  /** Waits until `wake` reports at least `count` NACKs; rejects after `timeoutMs`. */
  wait(
    count: number,
    timeoutMs: number,
    current: () => number,
    received: ReceivedNack[],
  ): Promise<ReceivedNack[]> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve: () => resolve(received),
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`emulator got ${current()} of ${count} NACKs in ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves every wait satisfied by `nacks` NACKs. */
  wake(nacks: number): void {
    for (const w of this.waiters) {
      if (nacks < w.count) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve();
    }
  }

  /** Rejects every pending wait. */
  rejectAll(err: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}
