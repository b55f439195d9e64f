import { FLAG_PROXIED, MsgType, NACK_SIZE, SUBTREE_ID_SIZE } from './constants.js';
import {
  checkBytes,
  checkMinLength,
  checkObject,
  checkPrefix,
  checkU64,
  describe,
  hex,
  target,
  viewOf,
  writePrefix,
} from './bytes.js';
import { WireError } from './errors.js';

/** The fields of a NACK. A decoded NACK is also a valid `Gap` for `ProxyClient.enqueue`. */
export interface Nack {
  /** Per-flow id (uint64); 0 = unstamped. */
  hashKey: bigint;
  /** First missing sequence number, inclusive. */
  startSeq: bigint;
  /** Last missing sequence number, inclusive. @default startSeq */
  endSeq?: bigint;
  /** 32-byte SubtreeID; absent or all zeros = unset. */
  subtreeId?: Uint8Array;
  /** Flag bits; `FLAG_PROXIED` marks a NACK sent by a proxying endpoint. @default 0 */
  flags?: number;
}

/** A NACK as returned by {@link decodeNack}: every field present. */
export interface DecodedNack extends Nack {
  endSeq: bigint;
  subtreeId: Uint8Array;
  flags: number;
}

/**
 * Encodes a 64-byte NACK. Writes into `buf` at `offset` when given (no allocation),
 * otherwise returns a new Buffer.
 *
 * @throws {@link WireError} `range` for out-of-range fields, `buffer` when `buf` is too small.
 * @example
 * ```ts
 * const datagram = encodeNack({ hashKey: 7n, startSeq: 42n, flags: FLAG_PROXIED });
 * socket.send(datagram, 9300, '::1');
 * ```
 */
export function encodeNack(nack: Nack, buf?: Uint8Array, offset = 0): Uint8Array {
  checkObject(nack, 'NACK');
  const hashKey = checkU64(nack.hashKey, 'hashKey');
  const startSeq = checkU64(nack.startSeq, 'startSeq');
  const endSeq = nack.endSeq === undefined ? startSeq : checkU64(nack.endSeq, 'endSeq');
  if (endSeq < startSeq) {
    throw new WireError('range', `endSeq ${endSeq} is below startSeq ${startSeq}`);
  }
  const flags = nack.flags ?? 0;
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff) {
    throw new WireError('range', `flags must be an integer 0..255, got ${describe(flags)}`);
  }
  const subtree = nack.subtreeId;
  if (
    subtree !== undefined &&
    (!(subtree instanceof Uint8Array) || subtree.length !== SUBTREE_ID_SIZE)
  ) {
    throw new WireError(
      'range',
      `subtreeId must be ${SUBTREE_ID_SIZE} bytes, got ${describe(subtree)}`,
    );
  }
  const out = target(NACK_SIZE, buf, offset, 'NACK');
  const dv = new DataView(out.buffer, out.byteOffset + offset, NACK_SIZE);
  writePrefix(dv, 0, MsgType.Nack, flags);
  dv.setBigUint64(8, hashKey);
  dv.setBigUint64(16, startSeq);
  dv.setBigUint64(24, endSeq);
  if (subtree !== undefined) out.set(subtree, offset + 32);
  else out.fill(0, offset + 32, offset + NACK_SIZE);
  return out;
}

/**
 * Decodes a NACK datagram. Accepts exactly 64 bytes; reserved flag bits are kept as read.
 * The returned `subtreeId` is a copy, safe to keep after the datagram buffer is reused.
 *
 * @throws {@link WireError} `length`, `magic`, `version`, `type` or `range` (`endSeq < startSeq`).
 * @example
 * ```ts
 * socket.on('message', (datagram) => {
 *   const gap = decodeNack(datagram);
 *   if (!cache.retrieve(cacheKey(gap.hashKey, gap.startSeq))) client.enqueue(gap);
 * });
 * ```
 */
export function decodeNack(buf: Uint8Array): DecodedNack {
  checkBytes(buf, 'NACK');
  checkMinLength(buf, NACK_SIZE, 'NACK');
  if (buf.length !== NACK_SIZE) {
    throw new WireError('length', `NACK: ${buf.length} bytes, must be exactly ${NACK_SIZE}`);
  }
  const dv = viewOf(buf);
  checkPrefix(buf, dv, 'NACK');
  const type = dv.getUint8(6);
  if (type !== MsgType.Nack) {
    throw new WireError('type', `NACK: message type 0x${hex(type, 2)} (want 0x10)`);
  }
  const startSeq = dv.getBigUint64(16);
  const endSeq = dv.getBigUint64(24);
  if (endSeq < startSeq) {
    throw new WireError('range', `NACK: endSeq ${endSeq} is below startSeq ${startSeq}`);
  }
  return {
    flags: dv.getUint8(7),
    hashKey: dv.getBigUint64(8),
    startSeq,
    endSeq,
    subtreeId: new Uint8Array(buf.subarray(32, NACK_SIZE)),
  };
}

/** True when `flags` carries {@link FLAG_PROXIED}. */
export function isProxied(flags: number | undefined): boolean {
  return ((flags ?? 0) & FLAG_PROXIED) !== 0;
}
