import { FLAG_PROXIED, MsgType, NACK_SIZE, SUBTREE_ID_SIZE } from './constants.js';
import {
  checkMessage,
  checkObject,
  checkU64,
  describe,
  hex,
  readU64,
  target,
  writePrefix,
  writeU64,
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
 * Encodes a 64-byte NACK. Writes into `buf` at `offset` when given (no allocation) and
 * returns `buf`; otherwise returns a new zeroed Buffer. Every field is checked first, so a
 * refused value leaves `buf` untouched.
 *
 * @param nack - the fields; `endSeq` defaults to `startSeq`, `flags` to 0, SubtreeID to zeros
 * @param buf - where to write; needs {@link NACK_SIZE} bytes free at `offset`
 * @param offset - where in `buf` the NACK starts. @default 0
 * @throws {@link WireError} `range` for out-of-range fields, `buffer` when `buf` is too small.
 * @example
 * ```ts
 * const datagram = encodeNack({ hashKey: 7n, startSeq: 42n, flags: FLAG_PROXIED });
 * socket.send(datagram, 9300, '::1');
 *
 * // or reuse one buffer per socket
 * const out = Buffer.alloc(NACK_SIZE);
 * socket.send(encodeNack({ hashKey: 7n, startSeq: 43n }, out), 9300, '::1');
 * ```
 */
export function encodeNack<T extends Uint8Array = Buffer>(nack: Nack, buf?: T, offset = 0): T {
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
  writePrefix(out, offset, MsgType.Nack, flags);
  writeU64(out, offset + 8, hashKey);
  writeU64(out, offset + 16, startSeq);
  writeU64(out, offset + 24, endSeq);
  if (subtree !== undefined) out.set(subtree, offset + 32);
  else out.fill(0, offset + 32, offset + NACK_SIZE);
  return out as T;
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
  checkMessage(buf, NACK_SIZE, 'NACK');
  const type = buf[6]!;
  if (type !== MsgType.Nack) {
    throw new WireError('type', `NACK: message type 0x${hex(type, 2)} (want 0x10)`);
  }
  const startSeq = readU64(buf, 16);
  const endSeq = readU64(buf, 24);
  if (endSeq < startSeq) {
    throw new WireError('range', `NACK: endSeq ${endSeq} is below startSeq ${startSeq}`);
  }
  return {
    flags: buf[7]!,
    hashKey: readU64(buf, 8),
    startSeq,
    endSeq,
    subtreeId: new Uint8Array(buf.subarray(32, NACK_SIZE)),
  };
}

/** True when `flags` carries {@link FLAG_PROXIED}. */
export function isProxied(flags: number | undefined): boolean {
  return ((flags ?? 0) & FLAG_PROXIED) !== 0;
}
