import { expect, it } from 'vitest';
import { RedisCache } from '../../src/redis/index.js';
import { cacheKey } from '../../src/wire/index.js';
import { buildFrame } from '../../src/testing/frames.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { describeRedis, useRedisServer } from '../helpers/redis-server.js';

const HASH = 0xff00_80c3_28fe_0002n;
const KEY = cacheKey(HASH, 9n);
const FRAME = buildFrame({ hashKey: HASH, seq: 9n });

describeRedis('RedisCache.waitFor against a real redis-server', () => {
  const leaks = useLeakCheck();
  const db = useRedisServer();

  function cacheFor(options: ConstructorParameters<typeof RedisCache>[0] = {}): RedisCache {
    const cache = new RedisCache({ url: db.server.url, ...options });
    leaks.defer(() => cache.close());
    return cache;
  }

  /** GETs the server ran since the last call (CONFIG RESETSTAT). */
  async function gets(): Promise<number> {
    const info = await db.raw.info('commandstats');
    await db.raw.config('RESETSTAT');
    return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
  }

  it('resolves with the frame a sibling stores during the wait, after a few GETs', async () => {
    const waiter = cacheFor();
    const sibling = cacheFor();
    await waiter.retrieve(KEY); // connected, so the count below is the wait's own
    await gets();
    const started = performance.now();
    const wait = waiter.waitFor(KEY, { timeoutMs: 5_000 });
    setTimeout(() => void sibling.store(KEY, FRAME, 60_000), 60);
    const frame = await wait;
    expect(frame?.equals(FRAME)).toBe(true);
    expect(performance.now() - started).toBeLessThan(4_000);
    // At once, then after 10, 15, 22.5, 25 ... ms: about 5 by 60 ms (generous for a busy host).
    expect(await gets()).toBeLessThanOrEqual(12);
  });

  it('resolves at once, with one GET, when the frame is already stored', async () => {
    const cache = cacheFor();
    await cache.store(KEY, FRAME, 60_000);
    await gets();
    expect((await cache.waitFor(KEY, { timeoutMs: 5_000 }))?.equals(FRAME)).toBe(true);
    expect(await gets()).toBe(1);
  });

  it('resolves undefined at the timeout, the GETs bounded by the poll pauses', async () => {
    const cache = cacheFor({ waitPoll: { initialMs: 40, maxMs: 40 } });
    await cache.retrieve(KEY);
    await gets();
    const started = performance.now();
    expect(await cache.waitFor(KEY, { timeoutMs: 150 })).toBeUndefined();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(2_000);
    const count = await gets();
    expect(count).toBeGreaterThanOrEqual(2);
    expect(count).toBeLessThanOrEqual(5); // at 0, 40, 80, 120 ms and at the deadline
    expect(await cache.waitFor(KEY, { timeoutMs: 0 })).toBeUndefined(); // one look
    expect(await gets()).toBe(1);
  });

  it('resolves undefined soon after the signal aborts, and sends nothing once aborted', async () => {
    const cache = cacheFor();
    await cache.retrieve(KEY);
    const controller = new AbortController();
    const started = performance.now();
    const wait = cache.waitFor(KEY, { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await wait).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2_000);
    await gets();
    expect(await cache.waitFor(KEY, { timeoutMs: 10_000, signal: AbortSignal.abort() })).toBe(
      undefined,
    );
    expect(await gets()).toBe(0);
  });

  it('rejects a bad key or timeout, and bad waitPoll options at construction', async () => {
    const cache = cacheFor();
    await expect(cache.waitFor(new Uint8Array(8), { timeoutMs: 10 })).rejects.toThrow(
      /key must be 16 bytes/,
    );
    await expect(cache.waitFor(KEY, { timeoutMs: -5 })).rejects.toThrow(/timeoutMs/);
    expect(() => new RedisCache({ url: db.server.url, waitPoll: { initialMs: 0 } })).toThrow(
      /waitPoll.initialMs must be a finite number >= 1/,
    );
    expect(
      () => new RedisCache({ url: db.server.url, waitPoll: { initialMs: 30, maxMs: 20 } }),
    ).toThrow(/waitPoll.maxMs \(20\) must not be below waitPoll.initialMs \(30\)/);
  });

  it('rejects while Redis is unreachable', async () => {
    const cache = cacheFor();
    await db.server.stop();
    try {
      await expect(cache.waitFor(KEY, { timeoutMs: 2_000 })).rejects.toThrow();
    } finally {
      await db.server.start();
    }
  });
});
