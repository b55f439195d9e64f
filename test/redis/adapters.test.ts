import { expect, it } from 'vitest';
import { RedisCache, RedisDeduper, createRedisClient } from '../../src/redis/index.js';
import { cacheKey } from '../../src/wire/index.js';
import { buildFrame } from '../../src/testing/frames.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { describeRedis, useRedisServer } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

// HashKey and SeqNum chosen so the key holds 0x00, 0xFF and bytes that are not valid UTF-8.
const HASH = 0xff00_80c3_28fe_0001n;
const SEQ = 0x0000_0000_dead_beefn;
const KEY = cacheKey(HASH, SEQ);
const FRAME = buildFrame({ hashKey: HASH, seq: SEQ });

const rawKey = (prefix: string, key: Uint8Array) => Buffer.concat([Buffer.from(prefix), key]);

describeRedis('Redis adapters against a real redis-server', () => {
  const leaks = useLeakCheck();
  const db = useRedisServer();

  function cacheFor(options: ConstructorParameters<typeof RedisCache>[0] = {}): RedisCache {
    const cache = new RedisCache({ url: db.server.url, ...options });
    leaks.defer(() => cache.close());
    return cache;
  }
  function deduperFor(options: ConstructorParameters<typeof RedisDeduper>[0] = {}): RedisDeduper {
    const deduper = new RedisDeduper({ url: db.server.url, ...options });
    leaks.defer(() => deduper.close());
    return deduper;
  }

  it('stores the raw frame under bre:frame: + the 16 raw key bytes with a PX TTL', async () => {
    await cacheFor().store(KEY, FRAME, 60_000);
    const keys = await db.raw.keysBuffer('*');
    expect(keys.map((k) => k.toString('hex'))).toEqual([rawKey('bre:frame:', KEY).toString('hex')]);
    expect(keys[0]!.length).toBe(10 + 16);
    const value = await db.raw.getBuffer(rawKey('bre:frame:', KEY));
    expect(value?.equals(FRAME)).toBe(true);
    const pttl = await db.raw.pttl(rawKey('bre:frame:', KEY));
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('rounds a fractional TTL up to whole milliseconds', async () => {
    await cacheFor().store(KEY, FRAME, 1_500.2);
    const pttl = await db.raw.pttl(rawKey('bre:frame:', KEY));
    expect(pttl).toBeGreaterThan(1_000);
    expect(pttl).toBeLessThanOrEqual(1_501);
  });

  it('retrieves frames written by an existing endpoint, and undefined when absent or expired', async () => {
    const cache = cacheFor();
    await db.raw.set(rawKey('bre:frame:', KEY), FRAME, 'PX', 80);
    expect((await cache.retrieve(KEY))?.equals(FRAME)).toBe(true);
    expect(await cache.retrieve(cacheKey(HASH, SEQ + 1n))).toBeUndefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(await cache.retrieve(KEY)).toBeUndefined();
  });

  it('stores a Uint8Array view verbatim (no extra bytes from the underlying buffer)', async () => {
    const backing = new Uint8Array(FRAME.length + 20).fill(0xee);
    backing.set(FRAME, 10);
    await cacheFor().store(KEY, backing.subarray(10, 10 + FRAME.length), 1_000);
    expect((await db.raw.getBuffer(rawKey('bre:frame:', KEY)))?.equals(FRAME)).toBe(true);
  });

  it('claims bre:proxy: + the 16 raw key bytes = "1" with the dedup window, once', async () => {
    const a = deduperFor();
    const b = deduperFor();
    expect(await a.setNX(KEY, '1', 60_000)).toBe(true);
    expect(await b.setNX(KEY, '1', 60_000)).toBe(false);
    expect(await a.setNX(KEY, '1', 60_000)).toBe(false);
    const key = rawKey('bre:proxy:', KEY);
    expect((await db.raw.getBuffer(key))?.toString()).toBe('1');
    const pttl = await db.raw.pttl(key);
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await b.setNX(cacheKey(HASH, SEQ + 1n), '1', 60_000)).toBe(true);
    expect((await db.raw.keysBuffer('*')).length).toBe(2);
  });

  it('lets a claim be taken again once its window expires', async () => {
    const d = deduperFor();
    expect(await d.setNX(KEY, '1', 60)).toBe(true);
    expect(await d.setNX(KEY, '1', 60)).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect(await d.setNX(KEY, '1', 60)).toBe(true);
  });

  it('respects a claim made by an existing endpoint', async () => {
    await db.raw.set(rawKey('bre:proxy:', KEY), '1', 'PX', 10_000);
    expect(await deduperFor().setNX(KEY, '1', 10_000)).toBe(false);
  });

  it('uses configured prefixes', async () => {
    await cacheFor({ framePrefix: 'edge7:f:' }).store(KEY, FRAME, 5_000);
    expect(await deduperFor({ claimPrefix: 'edge7:c:' }).setNX(KEY, '1', 5_000)).toBe(true);
    const keys = (await db.raw.keysBuffer('*')).map((k) => k.toString('hex')).sort();
    expect(keys).toEqual(
      [rawKey('edge7:f:', KEY), rawKey('edge7:c:', KEY)].map((k) => k.toString('hex')).sort(),
    );
    expect(() => new RedisCache({ url: db.server.url, framePrefix: '' })).toThrow(/framePrefix/);
  });

  it('rejects keys that are not 16 bytes and non-positive TTLs', async () => {
    const cache = cacheFor();
    const deduper = deduperFor();
    await expect(cache.store(KEY.subarray(0, 15), FRAME, 1_000)).rejects.toThrow(/16 bytes/);
    await expect(cache.store(KEY, FRAME, 0)).rejects.toThrow(/ttlMs/);
    await expect(cache.retrieve(new Uint8Array(17))).rejects.toThrow(/16 bytes/);
    await expect(deduper.setNX(KEY, '1', Number.NaN)).rejects.toThrow(/ttlMs/);
    expect(await db.raw.dbsize()).toBe(0);
  });

  it('shares an injected client and leaves it open on close()', async () => {
    const client = createRedisClient(db.server.url);
    leaks.defer(() => client.quit());
    const cache = new RedisCache({ client });
    const deduper = new RedisDeduper({ client });
    await cache.store(KEY, FRAME, 1_000);
    expect(await deduper.setNX(KEY, '1', 1_000)).toBe(true);
    await cache.close();
    await deduper.close();
    expect(client.status).toBe('ready');
    expect((await cache.retrieve(KEY))?.equals(FRAME)).toBe(true);
  });

  it('quits a client it created from the URL on close()', async () => {
    const cache = new RedisCache({ url: db.server.url });
    await cache.store(KEY, FRAME, 1_000);
    await cache.close();
    await expect(cache.store(KEY, FRAME, 1_000)).rejects.toThrow();
    await cache.close(); // idempotent
  });

  it('quits its own client at the end of an `await using` block; an injected one stays open', async () => {
    const shared = createRedisClient(db.server.url);
    leaks.defer(() => shared.disconnect());
    let cache: RedisCache | undefined;
    let deduper: RedisDeduper | undefined;
    {
      await using ownCache = new RedisCache({ url: db.server.url });
      await using ownDeduper = new RedisDeduper({ url: db.server.url });
      await using injected = new RedisDeduper({ client: shared });
      [cache, deduper] = [ownCache, ownDeduper];
      await cache.store(KEY, FRAME, 1_000);
      expect(await deduper.setNX(KEY, '1', 1_000)).toBe(true);
      expect(await injected.setNX(cacheKey(HASH, 1n), '1', 1_000)).toBe(true);
    }
    await expect(cache.store(KEY, FRAME, 1_000)).rejects.toThrow();
    await expect(deduper.setNX(cacheKey(HASH, 2n), '1', 1_000)).rejects.toThrow();
    expect(shared.status).toBe('ready');
  });

  it('fails fast while Redis is down, then claims work again when it is back', async () => {
    const cache = cacheFor();
    const deduper = deduperFor();
    const shared = createRedisClient(db.server.url);
    shared.on('error', () => undefined);
    leaks.defer(() => shared.disconnect());
    const injected = new RedisDeduper({ client: shared });
    expect(await deduper.setNX(KEY, '1', 60_000)).toBe(true);
    expect(await injected.setNX(cacheKey(HASH, 1n), '1', 60_000)).toBe(true);

    await db.server.stop();
    const started = performance.now();
    const outcomes = await Promise.allSettled([
      cache.store(KEY, FRAME, 1_000),
      cache.retrieve(KEY),
      deduper.setNX(cacheKey(HASH, 2n), '1', 1_000),
      injected.setNX(cacheKey(HASH, 3n), '1', 1_000),
      ...Array.from({ length: 50 }, (_, i) =>
        deduper.setNX(cacheKey(HASH, 100n + BigInt(i)), '1', 1_000),
      ),
    ]);
    const elapsed = performance.now() - started;
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(elapsed).toBeLessThan(1_500);

    await db.server.start(); // empty dataset: claims from before the outage are gone
    const back = await eventually(() => deduper.setNX(KEY, '1', 60_000), 5_000);
    expect(back).toBe(true);
    expect(await deduper.setNX(KEY, '1', 60_000)).toBe(false);
    expect(await eventually(() => injected.setNX(KEY, '1', 60_000), 5_000)).toBe(false);
    await eventually(() => cache.store(KEY, FRAME, 1_000), 5_000);
    expect((await cache.retrieve(KEY))?.equals(FRAME)).toBe(true);
  });

  it('rejects quickly when Redis was never reachable', async () => {
    const deadPort = db.server.port === 1 ? 2 : 1; // nothing listens on port 1 on loopback
    const deduper = new RedisDeduper({ url: `redis://127.0.0.1:${deadPort}` });
    leaks.defer(() => deduper.close());
    const started = performance.now();
    await expect(deduper.setNX(KEY, '1', 1_000)).rejects.toThrow();
    await expect(deduper.setNX(KEY, '1', 1_000)).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2_500);
  });
});
