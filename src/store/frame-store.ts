import type { Cache, MaybePromise } from '../client/components.js';

/**
 * The frame store as the relay side sees it, read and write: the `ProxyClient` writes
 * recovered frames with `store` (it needs only a {@link Cache}), the host's NACK server and
 * its multicast listener read and write the same store. `MemoryCache` and `RedisCache`
 * implement it; `MemoryCache` answers a read at once, `RedisCache` with a Promise, so
 * **await every read**: code written that way works with either.
 *
 * @example
 * ```ts
 * const cache: FrameStore = new MemoryCache(); // or new RedisCache({ client: redis })
 * // in the NACK handler:
 * const frame = await cache.retrieve(cacheKey(nack.hashKey, nack.startSeq));
 * if (frame !== undefined) socket.send(frame, from.port, from.address);
 * ```
 */
export interface FrameStore extends Cache {
  /**
   * The frame stored under the 16-byte `key` (`HashKey ∥ SeqNum`), or `undefined` when it
   * is absent or expired. May return a Promise (and a shared store may reject while it is
   * unreachable): await it.
   */
  retrieve(key: Uint8Array): MaybePromise<Uint8Array | undefined>;
  /**
   * Waits for a frame to be stored under the 16-byte `key`: resolves with it as soon as it is
   * there (at once when it already is), or with `undefined` once `options.timeoutMs` has
   * passed or `options.signal` aborted without it. It never resolves later than that bound
   * by more than one store round trip. A client that lost the claim of a gap to a sibling
   * uses it to deliver to its own requesters the frame the sibling stores (unicast delivery
   * across a fleet). Optional: a store without it is read with `retrieve` only.
   *
   * `MemoryCache` is woken by its own `store`; `RedisCache` polls (see its docs). Rejects
   * on a bad key or timeout, and where the store is unreachable.
   *
   * @example
   * ```ts
   * const frame = await cache.waitFor?.(cacheKey(gap.hashKey, gap.startSeq), { timeoutMs: 2_000 });
   * ```
   */
  waitFor?(key: Uint8Array, options: WaitForOptions): Promise<Uint8Array | undefined>;
}

/** Options of {@link FrameStore.waitFor}. */
export interface WaitForOptions {
  /** Longest wait in milliseconds (0: look once). Required: a wait is always bounded. */
  timeoutMs: number;
  /**
   * Ends the wait early: it resolves `undefined` (it does not reject) once aborted.
   * @default undefined
   */
  signal?: AbortSignal;
}

/** Throws unless `options` are valid {@link WaitForOptions}; returns the timeout. */
export function checkWaitOptions(options: WaitForOptions): number {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`waitFor options must be { timeoutMs, signal? }, got ${String(options)}`);
  }
  const { timeoutMs, signal } = options;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(
      `waitFor timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('waitFor signal must be an AbortSignal');
  }
  return timeoutMs;
}
