import type { FrameStore } from '../store/frame-store.js';
import { checkOptions, type OptionSpec } from '../shared/option-check.js';
import { CONNECTION_OPTIONS, RedisConnection, prefixedKey, pxOf } from './connection.js';
import type { RedisConnectionOptions } from './connection.js';

/** Options of {@link RedisCache}. */
export interface RedisCacheOptions extends RedisConnectionOptions {
  /**
   * Prefix of frame keys; the 16 raw key bytes follow it.
   * @default 'bre:frame:'
   */
  framePrefix?: string;
}

const REDIS_CACHE_OPTIONS: OptionSpec<RedisCacheOptions> = {
  ...CONNECTION_OPTIONS,
  framePrefix: 'string',
};

/**
 * A {@link FrameStore} in Redis with the layout existing retry endpoints read: key
 * `bre:frame:` + the 16 raw bytes of `HashKey ∥ SeqNum`, value the raw frame, `PX` TTL.
 * An endpoint sharing the Redis serves recovered frames without knowing about this package.
 * Reads are asynchronous: await {@link RedisCache.retrieve}.
 *
 * @example
 * ```ts
 * const cache: FrameStore = new RedisCache({ url: 'redis://10.0.0.5:6379' });
 * const client = new ProxyClient({ upstreams, cache, retransmitter });
 * // in the NACK server:
 * const frame = await cache.retrieve(cacheKey(gap.hashKey, gap.startSeq));
 * ```
 */
export class RedisCache implements FrameStore {
  /** The key prefix in use. */
  readonly framePrefix: string;
  private readonly prefix: Buffer;
  private readonly conn: RedisConnection;

  /**
   * @param options - connection and prefix; @default `{ url: 'redis://127.0.0.1:6379' }`
   * @throws TypeError with a Node-style `code` naming a bad or unknown option.
   */
  constructor(options: RedisCacheOptions = {}) {
    const check = checkOptions('RedisCache', options, REDIS_CACHE_OPTIONS);
    this.framePrefix = check.string('framePrefix', options.framePrefix, 'bre:frame:');
    this.prefix = Buffer.from(this.framePrefix, 'utf8');
    this.conn = new RedisConnection(options);
  }

  /**
   * `SET <prefix><key> <frame> PX <ttlMs>`. Rejects when Redis is unreachable.
   * @throws RangeError when `key` is not 16 bytes or `ttlMs` is not positive.
   */
  async store(key: Uint8Array, frame: Uint8Array, ttlMs: number): Promise<void> {
    const redisKey = prefixedKey(this.prefix, key);
    const px = pxOf(ttlMs);
    if (!(frame instanceof Uint8Array)) throw new TypeError('frame must be a Uint8Array');
    await this.conn.ready();
    await this.conn.client.set(redisKey, asBuffer(frame), 'PX', px);
  }

  /**
   * The frame stored under the 16-byte `key`, or `undefined` when absent or expired.
   * Rejects when Redis is unreachable.
   */
  async retrieve(key: Uint8Array): Promise<Buffer | undefined> {
    const redisKey = prefixedKey(this.prefix, key);
    await this.conn.ready();
    return (await this.conn.client.getBuffer(redisKey)) ?? undefined;
  }

  /** Quits the Redis client if this cache created it from `url`; an injected one stays open. */
  close(): Promise<void> {
    return this.conn.close();
  }

  /** Same as {@link RedisCache.close}, for `await using`: an injected client stays open. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The same bytes as a Buffer, without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
