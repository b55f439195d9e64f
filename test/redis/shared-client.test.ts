/**
 * One ioredis client shared by a RedisCache and a RedisDeduper (the setup the README
 * recommends), in every state a host may hand it over in: never connected, connecting,
 * ready, ended.
 */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { RedisCache, RedisDeduper, createRedisClient } from '../../src/redis/index.js';
import { cacheKey } from '../../src/wire/index.js';
import { buildFrame } from '../../src/testing/frames.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { describeRedis, useRedisServer } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const HASH = 0x5a5a_0000_0000_0011n;
const CLAIM = cacheKey(HASH, 1n);
const KEY = cacheKey(HASH, 2n);
const FRAME = buildFrame({ hashKey: HASH, seq: 2n });

describeRedis('a RedisCache and a RedisDeduper sharing one client', () => {
  const leaks = useLeakCheck();
  const db = useRedisServer();

  function sharedClient(url = db.server.url): { redis: Redis; errors: Error[] } {
    const redis = createRedisClient(url);
    const errors: Error[] = [];
    redis.on('error', (err: Error) => errors.push(err));
    leaks.defer(() => redis.disconnect());
    return { redis, errors };
  }

  /** The first calls of both adapters, at once, as a ProxyClient makes them. */
  function firstUse(redis: Redis) {
    const cache = new RedisCache({ client: redis });
    const deduper = new RedisDeduper({ client: redis });
    return {
      cache,
      settled: Promise.allSettled([
        deduper.setNX(CLAIM, '1', 5_000),
        cache.store(KEY, FRAME, 5_000),
        cache.retrieve(KEY),
      ]),
    };
  }

  it('works on first use of a lazy client that nobody connected yet', async () => {
    const { redis } = sharedClient();
    expect(redis.status).toBe('wait');
    const { cache, settled } = firstUse(redis);
    const [claim, store] = await settled;
    expect(claim).toEqual({ status: 'fulfilled', value: true });
    expect(store).toEqual({ status: 'fulfilled', value: undefined });
    expect((await cache.retrieve(KEY))?.equals(FRAME)).toBe(true);
    expect(redis.status).toBe('ready');
  });

  it('waits for a connection the host started and did not await', async () => {
    const { redis } = sharedClient();
    const hostConnect = redis.connect().then(
      () => 'connected',
      (err: unknown) => err,
    );
    expect(redis.status).toBe('connecting');
    const { settled } = firstUse(redis);
    const [claim, store] = await settled;
    expect(claim).toEqual({ status: 'fulfilled', value: true });
    expect(store).toEqual({ status: 'fulfilled', value: undefined });
    expect(await hostConnect).toBe('connected'); // the host's own promise is intact
  });

  it('uses a client that is already ready without connecting it again', async () => {
    const { redis } = sharedClient();
    await redis.connect();
    const { settled } = firstUse(redis);
    const [claim, store] = await settled;
    expect(claim).toEqual({ status: 'fulfilled', value: true });
    expect(store).toEqual({ status: 'fulfilled', value: undefined });
  });

  it('rejects at once on a client the host has quit, and does not reopen it', async () => {
    const { redis } = sharedClient();
    await redis.connect();
    const ended = once(redis, 'end');
    await redis.quit();
    await ended;
    expect(redis.status).toBe('end');
    const { settled } = firstUse(redis);
    const outcomes = await settled;
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect(o.status === 'rejected' && String(o.reason)).toMatch(/Connection is closed/);
    }
    expect(redis.status).toBe('end');
  });

  it('rejects every waiting call when the first connection fails, then works once Redis is up', async () => {
    await db.server.stop();
    const { redis } = sharedClient();
    const outcomes = await firstUse(redis).settled;
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);

    await db.server.start();
    const cache = new RedisCache({ client: redis });
    const deduper = new RedisDeduper({ client: redis });
    await eventually(() => deduper.setNX(CLAIM, '1', 5_000), 5_000);
    await cache.store(KEY, FRAME, 5_000);
    expect((await cache.retrieve(KEY))?.equals(FRAME)).toBe(true);
  });

  it('does not hang when a connection the host started fails', async () => {
    const deadPort = db.server.port === 1 ? 2 : 1; // nothing listens on port 1 on loopback
    const { redis } = sharedClient(`redis://127.0.0.1:${deadPort}`);
    const hostConnect = redis.connect().catch((err: unknown) => err);
    const outcomes = await firstUse(redis).settled;
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await hostConnect).toBeInstanceOf(Error);
  });
});
