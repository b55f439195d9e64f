/**
 * RedisDeduper.release against a real redis-server: a gap whose recovery failed can be
 * claimed again at once, and a claim that is not ours (an existing endpoint's, or one made
 * after ours vanished or expired) is never deleted.
 */
import { expect, it } from 'vitest';
import { RedisDeduper, createRedisClient } from '../../src/redis/index.js';
import { cacheKey } from '../../src/wire/index.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { describeRedis, useRedisServer } from '../helpers/redis-server.js';
import { sleep } from '../helpers/wait.js';

const HASH = 0xc1a1_0000_0000_0007n;
const KEY = cacheKey(HASH, 42n);
const WINDOW = 60_000;
const claimKey = (key: Uint8Array, prefix = 'bre:proxy:') =>
  Buffer.concat([Buffer.from(prefix), key]);

describeRedis('RedisDeduper.release against a real redis-server', () => {
  const leaks = useLeakCheck();
  const db = useRedisServer();

  /** One endpoint's deduper (each has its own connection, as siblings do). */
  function endpoint(options: ConstructorParameters<typeof RedisDeduper>[0] = {}): RedisDeduper {
    const deduper = new RedisDeduper({ url: db.server.url, ...options });
    leaks.defer(() => deduper.close());
    return deduper;
  }

  it('frees its own claim, so that a sibling can claim the failed gap at once', async () => {
    const mine = endpoint();
    const sibling = endpoint();
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    expect(await sibling.setNX(KEY, '1', WINDOW)).toBe(false);

    await mine.release(KEY);
    expect(await db.raw.exists(claimKey(KEY))).toBe(0);
    expect(await sibling.setNX(KEY, '1', WINDOW)).toBe(true);
    expect((await db.raw.getBuffer(claimKey(KEY)))?.toString()).toBe('1');
  });

  it('frees only the released key', async () => {
    const mine = endpoint();
    const other = cacheKey(HASH, 43n);
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    expect(await mine.setNX(other, '1', WINDOW)).toBe(true);
    await mine.release(KEY);
    expect(await db.raw.exists(claimKey(KEY))).toBe(0);
    expect(await db.raw.exists(claimKey(other))).toBe(1);
  });

  it('leaves a claim made by another endpoint', async () => {
    const mine = endpoint();
    const sibling = endpoint();
    await db.raw.set(claimKey(KEY), '1', 'PX', WINDOW); // an existing (Go) endpoint's claim
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(false);
    await mine.release(KEY); // never won: nothing to release
    expect(await sibling.setNX(cacheKey(HASH, 44n), '1', WINDOW)).toBe(true);
    await mine.release(cacheKey(HASH, 44n)); // the sibling's claim, not ours
    expect(await db.raw.exists(claimKey(KEY))).toBe(1);
    expect(await db.raw.exists(claimKey(cacheKey(HASH, 44n)))).toBe(1);
  });

  it('releases once: a claim re-made by a sibling after our release stays', async () => {
    const mine = endpoint();
    const sibling = endpoint();
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    await mine.release(KEY);
    expect(await sibling.setNX(KEY, '1', WINDOW)).toBe(true);
    await mine.release(KEY);
    expect(await db.raw.exists(claimKey(KEY))).toBe(1);
  });

  it('leaves a claim a sibling made after ours vanished (Redis flushed or restarted)', async () => {
    const mine = endpoint();
    const sibling = endpoint();
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    await db.raw.flushall(); // as if Redis restarted without persistence
    await sleep(50); // the sibling claims later than we did, so its claim has more time left
    expect(await sibling.setNX(KEY, '1', WINDOW)).toBe(true);
    await mine.release(KEY);
    expect(await db.raw.exists(claimKey(KEY))).toBe(1);
    expect(await db.raw.pttl(claimKey(KEY))).toBeGreaterThan(WINDOW - 10_000);
  });

  it('leaves a claim a sibling made after ours expired', async () => {
    const mine = endpoint();
    const sibling = endpoint();
    expect(await mine.setNX(KEY, '1', 80)).toBe(true);
    await sleep(150);
    expect(await sibling.setNX(KEY, '1', 80)).toBe(true);
    await mine.release(KEY);
    expect(await db.raw.exists(claimKey(KEY))).toBe(1);
  });

  it('leaves a key with another value or without expiry', async () => {
    const mine = endpoint();
    const other = cacheKey(HASH, 45n);
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    expect(await mine.setNX(other, '1', WINDOW)).toBe(true);
    await db.raw.set(claimKey(KEY), 'someone-else', 'KEEPTTL');
    await db.raw.persist(claimKey(other));
    await mine.release(KEY);
    await mine.release(other);
    expect((await db.raw.getBuffer(claimKey(KEY)))?.toString()).toBe('someone-else');
    expect(await db.raw.exists(claimKey(other))).toBe(1);
  });

  it('uses the configured prefix and refuses keys that are not 16 bytes', async () => {
    const mine = endpoint({ claimPrefix: 'edge7:c:' });
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    await db.raw.set(claimKey(KEY), '1', 'PX', WINDOW); // same key bytes, default prefix
    await mine.release(KEY);
    expect(await db.raw.exists(claimKey(KEY, 'edge7:c:'))).toBe(0);
    expect(await db.raw.exists(claimKey(KEY))).toBe(1);
    await expect(mine.release(KEY.subarray(0, 15))).rejects.toThrow(/16 bytes/);
  });

  it('works on a client shared with the host, and rejects while Redis is down', async () => {
    const shared = createRedisClient(db.server.url);
    shared.on('error', () => undefined);
    leaks.defer(() => shared.disconnect());
    const mine = new RedisDeduper({ client: shared });
    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    await mine.release(KEY);
    expect(await db.raw.exists(claimKey(KEY))).toBe(0);

    expect(await mine.setNX(KEY, '1', WINDOW)).toBe(true);
    await db.server.stop();
    await expect(mine.release(KEY)).rejects.toThrow();
    await db.server.start();
  });
});
