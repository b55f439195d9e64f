import type { LRUCache } from 'lru-cache';
import { growingLru } from '../shared/growing-lru.js';

/**
 * Gaps that failed moments ago (`failureMemoryMs`), at most `max` of them, so that a burst
 * of NACKs for a frame nobody has does not ask the upstreams again and again: an lru-cache
 * with a TTL (the oldest forgotten first when full).
 */
export class FailureMemory {
  private readonly entries: LRUCache<bigint, true> | undefined;

  constructor(ttlMs: number, max: number) {
    if (ttlMs <= 0 || max <= 0) return;
    this.entries = growingLru<bigint, true>(max, { ttl: ttlMs });
  }

  /** Gaps remembered (expired ones are forgotten first). */
  get size(): number {
    if (this.entries === undefined) return 0;
    this.entries.purgeStale();
    return this.entries.size;
  }

  remember(hashKey: bigint, seq: bigint): void {
    this.entries?.set((hashKey << 64n) | seq, true);
  }

  /** Whether the gap failed moments ago; no key is built while nothing is remembered. */
  has(hashKey: bigint, seq: bigint): boolean {
    const entries = this.entries;
    return entries !== undefined && entries.size > 0 && entries.has((hashKey << 64n) | seq);
  }
}
