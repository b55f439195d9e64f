import type { Deduper } from '../client/components.js';
import { RELEASE_SCRIPT, WonClaims } from './claims.js';
import { checkOptions, type OptionSpec } from '../shared/option-check.js';
import { CONNECTION_OPTIONS, RedisConnection, prefixedKey, pxOf } from './connection.js';
import type { RedisConnectionOptions } from './connection.js';

/** Options of {@link RedisDeduper}. */
export interface RedisDeduperOptions extends RedisConnectionOptions {
  /**
   * Prefix of claim keys; the 16 raw key bytes follow it.
   * @default 'bre:proxy:'
   */
  claimPrefix?: string;
}

const REDIS_DEDUPER_OPTIONS: OptionSpec<RedisDeduperOptions> = {
  ...CONNECTION_OPTIONS,
  claimPrefix: 'string',
};

/**
 * A {@link Deduper} in Redis, shared by sibling endpoints so each gap costs one upstream
 * fetch: `SET bre:proxy:<16 raw key bytes> "1" PX <dedupWindowMs> NX`, the claim layout
 * existing endpoints use.
 *
 * {@link RedisDeduper.release} frees a claim this object won, so that a gap whose recovery
 * failed can be retried before the window ends. Every endpoint writes the same value `"1"`,
 * so the value cannot tell whose a claim is; the deduper remembers the claims it won (in
 * memory, until their window ends) and deletes one only while it still holds `"1"` with no
 * more time left than its own claim can have. A claim that someone made after ours vanished
 * (Redis restarted or evicted it) has more time left and stays.
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
  private readonly won = new WonClaims();

  /**
   * @param options - connection and prefix; @default `{ url: 'redis://127.0.0.1:6379' }`
   * @throws TypeError with a Node-style `code` naming a bad or unknown option.
   */
  constructor(options: RedisDeduperOptions = {}) {
    const check = checkOptions('RedisDeduper', options, REDIS_DEDUPER_OPTIONS);
    this.claimPrefix = check.string('claimPrefix', options.claimPrefix, 'bre:proxy:');
    this.prefix = Buffer.from(this.claimPrefix, 'utf8');
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
    if (reply !== 'OK') return false;
    this.won.add(redisKey.toString('hex'), value, px);
    return true;
  }

  /**
   * Releases the claim on `key` if this deduper won it with {@link RedisDeduper.setNX}, its
   * window has not ended and Redis still holds it as ours (checked and deleted atomically).
   * Otherwise it does nothing: a claim made by another endpoint, or by anyone after ours
   * expired or vanished, stays. Rejects when Redis is unreachable (the claim then expires on
   * its own).
   * @throws RangeError when `key` is not 16 bytes.
   */
  async release(key: Uint8Array): Promise<void> {
    const redisKey = prefixedKey(this.prefix, key);
    const claim = this.won.take(redisKey.toString('hex'));
    if (claim === undefined) return;
    await this.conn.ready();
    await this.conn.client.eval(RELEASE_SCRIPT, 1, redisKey, claim.value, claim.maxPttl);
  }

  /** Quits the Redis client if this deduper created it from `url`; an injected one stays open. */
  close(): Promise<void> {
    return this.conn.close();
  }

  /** Same as {@link RedisDeduper.close}, for `await using`: an injected client stays open. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
