/**
 * Redis adapters (`nack-proxy/redis`): a shared frame cache and in-flight claim store with the
 * key layout existing retry endpoints use. Needs the optional peer dependency `ioredis` (v5).
 * @module nack-proxy/redis
 */
export { RedisCache } from './cache.js';
export type { RedisCacheOptions, WaitPollOptions } from './cache.js';
export { RedisDeduper } from './deduper.js';
export type { RedisDeduperOptions } from './deduper.js';
export { FAIL_FAST_OPTIONS, createRedisClient } from './connection.js';
export type {
  RedisConnectionEvent,
  RedisClientLike,
  RedisConnectionOptions,
} from './connection.js';
