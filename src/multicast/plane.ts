/**
 * BRC-129 / BRC-148 planes of the 16-bit group index: transaction shards from `0x0000`, the
 * BEEF object plane from `0x1000`, network-service (control) groups from `0xF800`.
 * @module
 */
import { optionError } from '../shared/option-check.js';
import { WireError } from '../wire/errors.js';

/**
 * Most transaction shard bits. BRC-129 keeps transaction shards in `0x0000`–`0x0FFF`;
 * indices from `0x1000` up belong to object planes (BRC-148), so a 13th bit would send
 * transactions into the BEEF plane.
 */
export const MAX_SHARD_BITS = 12;
/** First group index of the BRC-148 BEEF object plane (domain `0x1` << 12). */
export const BEEF_PLANE_BASE = 0x1000;
/** First group index of the BRC-129 network-service (control) groups; no plane may reach it. */
export const CONTROL_PLANE_BASE = 0xf800;
/**
 * Most shard bits of the BEEF plane (15, i.e. 32 768 groups in `0x1000`–`0x8FFF`): the widest
 * width whose groups stay below the control groups, `0x1000 + 2^bits ≤ 0xF800`, the bound
 * `ValidatePlane` in lightwebinc/shard-common checks.
 */
export const MAX_BEEF_SHARD_BITS = maxPlaneShardBits(BEEF_PLANE_BASE);

/** The widest width a plane starting at `base` may run without reaching the control groups. */
function maxPlaneShardBits(base: number): number {
  let bits = 0;
  while (base + 2 ** (bits + 1) <= CONTROL_PLANE_BASE) bits++;
  return bits;
}

/** Throws a RangeError naming `option` unless `bits` is a transaction shard width (0–12). */
export function checkTxShardBits(option: string, bits: unknown): number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 0 || bits > MAX_SHARD_BITS) {
    throw optionError(
      'ERR_OUT_OF_RANGE',
      `${option} must be an integer in 0..${MAX_SHARD_BITS} ` +
        `(BRC-129: group indices from 0x1000 up belong to object planes), got ${String(bits)}`,
    );
  }
  return bits;
}

/** Throws a RangeError naming `option` unless `bits` is a valid width of the BEEF plane. */
export function checkBeefShardBits(option: string, bits: unknown): number {
  if (
    typeof bits !== 'number' ||
    !Number.isInteger(bits) ||
    bits < 0 ||
    bits > MAX_BEEF_SHARD_BITS
  ) {
    throw optionError(
      'ERR_OUT_OF_RANGE',
      `${option} must be an integer in 0..${MAX_BEEF_SHARD_BITS} ` +
        `(BRC-148: 0x1000 + 2^bits must not pass the control groups at 0xF800), got ${String(bits)}`,
    );
  }
  return bits;
}

/**
 * The BRC-129 top-bits shard of the 32-byte key at `offset`:
 * `uint32(key[0:4]) >> (32 - bits)`; 0 bits is the single-group plane.
 *
 * @throws {@link nack-proxy!WireError} `length` when the frame ends before the key does.
 */
export function shardOfKey(frame: Uint8Array, offset: number, bits: number, key: string): number {
  const end = offset + 32;
  if (frame.length < end) {
    throw new WireError(
      'length',
      `frame: ${frame.length} bytes, too short for its ${key} (bytes ${offset}..${end})`,
    );
  }
  if (bits === 0) return 0;
  const prefix =
    ((frame[offset]! << 24) |
      (frame[offset + 1]! << 16) |
      (frame[offset + 2]! << 8) |
      frame[offset + 3]!) >>>
    0;
  return prefix >>> (32 - bits);
}
