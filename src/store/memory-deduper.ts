import { LRUCache } from 'lru-cache';
import type { Deduper } from '../client/components.js';
import { checkTtl, keyText, positiveInt } from './key-text.js';

/** Options of {@link MemoryDeduper}. */
export interface MemoryDeduperOptions {
  /**
   * Most claims held; the least recently set are forgotten first.
   * @default 100000
   */
  maxEntries?: number;
}

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

  constructor(options: MemoryDeduperOptions = {}) {
    this.lru = new LRUCache<string, string>({
      max: positiveInt('maxEntries', options.maxEntries, 100_000),
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

  /** The value claimed under `key`, or undefined. */
  get(key: Uint8Array): string | undefined {
    return this.lru.get(keyText(key));
  }

  /** Claims held. */
  get size(): number {
    return this.lru.size;
  }
}
