import { LRUCache } from 'lru-cache';

/** What {@link growingLru} takes: lru-cache's options without the bounds it sets itself. */
export type GrowingLruOptions<
  K extends NonNullable<unknown>,
  V extends NonNullable<unknown>,
> = Omit<
  LRUCache.Options<K, V, unknown>,
  'max' | 'maxSize' | 'sizeCalculation' | 'perf' | 'ttlResolution'
>;

/**
 * An lru-cache of at most `limit` entries whose storage grows as it fills. Given `max`,
 * lru-cache allocates its arrays for `max` entries up front: 3.5 MB per idle client for
 * the flow and failure maps at their bounds (measured), paid even by a client that never
 * sees a burst. Counting each entry as 1 against `maxSize` keeps the bound without that.
 * With a `ttl`, ages are read from `performance.now()` at each call (tests fake
 * `performance`), offset by 1 since lru-cache reads a start of 0 as "no TTL".
 */
export function growingLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(
  limit: number,
  options: GrowingLruOptions<K, V> = {},
): LRUCache<K, V> {
  return new LRUCache<K, V>({
    ...options,
    maxSize: limit,
    sizeCalculation: () => 1,
    ...(options.ttl === undefined
      ? {}
      : { ttlResolution: 0, perf: { now: () => performance.now() + 1 } }),
  });
}
