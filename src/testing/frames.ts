import {
  FRAGMENT_HEADER_SIZE,
  FRAGMENT_ORIGINAL_VER_OFFSET,
  FRAME_HEADER_SIZE,
  FrameVer,
  LEGACY_HEADER_SIZE,
  MAGIC,
  PROTO_VER,
  SUBTREE_ID_SIZE,
  TXID_SIZE,
} from '../wire/constants.js';

/** Fields of a data frame built by {@link buildFrame}. */
export interface FrameSpec {
  /** Per-flow id. */
  hashKey: bigint;
  /** Sequence number. */
  seq: bigint;
  /**
   * Frame version; `FrameVer.Fragment` builds a 104-byte fragment header and
   * `FrameVer.Legacy` a 44-byte legacy header (no HashKey/SeqNum).
   * @default FrameVer.Tx
   */
  frameVer?: number;
  /** For a fragment: the version of the frame it belongs to (0 means Tx). @default FrameVer.Tx */
  originalFrameVer?: number;
  /** 32 bytes at offset 8. @default bytes derived from hashKey and seq */
  txId?: Uint8Array;
  /** 32 bytes at offset 56. @default zeros */
  subtreeId?: Uint8Array;
  /** Byte 7. @default 0 */
  msgType?: number;
  /** Payload bytes. @default 16 bytes derived from seq */
  payload?: Uint8Array;
}

/**
 * Builds a well-formed BRC-124 data frame, for tests and emulators.
 *
 * @example
 * ```ts
 * const frame = buildFrame({ hashKey: 7n, seq: 42n, frameVer: FrameVer.Block });
 * ```
 */
export function buildFrame(spec: FrameSpec): Buffer {
  const frameVer = spec.frameVer ?? FrameVer.Tx;
  const payload = spec.payload ?? defaultPayload(spec.seq);
  if (frameVer === FrameVer.Legacy) {
    const out = Buffer.alloc(LEGACY_HEADER_SIZE + payload.length);
    out.writeUInt32BE(MAGIC, 0);
    out.writeUInt16BE(PROTO_VER, 4);
    out[6] = FrameVer.Legacy;
    out.set(spec.txId ?? defaultTxId(spec.hashKey, spec.seq), 8);
    out.set(payload, LEGACY_HEADER_SIZE);
    return out;
  }
  const headerSize = frameVer === FrameVer.Fragment ? FRAGMENT_HEADER_SIZE : FRAME_HEADER_SIZE;
  const out = Buffer.alloc(headerSize + payload.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt16BE(PROTO_VER, 4);
  out[6] = frameVer;
  out[7] = spec.msgType ?? 0;
  out.set(fixed(spec.txId ?? defaultTxId(spec.hashKey, spec.seq), TXID_SIZE, 'txId'), 8);
  out.writeBigUInt64BE(spec.hashKey, 40);
  out.writeBigUInt64BE(spec.seq, 48);
  if (spec.subtreeId !== undefined) out.set(fixed(spec.subtreeId, SUBTREE_ID_SIZE, 'subtreeId'), 56);
  out.writeUInt32BE(payload.length, 88);
  if (frameVer === FrameVer.Fragment) out[FRAGMENT_ORIGINAL_VER_OFFSET] = spec.originalFrameVer ?? FrameVer.Tx;
  out.set(payload, headerSize);
  return out;
}

/** A deterministic 32-byte TxID for a gap: distinct per (hashKey, seq). */
export function defaultTxId(hashKey: bigint, seq: bigint): Buffer {
  const id = Buffer.alloc(TXID_SIZE);
  id.writeBigUInt64BE(seq & 0xffff_ffff_ffff_ffffn, 0);
  id.writeBigUInt64BE(hashKey & 0xffff_ffff_ffff_ffffn, 8);
  id.write('nack-proxy-test!', 16, 'latin1');
  return id;
}

function defaultPayload(seq: bigint): Buffer {
  const p = Buffer.alloc(16);
  p.writeBigUInt64BE(seq & 0xffff_ffff_ffff_ffffn, 0);
  p.write('payload!', 8, 'latin1');
  return p;
}

function fixed(bytes: Uint8Array, size: number, name: string): Uint8Array {
  if (bytes.length !== size) throw new RangeError(`${name} must be ${size} bytes, got ${bytes.length}`);
  return bytes;
}
