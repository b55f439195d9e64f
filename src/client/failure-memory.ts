/**
 * Remembers keys that failed recently, for `ttlMs`, holding at most `max` keys.
 * Entries all live for the same span, so insertion order is expiry order: the oldest
 * entry is always first in the Map, which makes pruning and eviction O(1) each.
 */
export class FailureMemory {
  private readonly entries = new Map<bigint, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  remember(key: bigint, now: number): void {
    if (this.ttlMs <= 0 || this.max <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, now + this.ttlMs);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  has(key: bigint, now: number): boolean {
    if (this.entries.size === 0) return false;
    this.prune(now);
    const until = this.entries.get(key);
    return until !== undefined && until > now;
  }

  private prune(now: number): void {
    for (const [key, until] of this.entries) {
      if (until > now) return;
      this.entries.delete(key);
    }
  }
}
