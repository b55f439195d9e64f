import { MAX_TIMER_MS, toError, type Settled } from './within.js';

interface Watched {
  readonly deadline: number;
  /** Ends the wait: it timed out (`timedOut`), or the watchdog closed. */
  end(timedOut: boolean): void;
}

const TIMEOUT: Settled<never> = Object.freeze({ status: 'timeout' });
const ABORTED: Settled<never> = Object.freeze({ status: 'aborted' });

/** A watched call that did not settle in time. */
export class NotSettledError extends Error {
  constructor(ms: number) {
    super(`did not settle within ${ms} ms`);
    this.name = 'NotSettledError';
  }
}

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
   * Settles like `work`, but rejects with a {@link NotSettledError} when `work` has not
   * settled after about `ms` milliseconds, and resolves `onClose` at once when the watchdog
   * closes.
   */
  guard<T, C>(work: PromiseLike<T>, ms: number, onClose: C): Promise<T | C> {
    if (this.closed) {
      work.then(undefined, ignore);
      return Promise.resolve(onClose);
    }
    return new Promise<T | C>((resolve, reject) => {
      const entry: Watched = {
        deadline: performance.now() + ms,
        end: (timedOut) => (timedOut ? reject(new NotSettledError(ms)) : resolve(onClose)),
      };
      this.watch(entry);
      work.then(
        (value) => {
          this.watched.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.watched.delete(entry);
          reject(toError(err));
        },
      );
    });
  }

  /**
   * Waits for `work` at most about `ms` milliseconds. Never rejects: a rejection comes back
   * as `{ status: 'error' }`, and after `close()` every wait ends at once as `aborted`.
   */
  within<T>(work: PromiseLike<T>, ms: number): Promise<Settled<T>> {
    return this.guard(work, ms, ABORTED).then(
      (value): Settled<T> => (value === ABORTED ? ABORTED : { status: 'ok', value: value as T }),
      (err: unknown): Settled<T> =>
        err instanceof NotSettledError ? TIMEOUT : { status: 'error', error: toError(err) },
    );
  }

  /** Ends every wait; later waits end at once. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const all = [...this.watched];
    this.watched.clear();
    for (const w of all) w.end(false);
  }

  /** @internal The timer: ends overdue waits, and runs again while any are left. */
  check(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const w of this.watched) {
      if (w.deadline > now) continue;
      this.watched.delete(w);
      w.end(true);
    }
    if (this.watched.size > 0) this.timer = setTimeout(tick, this.tickMs, this);
  }

  private watch(entry: Watched): void {
    this.watched.add(entry);
    this.timer ??= setTimeout(tick, Math.min(this.tickMs, MAX_TIMER_MS), this);
  }
}

function tick(dog: Watchdog): void {
  dog.check();
}

function ignore(): void {}
