import { setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MemoryCache, cacheKey } from '../../src/index.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { sleep } from '../helpers/wait.js';

const KEY = cacheKey(0x77n, 5n);
const frame = (fill: number, n = 64): Uint8Array => new Uint8Array(n).fill(fill);

describe('MemoryCache.waitFor', () => {
  useLeakCheck(); // every timer and listener of a settled wait is gone

  it('resolves with the frame as soon as it is stored, and leaves no waiter', async () => {
    const cache = new MemoryCache();
    const started = performance.now();
    const waits = [
      cache.waitFor(KEY, { timeoutMs: 5_000 }),
      cache.waitFor(KEY, { timeoutMs: 5_000 }),
    ];
    const other = cache.waitFor(cacheKey(0x77n, 6n), { timeoutMs: 5_000 });
    expect(cache.pendingWaits).toBe(3);
    setTimeout(() => cache.store(KEY, frame(9), 60_000), 30);
    const [a, b] = await Promise.all(waits);
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(a?.[0]).toBe(9);
    expect(b).toBe(a);
    expect(cache.pendingWaits).toBe(1); // the other key still waits
    cache.store(cacheKey(0x77n, 6n), frame(6), 60_000);
    expect((await other)?.[0]).toBe(6);
    expect(cache.pendingWaits).toBe(0);
  });

  it('resolves at once with a frame already stored', async () => {
    const cache = new MemoryCache();
    cache.store(KEY, frame(3), 60_000);
    expect((await cache.waitFor(KEY, { timeoutMs: 10_000 }))?.[0]).toBe(3);
    expect((await cache.waitFor(KEY, { timeoutMs: 0 }))?.[0]).toBe(3);
    expect(cache.pendingWaits).toBe(0);
  });

  it('resolves undefined at the timeout, and removes the waiter', async () => {
    const cache = new MemoryCache();
    const started = performance.now();
    expect(await cache.waitFor(KEY, { timeoutMs: 40 })).toBeUndefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(await cache.waitFor(KEY, { timeoutMs: 0 })).toBeUndefined();
    expect(cache.pendingWaits).toBe(0);
    cache.store(KEY, frame(1), 60_000); // nobody left to wake
  });

  it('resolves undefined when the signal aborts, before or during the wait', async () => {
    const cache = new MemoryCache();
    const controller = new AbortController();
    const wait = cache.waitFor(KEY, { timeoutMs: 10_000, signal: controller.signal });
    const sibling = cache.waitFor(KEY, { timeoutMs: 10_000 });
    await sleep(5);
    controller.abort();
    expect(await wait).toBeUndefined();
    expect(cache.pendingWaits).toBe(1);
    expect(
      await cache.waitFor(KEY, { timeoutMs: 10_000, signal: AbortSignal.abort() }),
    ).toBeUndefined();
    cache.store(KEY, frame(4), 60_000);
    expect((await sibling)?.[0]).toBe(4); // an abort ends only its own wait
    expect(cache.pendingWaits).toBe(0);
  });

  it('does not see a frame too large to keep, nor one stored under another key', async () => {
    const cache = new MemoryCache({ maxBytes: 100 });
    const wait = cache.waitFor(KEY, { timeoutMs: 60 });
    cache.store(KEY, frame(1, 200), 60_000);
    cache.store(cacheKey(0x77n, 50n), frame(1), 60_000);
    expect(await wait).toBeUndefined();
    expect(cache.pendingWaits).toBe(0);
  });

  it('rejects a bad key, timeout or signal, leaving nothing behind', async () => {
    const cache = new MemoryCache();
    await expect(cache.waitFor(new Uint8Array(15), { timeoutMs: 10 })).rejects.toThrow(
      /cache key must be 16 bytes/,
    );
    for (const timeoutMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(cache.waitFor(KEY, { timeoutMs })).rejects.toThrow(
        /waitFor timeoutMs must be a finite number >= 0/,
      );
    }
    await expect(cache.waitFor(KEY, { timeoutMs: 10, signal: {} as AbortSignal })).rejects.toThrow(
      /AbortSignal/,
    );
    expect(cache.pendingWaits).toBe(0);
  });

  it('keeps no entry per key once a burst of waits has ended', async () => {
    const cache = new MemoryCache();
    const controller = new AbortController();
    setMaxListeners(0, controller.signal); // one listener per wait, as on the client's signal
    const waits = Array.from({ length: 1_000 }, (_, i) =>
      cache.waitFor(cacheKey(1n, BigInt(i)), { timeoutMs: 10_000, signal: controller.signal }),
    );
    for (let i = 0; i < 1_000; i += 2) cache.store(cacheKey(1n, BigInt(i)), frame(i % 256), 60_000);
    controller.abort();
    const results = await Promise.all(waits);
    expect(results.filter((r) => r !== undefined)).toHaveLength(500);
    expect(cache.pendingWaits).toBe(0);
    expect((cache as unknown as { waiters: Map<string, unknown> }).waiters.size).toBe(0);
  });
});
