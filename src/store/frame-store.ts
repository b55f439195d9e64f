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
}
