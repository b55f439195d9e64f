import { LRUCache } from 'lru-cache';
import type { Deduper } from '../client/components.js';
import { checkOptions, type OptionSpec } from '../shared/option-check.js';
import { checkTtl, keyText } from './key-text.js';

/** Options of {@link MemoryDeduper}. */
export interface MemoryDeduperOptions {
  /**
   * Most claims held; the least recently set are forgotten first.
   * @default 100000
   */
  maxEntries?: number;
}

const MEMORY_DEDUPER_OPTIONS: OptionSpec<MemoryDeduperOptions> = { maxEntries: 'number' };

/**
 * Per-process set-if-absent claims with a TTL (lru-cache). Use it to share one claim
 * between several clients in one process; a fleet shares `RedisDeduper` instead.
 *
 * @example
 * ```ts
 * const deduper = new MemoryDeduper();
 * const a = new ProxyClient({ upstreams, cache, retransmitter, deduper });
 * const b = new ProxyClient({ upstreams: others, cache, retransmitter, deduper });
 * ```
 */
export class MemoryDeduper implements Deduper {
  private readonly lru: LRUCache<string, string>;

  /** @throws TypeError or RangeError with a Node-style `code` naming a bad or unknown option. */
  constructor(options: MemoryDeduperOptions = {}) {
    const check = checkOptions('MemoryDeduper', options, MEMORY_DEDUPER_OPTIONS);
    this.lru = new LRUCache<string, string>({
      max: check.whole('maxEntries', options.maxEntries, 100_000, 1),
    });
  }

  /** Claims `key` for `ttlMs`; true when it was free (or expired). */
  setNX(key: Uint8Array, value: string, ttlMs: number): boolean {
    checkTtl(ttlMs);
    const k = keyText(key);
    if (this.lru.has(k)) return false;
    this.lru.set(k, value, { ttl: ttlMs });
    return true;
  }

  /**
   * Releases the claim on `key`, so that it can be taken again at once (the client calls it
   * when a gap it claimed ends `failed`). Every claim here was made through this object and
   * changes hands only after its window ends (or after `maxEntries` evicted it), so the claim
   * released is the caller's unless its gap outlived that; releasing a newer one then costs
   * at most one extra fetch of the gap.
   */
  release(key: Uint8Array): void {
    this.lru.delete(keyText(key));
  }

  /** The value claimed under `key`, or undefined. */
  get(key: Uint8Array): string | undefined {
    return this.lru.get(keyText(key));
  }

  /** Claims held. */
  get size(): number {
    return this.lru.size;
  }
}
