import { CACHE_KEY_SIZE } from './constants.js';
import { checkU64, target } from './bytes.js';

/**
 * The 16-byte cache key of a frame: `HashKey ∥ SeqNum`, both big-endian uint64.
 * Writes into `buf` at `offset` when given, otherwise returns a new Buffer.
 *
 * @throws {@link WireError} `range` when a field is not a uint64 bigint.
 * @example
 * ```ts
 * const frame = cache.retrieve(cacheKey(gap.hashKey, gap.startSeq));
 * ```
 */
export function cacheKey(hashKey: bigint, seq: bigint, buf?: Uint8Array, offset = 0): Uint8Array {
  checkU64(hashKey, 'hashKey');
  checkU64(seq, 'seq');
  const out = target(CACHE_KEY_SIZE, buf, offset, 'cache key');
  const dv = new DataView(out.buffer, out.byteOffset + offset, CACHE_KEY_SIZE);
  dv.setBigUint64(0, hashKey);
  dv.setBigUint64(8, seq);
  return out;
}

/** Lower-case hex of a cache key, handy as a Map key or in logs. */
export function cacheKeyHex(hashKey: bigint, seq: bigint): string {
  return hashKey.toString(16).padStart(16, '0') + seq.toString(16).padStart(16, '0');
}
