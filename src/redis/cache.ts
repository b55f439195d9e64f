import { checkOptions, type OptionSpec } from '../shared/option-check.js';
import { sleep } from '../shared/within.js';
import { checkWaitOptions } from '../store/frame-store.js';
import type { FrameStore, WaitForOptions } from '../store/frame-store.js';
import { CONNECTION_OPTIONS, RedisConnection, prefixedKey, pxOf } from './connection.js';
import type { RedisConnectionOptions } from './connection.js';

/** Options of {@link RedisCache}. */
export interface RedisCacheOptions extends RedisConnectionOptions {
  /**
   * Prefix of frame keys; the 16 raw key bytes follow it.
   * @default 'bre:frame:'
   */
  framePrefix?: string;
  /**
   * Pauses between the `GET`s of {@link RedisCache.waitFor}: the first pause is `initialMs`,
   * each next one 1.5 times longer, up to `maxMs`. Shorter pauses see a frame sooner and cost
   * more commands per wait (see `waitFor`).
   * @default { initialMs: 10, maxMs: 25 }
   * @example { initialMs: 5, maxMs: 50 }
   */
  waitPoll?: WaitPollOptions;
}

const REDIS_CACHE_OPTIONS: OptionSpec<RedisCacheOptions> = {
  ...CONNECTION_OPTIONS,
  framePrefix: 'string',
  waitPoll: 'object',
};

/** Pauses between the polls of {@link RedisCache.waitFor} (see {@link RedisCacheOptions.waitPoll}). */
export interface WaitPollOptions {
  /** Pause before the second `GET`, in ms (at least 1). @default 10 */
  initialMs?: number;
  /** Longest pause, in ms; not below `initialMs`. @default the larger of 25 and `initialMs` */
  maxMs?: number;
}

/** Growth of the pause between two polls of {@link RedisCache.waitFor}. */
const POLL_GROWTH = 1.5;

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
  private readonly pollInitialMs: number;
  private readonly pollMaxMs: number;

  /**
   * @param options - connection and prefix; @default `{ url: 'redis://127.0.0.1:6379' }`
   * @throws TypeError with a Node-style `code` naming a bad or unknown option.
   */
  constructor(options: RedisCacheOptions = {}) {
    const check = checkOptions('RedisCache', options, REDIS_CACHE_OPTIONS);
    this.framePrefix = check.string('framePrefix', options.framePrefix, 'bre:frame:');
    this.prefix = Buffer.from(this.framePrefix, 'utf8');
    const poll = options.waitPoll ?? {};
    this.pollInitialMs = pollMs('waitPoll.initialMs', poll.initialMs, 10);
    this.pollMaxMs = pollMs('waitPoll.maxMs', poll.maxMs, Math.max(25, this.pollInitialMs));
    if (this.pollMaxMs < this.pollInitialMs) {
      throw new RangeError(
        `waitPoll.maxMs (${this.pollMaxMs}) must not be below waitPoll.initialMs (${this.pollInitialMs})`,
      );
    }
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

  /**
   * Waits until a frame is stored under the 16-byte `key`, by any writer of this Redis (a
   * sibling relay, an existing endpoint), and resolves with it; resolves `undefined` once
   * `timeoutMs` has passed or `signal` aborted without it. Rejects when Redis is
   * unreachable (like {@link RedisCache.retrieve}).
   *
   * A bounded poll: `GET` at once, then after pauses of 10, 15, 22.5 and then 25 ms
   * (`waitPoll`) until the frame is there or the time is up. Measured on loopback against
   * redis-server 7.0 (`bench/redis-wait.ts`, two runs of 300 waits): a frame stored
   * 0–100 ms into the wait is seen 10–11 ms after its `SET` was sent (mean; p50 9.4 ms, p99
   * 25 ms) for 4.3–4.5 `GET`s per wait; one stored after 1 s costs 42 `GET`s, and a wait
   * that times out 1 + 41 per second. Keyspace notifications were measured too: seen in
   * 0.4–0.5 ms (p99 1.3–2.4 ms) for 3 commands per wait (`SUBSCRIBE`, `GET`,
   * `UNSUBSCRIBE`), but they need
   * `notify-keyspace-events` set server-wide, which cost every writer 15% of its `SET`
   * throughput (`K$`; 22% with `KEA`; redis-benchmark, 300-byte values), and the host caches
   * every live frame with a `SET`; they also need a subscriber connection per cache, `CONFIG`
   * rights that managed services often withhold, and they are node-local in Redis Cluster.
   * A wait that is bounded by a gap's deadline and ends after a few `GET`s does not pay
   * for that, so the poll it is.
   *
   * @throws RangeError when `key` is not 16 bytes or `timeoutMs` is not a finite number >= 0
   * (as a rejected Promise).
   * @example
   * ```ts
   * const frame = await cache.waitFor(cacheKey(gap.hashKey, gap.startSeq), { timeoutMs: 2_000 });
   * ```
   */
  async waitFor(key: Uint8Array, options: WaitForOptions): Promise<Buffer | undefined> {
    const redisKey = prefixedKey(this.prefix, key);
    const timeoutMs = checkWaitOptions(options);
    const { signal } = options;
    const deadline = performance.now() + timeoutMs;
    let pause = this.pollInitialMs;
    await this.conn.ready();
    for (let last = false; ;) {
      if (signal?.aborted === true) return undefined;
      const frame = await this.conn.client.getBuffer(redisKey);
      if (frame !== null) return frame;
      const left = deadline - performance.now();
      if (last || left <= 0) return undefined;
      last = left <= pause; // the pause reaches the deadline: one more look, then give up
      if (!(await sleep(Math.min(pause, left), signal))) return undefined;
      pause = Math.min(pause * POLL_GROWTH, this.pollMaxMs);
    }
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

/** A poll pause option: a finite number >= 1 (ms), or `fallback` when absent. */
function pollMs(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    throw new RangeError(
      `${option} must be a finite number >= 1 (ms), got ${typeof value === 'number' ? value : JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The same bytes as a Buffer, without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
