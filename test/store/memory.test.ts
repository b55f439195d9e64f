import { describe, expect, it } from 'vitest';
import { MemoryCache, MemoryDeduper, cacheKey } from '../../src/index.js';
import { sleep } from '../helpers/wait.js';

const frame = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

describe('MemoryCache', () => {
  it('stores and retrieves by the 16-byte key, honouring the per-entry TTL', async () => {
    const cache = new MemoryCache();
    cache.store(cacheKey(1n, 1n), frame(100, 7), 300);
    cache.store(cacheKey(1n, 2n), frame(100, 8), 60_000);
    expect(cache.retrieve(cacheKey(1n, 1n))?.[0]).toBe(7);
    expect(cache.remainingTtl(cacheKey(1n, 2n))).toBeGreaterThan(50_000);
    await sleep(400);
    expect(cache.retrieve(cacheKey(1n, 1n))).toBeUndefined();
    expect(cache.retrieve(cacheKey(1n, 2n))?.[0]).toBe(8);
  });

  it('is bounded by entries and by bytes, evicting the least recently used', () => {
    const byCount = new MemoryCache({ maxEntries: 2 });
    for (const s of [1n, 2n, 3n]) byCount.store(cacheKey(1n, s), frame(10), 60_000);
    expect(byCount.size).toBe(2);
    expect(byCount.retrieve(cacheKey(1n, 1n))).toBeUndefined();

    const byBytes = new MemoryCache({ maxBytes: 250 });
    for (const s of [1n, 2n, 3n]) byBytes.store(cacheKey(1n, s), frame(100), 60_000);
    expect(byBytes.bytes).toBeLessThanOrEqual(250);
    expect(byBytes.retrieve(cacheKey(1n, 1n))).toBeUndefined();
    expect(byBytes.retrieve(cacheKey(1n, 3n))).toBeDefined();
  });

  it('refuses bad keys, TTLs and options with clear errors', () => {
    const cache = new MemoryCache();
    expect(() => cache.store(new Uint8Array(15), frame(1), 1)).toThrow(
      /cache key must be 16 bytes/,
    );
    expect(() => cache.store(cacheKey(1n, 1n), frame(1), 0)).toThrow(
      /ttlMs must be a positive number, got 0/,
    );
    expect(() => new MemoryCache({ maxBytes: 0 })).toThrow(
      /option maxBytes must be a positive integer, got 0/,
    );
  });
});

describe('MemoryDeduper', () => {
  it('grants one claim per key until its TTL passes', async () => {
    const d = new MemoryDeduper();
    expect(d.setNX(cacheKey(1n, 1n), '1', 300)).toBe(true);
    expect(d.setNX(cacheKey(1n, 1n), '1', 300)).toBe(false);
    expect(d.setNX(cacheKey(1n, 2n), '1', 300)).toBe(true);
    expect(d.get(cacheKey(1n, 1n))).toBe('1');
    await sleep(400);
    expect(d.setNX(cacheKey(1n, 1n), '1', 300)).toBe(true);
  });

  it('releases a claim, so that the gap can be claimed again at once', () => {
    const d = new MemoryDeduper();
    expect(d.setNX(cacheKey(1n, 1n), '1', 60_000)).toBe(true);
    expect(d.setNX(cacheKey(1n, 2n), '1', 60_000)).toBe(true);
    d.release(cacheKey(1n, 1n));
    expect(d.get(cacheKey(1n, 1n))).toBeUndefined();
    expect(d.get(cacheKey(1n, 2n))).toBe('1');
    expect(d.setNX(cacheKey(1n, 1n), '1', 60_000)).toBe(true);
    expect(d.setNX(cacheKey(1n, 1n), '1', 60_000)).toBe(false);
    d.release(cacheKey(1n, 3n)); // never claimed: nothing happens
    expect(d.size).toBe(2);
    expect(() => d.release(new Uint8Array(15))).toThrow(/cache key must be 16 bytes/);
  });

  it('holds at most maxEntries claims', () => {
    const d = new MemoryDeduper({ maxEntries: 3 });
    for (let s = 0n; s < 10n; s++) d.setNX(cacheKey(1n, s), '1', 60_000);
    expect(d.size).toBe(3);
  });
});
