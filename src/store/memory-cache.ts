import { LRUCache } from 'lru-cache';
import type { FrameStore } from './frame-store.js';
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
    this.lru.set(keyText(key), frame, { ttl: ttlMs });
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

  /** Removes every frame. */
  clear(): void {
    this.lru.clear();
  }
}
