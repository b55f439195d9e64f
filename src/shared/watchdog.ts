import { MAX_TIMER_MS, toError, type Settled } from './within.js';

interface Watched {
  readonly deadline: number;
  readonly resolve: (outcome: Settled<never>) => void;
}

const TIMEOUT: Settled<never> = Object.freeze({ status: 'timeout' });
const ABORTED: Settled<never> = Object.freeze({ status: 'aborted' });

/**
 * Bounds calls into components the library does not control (a host's transport, cache,
 * deduper, retransmitter), which should settle on their own and almost always do. Instead
 * of a timer per call it keeps one timer for all of them, which checks every `tickMs`
 * while something is watched: a hung call is noticed between its limit and `tickMs` after
 * it. (A timer per call measured ~0.4 µs per exchange, a tenth of the client's own cost.)
 */
export class Watchdog {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly tickMs: number) {}

  /**
   * Waits for `work` at most about `ms` milliseconds (at most `tickMs` more). Never
   * rejects: a rejection comes back as `{ status: 'error' }`, and after `close()` every
   * wait ends at once as `{ status: 'aborted' }`.
   */
  within<T>(work: PromiseLike<T>, ms: number): Promise<Settled<T>> {
    if (this.closed) {
      work.then(undefined, () => undefined);
      return Promise.resolve(ABORTED);
    }
    return new Promise((resolve) => {
      const entry: Watched = { deadline: performance.now() + ms, resolve };
      this.watched.add(entry);
      this.timer ??= setTimeout(tick, Math.min(this.tickMs, MAX_TIMER_MS), this);
      work.then(
        (value) => {
          this.watched.delete(entry);
          resolve({ status: 'ok', value });
        },
        (err: unknown) => {
          this.watched.delete(entry);
          resolve({ status: 'error', error: toError(err) });
        },
      );
    });
  }

  /** Ends every wait as aborted; later waits end at once. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.watched) w.resolve(ABORTED);
    this.watched.clear();
  }

  /** @internal The timer: ends overdue waits, and runs again while any are left. */
  check(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const w of this.watched) {
      if (w.deadline > now) continue;
      this.watched.delete(w);
      w.resolve(TIMEOUT);
    }
    if (this.watched.size > 0) this.timer = setTimeout(tick, this.tickMs, this);
  }
}

function tick(dog: Watchdog): void {
  dog.check();
}
