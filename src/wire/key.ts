import { CACHE_KEY_SIZE } from './constants.js';
import { checkU64, target, writeU64 } from './bytes.js';

/**
 * The 16-byte cache key of a frame: `HashKey ∥ SeqNum`, both big-endian uint64.
 * Writes into `buf` at `offset` when given and returns `buf`; otherwise returns a new
 * zeroed Buffer of its own (safe to keep as long as the frame it names).
 *
 * @param hashKey - the frame's HashKey (uint64)
 * @param seq - the frame's SeqNum (uint64)
 * @param buf - where to write; needs {@link CACHE_KEY_SIZE} bytes free at `offset`
 * @param offset - where in `buf` the key starts. @default 0
 * @throws {@link WireError} `range` when a field is not a uint64 bigint, `buffer` when `buf`
 * is too small.
 * @example
 * ```ts
 * const frame = cache.retrieve(cacheKey(gap.hashKey, gap.startSeq));
 * ```
 */
export function cacheKey<T extends Uint8Array = Buffer>(
  hashKey: bigint,
  seq: bigint,
  buf?: T,
  offset = 0,
): T {
  checkU64(hashKey, 'hashKey');
  checkU64(seq, 'seq');
  const out = target(CACHE_KEY_SIZE, buf, offset, 'cache key');
  writeU64(out, offset, hashKey);
  writeU64(out, offset + 8, seq);
  return out as T;
}

/**
 * Lower-case hex of a cache key (32 digits), handy as a Map key or in logs.
 *
 * @throws {@link WireError} `range` when a field is not a uint64 bigint.
 * @example
 * ```ts
 * cacheKeyHex(0x0102n, 0xffn); // '000000000000010200000000000000ff'
 * ```
 */
export function cacheKeyHex(hashKey: bigint, seq: bigint): string {
  return (
    checkU64(hashKey, 'hashKey').toString(16).padStart(16, '0') +
    checkU64(seq, 'seq').toString(16).padStart(16, '0')
  );
}
