import type { Deduper } from '../client/components.js';
import { RedisConnection, prefixBytes, prefixedKey, pxOf } from './connection.js';
import type { RedisConnectionOptions } from './connection.js';

/** Options of {@link RedisDeduper}. */
export interface RedisDeduperOptions extends RedisConnectionOptions {
  /**
   * Prefix of claim keys; the 16 raw key bytes follow it.
   * @default 'bre:proxy:'
   */
  claimPrefix?: string;
}

/**
 * A {@link Deduper} in Redis, shared by sibling endpoints so each gap costs one upstream
 * fetch: `SET bre:proxy:<16 raw key bytes> "1" PX <dedupWindowMs> NX`, the claim layout
 * existing endpoints use.
 *
 * @example
 * ```ts
 * const deduper = new RedisDeduper({ url: 'redis://10.0.0.5:6379' });
 * const client = new ProxyClient({ upstreams, cache, retransmitter, deduper });
 * ```
 */
export class RedisDeduper implements Deduper {
  /** The key prefix in use. */
  readonly claimPrefix: string;
  private readonly prefix: Buffer;
  private readonly conn: RedisConnection;

  /** @param options - connection and prefix; @default `{ url: 'redis://127.0.0.1:6379' }` */
  constructor(options: RedisDeduperOptions = {}) {
    this.claimPrefix = options.claimPrefix ?? 'bre:proxy:';
    this.prefix = prefixBytes(this.claimPrefix, 'claimPrefix');
    this.conn = new RedisConnection(options);
  }

  /**
   * Claims `key` for `ttlMs`: `true` when this caller set it, `false` when a claim exists.
   * Rejects when Redis is unreachable (the client then proceeds without a claim).
   * @throws RangeError when `key` is not 16 bytes or `ttlMs` is not positive.
   */
  async setNX(key: Uint8Array, value: string, ttlMs: number): Promise<boolean> {
    const redisKey = prefixedKey(this.prefix, key);
    const px = pxOf(ttlMs);
    await this.conn.ready();
    const reply = await this.conn.client.set(redisKey, value, 'PX', px, 'NX');
    return reply === 'OK';
  }

  /** Quits the Redis client if this deduper created it from `url`; an injected one stays open. */
  close(): Promise<void> {
    return this.conn.close();
  }
}
