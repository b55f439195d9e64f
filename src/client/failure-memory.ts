import type { LRUCache } from 'lru-cache';
import { growingLru } from '../shared/growing-lru.js';

/**
 * Gaps that failed moments ago (`failureMemoryMs`), at most `max` of them, so that a burst
 * of NACKs for a frame nobody has does not ask the upstreams again and again: an lru-cache
 * with a TTL (the oldest forgotten first when full), made at the first failure (an
 * lru-cache costs a few µs to construct, once per client otherwise).
 */
export class FailureMemory {
  private entries: LRUCache<bigint, true> | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  /** Gaps remembered (expired ones are forgotten first). */
  get size(): number {
    if (this.entries === undefined) return 0;
    this.entries.purgeStale();
    return this.entries.size;
  }

  remember(hashKey: bigint, seq: bigint): void {
    if (this.ttlMs <= 0 || this.max <= 0) return;
    this.entries ??= growingLru<bigint, true>(this.max, { ttl: this.ttlMs });
    this.entries.set((hashKey << 64n) | seq, true);
  }

  /** Whether the gap failed moments ago; no key is built while nothing is remembered. */
  has(hashKey: bigint, seq: bigint): boolean {
    const entries = this.entries;
    return entries !== undefined && entries.size > 0 && entries.has((hashKey << 64n) | seq);
  }
}
