import type { MaybePromise } from './components.js';

/** Outcome of a guarded call into an injected component. */
export type Guarded<T> = { ok: true; value: T } | { ok: false; error: Error };

/** Normalises anything thrown into an Error. */
export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : `non-Error thrown: ${String(err)}`);
}

/**
 * Calls `fn`, turning a throw, a rejection, or a promise still pending after `timeoutMs`
 * into `{ ok: false }`. Synchronous results return without a timer.
 */
export async function guard<T>(
  what: string,
  timeoutMs: number,
  fn: () => MaybePromise<T>,
): Promise<Guarded<T>> {
  return guardNow(what, timeoutMs, fn);
}

const OK_VOID: Guarded<undefined> = Object.freeze({ ok: true, value: undefined });

/**
 * Like {@link guard}, but a synchronous result comes back synchronously (no Promise, no
 * microtask hop): callers `await` only when they get a Promise.
 */
export function guardNow<T>(
  what: string,
  timeoutMs: number,
  fn: () => MaybePromise<T>,
): Guarded<T> | Promise<Guarded<T>> {
  let result: MaybePromise<T>;
  try {
    result = fn();
  } catch (err) {
    return { ok: false, error: toError(err) };
  }
  if (!isThenable(result)) {
    return result === undefined ? (OK_VOID as Guarded<T>) : { ok: true, value: result };
  }
  return within(what, timeoutMs, result);
}

async function within<T>(what: string, timeoutMs: number, result: Promise<T>): Promise<Guarded<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Guarded<T>>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({ ok: false, error: new Error(`${what} did not settle within ${timeoutMs} ms`) }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      Promise.resolve(result).then(
        (value): Guarded<T> => ({ ok: true, value }),
        (err: unknown): Guarded<T> => ({ ok: false, error: toError(err) }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function isThenable<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
