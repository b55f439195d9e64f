/**
 * Allocation-lean codecs for the client's hot path. Internal: not re-exported from the
 * package. Callers pass values the client has already validated (uint64 bigints, 32-byte
 * SubtreeIDs), so nothing here re-checks ranges.
 * @module
 */
import {
  CACHE_KEY_SIZE,
  FLAG_PROXIED,
  FRAGMENT_HEADER_SIZE,
  FRAGMENT_ORIGINAL_VER_OFFSET,
  FRAME_HEADER_SIZE,
  FrameVer,
  MAGIC,
  MsgType,
  NACK_SIZE,
  PROTO_VER,
  TXID_SIZE,
} from './constants.js';
import type { FrameMismatch } from './match.js';
import { ttlClassOf, type FrameHeader } from './frame.js';

// One scratch buffer: fields are written through a DataView over it (V8 builtins, no BigInt
// arithmetic), then copied into the result, so the result's own storage is never exposed
// as an ArrayBuffer (small Buffers stay on the V8 heap).
const scratch = new Uint8Array(NACK_SIZE);
const scratchView = new DataView(scratch.buffer);

/**
 * The proxied NACK for one sequence number: Flags `FLAG_PROXIED`, StartSeq = EndSeq = `seq`,
 * SubtreeID carried (zeros when absent). Byte-for-byte what `encodeNack` produces.
 */
export function proxiedNack(
  hashKey: bigint,
  seq: bigint,
  subtreeId: Uint8Array | undefined,
): Buffer {
  scratchView.setUint32(0, MAGIC);
  scratchView.setUint16(4, PROTO_VER);
  scratch[6] = MsgType.Nack;
  scratch[7] = FLAG_PROXIED;
  scratchView.setBigUint64(8, hashKey);
  scratchView.setBigUint64(16, seq);
  scratchView.setBigUint64(24, seq);
  if (subtreeId !== undefined) scratch.set(subtreeId, 32);
  else scratch.fill(0, 32, NACK_SIZE);
  // Pool-backed: a NACK lives only while its exchanges run.
  const out = Buffer.allocUnsafe(NACK_SIZE);
  out.set(scratch);
  return out;
}

/** The 16-byte cache key `HashKey ∥ SeqNum`, as `cacheKey` returns it (a fresh Buffer). */
export function fastCacheKey(hashKey: bigint, seq: bigint): Buffer {
  scratchView.setBigUint64(0, hashKey);
  scratchView.setBigUint64(8, seq);
  // Not pool-backed: a cache may keep the key for as long as the frame.
  const out = Buffer.alloc(CACHE_KEY_SIZE);
  out.set(scratch.subarray(0, CACHE_KEY_SIZE));
  return out;
}

/** True when all 32 bytes of a SubtreeID are zero (= unset on the wire). */
export function isZeroId(id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false;
  return true;
}

const halvesView = new DataView(new ArrayBuffer(16));

/**
 * Splits two uint64s into big-endian 32-bit halves, read back with {@link half} as signed
 * int32 (always small integers: storing them allocates nothing): 0 = `a` high, 1 = `a` low,
 * 2 = `b` high, 3 = `b` low.
 */
export function splitHalves(a: bigint, b: bigint): void {
  halvesView.setBigUint64(0, a);
  halvesView.setBigUint64(8, b);
}

/** One half written by {@link splitHalves}. */
export function half(i: 0 | 1 | 2 | 3): number {
  return halvesView.getInt32(i * 4);
}

/**
 * The checks of `matchFrame` without building a header or any bigint: well-formed frame
 * (magic, not legacy, full header, payload length equal to the datagram's) whose HashKey
 * and SeqNum equal the given halves (see {@link splitHalves}). Returns undefined when it
 * matches, or why not.
 */
export function frameMismatch(
  datagram: Buffer,
  hashKeyHi: number,
  hashKeyLo: number,
  seqHi: number,
  seqLo: number,
): FrameMismatch | undefined {
  const n = datagram.length;
  if (n < 8 || datagram.readUInt32BE(0) !== MAGIC) return 'malformed';
  const ver = datagram[6];
  if (ver === FrameVer.Legacy) return 'legacy';
  const headerSize = ver === FrameVer.Fragment ? FRAGMENT_HEADER_SIZE : FRAME_HEADER_SIZE;
  if (n < headerSize || n !== headerSize + datagram.readUInt32BE(88)) return 'malformed';
  return datagram.readInt32BE(40) === hashKeyHi &&
    datagram.readInt32BE(44) === hashKeyLo &&
    datagram.readInt32BE(48) === seqHi &&
    datagram.readInt32BE(52) === seqLo
    ? undefined
    : 'wrong-gap';
}

/** The parts of a frame header that re-caching and retransmitting use. */
export type FrameFacts = Pick<FrameHeader, 'ttlClass' | 'txId'>;

/**
 * TTL class and TxID of a frame already checked by {@link frameMismatch}, as
 * `decodeFrameHeader` would report them, without decoding the rest.
 */
export function frameFacts(frame: Uint8Array): FrameFacts {
  const ver = frame[6] as number;
  const original =
    ver === FrameVer.Fragment ? frame[FRAGMENT_ORIGINAL_VER_OFFSET] || FrameVer.Tx : ver;
  return { ttlClass: ttlClassOf(original), txId: frame.subarray(8, 8 + TXID_SIZE) };
}
