import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { loadOptionalPeer } from '../optional-peer.js';
import type { OptionSpec } from '../shared/option-check.js';
import { CACHE_KEY_SIZE } from '../wire/constants.js';
import type { Logger } from '../client/components.js';
import { whenReady } from './readiness.js';

const ioredis = loadOptionalPeer<typeof IORedis>('ioredis', 'nack-proxy/redis');

/**
 * The part of an ioredis client the adapters use. Both `Redis` and `Cluster` from ioredis fit.
 */
export interface RedisClientLike {
  /** Connection state as ioredis reports it (`wait`, `connecting`, `ready`, `end`, ...). */
  readonly status: string;
  /** Opens the connection of a client created with `lazyConnect`. */
  connect(): Promise<void>;
  /** Redis `SET` (with `PX` and `NX`). */
  set: Redis['set'];
  /** Redis `GET`, returning bytes. */
  getBuffer: Redis['getBuffer'];
  /** Redis `EVAL`: `RedisDeduper.release` checks and deletes a claim in one step. */
  eval: Redis['eval'];
  /** Listens once for a connection event; used to wait for a connection already under way. */
  once(event: RedisConnectionEvent, listener: () => void): unknown;
  /** Removes a listener added with `once`. */
  off(event: RedisConnectionEvent, listener: () => void): unknown;
}

/** Connection events of an ioredis client that end a connection attempt. */
export type RedisConnectionEvent = 'ready' | 'close' | 'end';

/** How an adapter reaches Redis: an injected client, or a URL it connects to and owns. */
export interface RedisConnectionOptions {
  /**
   * An existing ioredis client, shared with the host. The adapter never closes it.
   * For fail-fast behaviour while Redis is down, create it with
   * `enableOfflineQueue: false` and `lazyConnect: true` (or {@link createRedisClient}), or at
   * least a `commandTimeout`; otherwise ioredis queues commands until Redis comes back.
   * @default undefined
   */
  client?: RedisClientLike;
  /**
   * Redis URL used when no `client` is given; the adapter creates the client with
   * {@link createRedisClient} and `close()` quits it.
   * @default 'redis://127.0.0.1:6379'
   * @example 'redis://:secret@redis.internal:6379/2'
   */
  url?: string;
  /** Extra ioredis options for a client created from `url`, over {@link FAIL_FAST_OPTIONS}. */
  redisOptions?: RedisOptions;
  /** Receives connection errors of a client the adapter owns. @default silent */
  logger?: Logger;
}

/** The connection options every Redis adapter takes, and the kind of their values. */
export const CONNECTION_OPTIONS: OptionSpec<RedisConnectionOptions> = {
  client: 'object',
  url: 'string',
  redisOptions: 'object',
  logger: 'object',
};

/**
 * ioredis options that make commands reject at once while Redis is unreachable, instead of
 * queueing until it returns. Reconnection continues in the background (at most 1 s apart).
 */
export const FAIL_FAST_OPTIONS: Readonly<RedisOptions> = Object.freeze({
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  commandTimeout: 1_000,
  retryStrategy: (times: number) => Math.min(times * 100, 1_000),
});

/**
 * Creates an ioredis client with {@link FAIL_FAST_OPTIONS}, suitable for sharing between a
 * `RedisCache` and a `RedisDeduper`. The caller owns it and quits it.
 *
 * @example
 * ```ts
 * const redis = createRedisClient('redis://10.0.0.5:6379');
 * const cache = new RedisCache({ client: redis });
 * const deduper = new RedisDeduper({ client: redis });
 * ```
 */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  return new ioredis.Redis(url, { ...FAIL_FAST_OPTIONS, ...options });
}

/** Holds the client of one adapter and whether the adapter must close it. */
export class RedisConnection {
  readonly client: RedisClientLike;
  private readonly owned: Redis | undefined;

  constructor(options: RedisConnectionOptions) {
    if (options.client !== undefined) {
      this.client = options.client;
    } else {
      const url = options.url ?? 'redis://127.0.0.1:6379';
      const owned = createRedisClient(url, options.redisOptions);
      // Without a listener ioredis prints every reconnect failure to the console.
      owned.on('error', (err: Error) =>
        options.logger?.warn({ err, url }, 'redis connection error'),
      );
      this.owned = owned;
      this.client = owned;
    }
  }

  /** Waits until the client can take commands (see {@link whenReady}); never rejects. */
  ready(): Promise<void> {
    return whenReady(this.client);
  }

  /** Quits a client this adapter created; an injected client is left open. */
  async close(): Promise<void> {
    const owned = this.owned;
    if (owned === undefined || owned.status === 'end') return;
    if (owned.status === 'ready') {
      await owned.quit().catch(() => undefined);
    }
    owned.disconnect();
  }
}

/** `prefix` followed by the 16 raw key bytes, as a Buffer key. */
export function prefixedKey(prefix: Buffer, key: Uint8Array): Buffer {
  if (!(key instanceof Uint8Array) || key.length !== CACHE_KEY_SIZE) {
    throw new RangeError(
      `key must be ${CACHE_KEY_SIZE} bytes (HashKey ∥ SeqNum), got ${describeKey(key)}`,
    );
  }
  return Buffer.concat([prefix, key]);
}

/** Milliseconds as the positive integer `PX` needs; rounds up so a short TTL never becomes 0. */
export function pxOf(ttlMs: number): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive finite number, got ${String(ttlMs)}`);
  }
  return Math.ceil(ttlMs);
}

function describeKey(key: unknown): string {
  return key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
}
