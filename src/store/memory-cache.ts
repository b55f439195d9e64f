import { LRUCache } from 'lru-cache';
import { MAX_TIMER_MS } from '../shared/within.js';
import { checkWaitOptions } from './frame-store.js';
import type { FrameStore, WaitForOptions } from './frame-store.js';
import { checkOptions, type OptionSpec } from '../shared/option-check.js';
import { checkTtl, keyText } from './key-text.js';

/** Options of {@link MemoryCache}. */
export interface MemoryCacheOptions {
  /**
   * Most bytes of frames held; least recently used frames are evicted beyond it.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /**
   * Most frames held.
   * @default 100000
   */
  maxEntries?: number;
}

const MEMORY_CACHE_OPTIONS: OptionSpec<MemoryCacheOptions> = {
  maxBytes: 'number',
  maxEntries: 'number',
};

/**
 * In-process frame cache (lru-cache), bounded by entries and bytes, with a TTL per entry.
 * A {@link FrameStore}: the host's NACK server reads the same store with
 * {@link MemoryCache.retrieve}. Declare it as a `FrameStore` and await reads, and the code
 * keeps working when the cache becomes a `RedisCache`.
 *
 * @example
 * ```ts
 * const cache: FrameStore = new MemoryCache({ maxBytes: 256 * 1024 * 1024 });
 * const frame = await cache.retrieve(cacheKey(gap.hashKey, gap.startSeq));
 * ```
 */
export class MemoryCache implements FrameStore {
  private readonly lru: LRUCache<string, Uint8Array>;
  /** Pending {@link MemoryCache.waitFor} calls by key; a key leaves with its last waiter. */
  private readonly waiters = new Map<string, Set<(frame: Uint8Array | undefined) => void>>();

  /** @throws TypeError or RangeError with a Node-style `code` naming a bad or unknown option. */
  constructor(options: MemoryCacheOptions = {}) {
    const check = checkOptions('MemoryCache', options, MEMORY_CACHE_OPTIONS);
    const maxSize = check.whole('maxBytes', options.maxBytes, 64 * 1024 * 1024, 1);
    const max = check.whole('maxEntries', options.maxEntries, 100_000, 1);
    this.lru = new LRUCache<string, Uint8Array>({
      max,
      maxSize,
      sizeCalculation: (frame) => Math.max(1, frame.length),
      ttlAutopurge: false,
    });
  }

  /** Stores `frame` under the 16-byte `key` for `ttlMs`. A frame larger than `maxBytes` is not kept. */
  store(key: Uint8Array, frame: Uint8Array, ttlMs: number): void {
    checkTtl(ttlMs);
    if (!(frame instanceof Uint8Array)) throw new TypeError('nack-proxy: frame must be bytes');
    const k = keyText(key);
    this.lru.set(k, frame, { ttl: ttlMs });
    const waiting = this.waiters.get(k);
    if (waiting !== undefined && this.lru.has(k)) for (const wake of [...waiting]) wake(frame);
  }

  /**
   * Resolves with the frame stored under `key` as soon as it is stored, in this process
   * (each `store` wakes the waiters of its key; nothing polls), or at once when it is
   * already here. Resolves `undefined` after `timeoutMs` or when `signal` aborts; a frame
   * too large to keep (over `maxBytes`) is not seen. A settled wait leaves nothing behind
   * (see {@link MemoryCache.pendingWaits}).
   *
   * @throws TypeError when `key` is not 16 bytes; RangeError when `timeoutMs` is not a
   * finite number >= 0 (as a rejected Promise).
   * @example
   * ```ts
   * const frame = await cache.waitFor(cacheKey(1n, 42n), { timeoutMs: 2_000, signal });
   * ```
   */
  async waitFor(key: Uint8Array, options: WaitForOptions): Promise<Uint8Array | undefined> {
    const k = keyText(key); // a throw here rejects the returned Promise
    const timeoutMs = checkWaitOptions(options);
    const { signal } = options;
    const stored = this.lru.get(k);
    if (stored !== undefined || timeoutMs === 0 || signal?.aborted === true) return stored;
    return new Promise((resolve) => {
      const finish = (frame: Uint8Array | undefined): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', give);
        const set = this.waiters.get(k);
        set?.delete(finish);
        if (set?.size === 0) this.waiters.delete(k);
        resolve(frame);
      };
      const give = (): void => finish(undefined);
      const timer = setTimeout(give, Math.min(timeoutMs, MAX_TIMER_MS));
      signal?.addEventListener('abort', give, { once: true });
      const set = this.waiters.get(k);
      if (set === undefined) this.waiters.set(k, new Set([finish]));
      else set.add(finish);
    });
  }

  /** {@link MemoryCache.waitFor} calls not yet settled (0 once every wait has ended). */
  get pendingWaits(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /** The frame stored under `key`, or undefined when absent or expired; answers at once. */
  retrieve(key: Uint8Array): Uint8Array | undefined {
    return this.lru.get(keyText(key));
  }

  /** Milliseconds `key` has left, or undefined when absent. */
  remainingTtl(key: Uint8Array): number | undefined {
    const k = keyText(key);
    return this.lru.has(k) ? this.lru.getRemainingTTL(k) : undefined;
  }

  /** Frames held. */
  get size(): number {
    return this.lru.size;
  }

  /** Bytes of frames held. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** Removes every frame (pending waits go on waiting for a later `store`). */
  clear(): void {
    this.lru.clear();
  }
}
