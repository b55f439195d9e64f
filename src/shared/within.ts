/**
 * The one way this library waits on something it does not control: a Promise raced
 * against a timer and, optionally, an AbortSignal. Every timer it arms is cleared as soon
 * as the wait ends, so nothing it started outlives the wait.
 * @module
 */

/** How a bounded wait ended. */
export type Settled<T> =
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'error'; readonly error: Error }
  | { readonly status: 'timeout' }
  | { readonly status: 'aborted' };

/** Longest delay Node.js timers honour (2^31 − 1 ms); longer ones would fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const TIMEOUT: Settled<never> = Object.freeze({ status: 'timeout' });
const ABORTED: Settled<never> = Object.freeze({ status: 'aborted' });

/**
 * Waits for `work` at most `ms` milliseconds, and no longer than `signal` stays unaborted.
 * Never rejects: a rejection comes back as `{ status: 'error' }`.
 */
export function within<T>(
  work: PromiseLike<T>,
  ms: number,
  signal?: AbortSignal,
): Promise<Settled<T>> {
  if (signal?.aborted === true) {
    work.then(undefined, ignore); // its rejection is nobody's to handle now
    return Promise.resolve(ABORTED);
  }
  return new Promise((resolve) => {
    const end = (outcome: Settled<T>): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = (): void => end(ABORTED);
    const timer = setTimeout(end, Math.min(Math.max(0, ms), MAX_TIMER_MS), TIMEOUT);
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => end({ status: 'ok', value }),
      (err: unknown) => end({ status: 'error', error: toError(err) }),
    );
  });
}

function ignore(): void {}

const NEVER: PromiseLike<never> = { then: () => NEVER };

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return (await within(NEVER, ms, signal)).status === 'timeout';
}

/** True for a Promise or any other thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Turns anything thrown into an Error. Never throws itself, whatever it is given: objects
 * without a prototype, or whose `toString` throws, are described instead of converted.
 */
export function toError(thrown: unknown): Error {
  let text: string;
  try {
    if (thrown instanceof Error) return thrown;
  } catch {
    // a revoked Proxy: described below
  }
  try {
    text = typeof thrown === 'string' ? thrown : `non-Error thrown: ${String(thrown)}`;
  } catch {
    text = `non-Error thrown: an unprintable ${typeof thrown}`;
  }
  return new Error(text, { cause: thrown });
}
