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
  /** Per-flow id (uint64). */
  hashKey: bigint;
  /** Sequence number (uint64). */
  seq: bigint;
  /**
   * Frame version; `FrameVer.Fragment` builds a 104-byte fragment header and
   * `FrameVer.Legacy` a 44-byte legacy header (no HashKey/SeqNum). Any other byte builds a
   * standard 92-byte header with that version.
   * @default FrameVer.Tx
   */
  frameVer?: number;
  /**
   * For a fragment: the version of the frame it belongs to, written at byte 100
   * (`0x00` reads as `FrameVer.Tx`).
   * @default FrameVer.Tx
   */
  originalFrameVer?: number;
  /** 32 bytes at offset 8. @default bytes derived from hashKey and seq ({@link defaultTxId}) */
  txId?: Uint8Array;
  /** 32 bytes at offset 56. @default zeros */
  subtreeId?: Uint8Array;
  /** Byte 7 (reserved or a per-version message type). @default 0 */
  msgType?: number;
  /** Payload bytes. @default 16 bytes derived from seq */
  payload?: Uint8Array;
}

/**
 * Every frame version the wire format defines, for table-driven tests over all of them.
 *
 * @example
 * ```ts
 * it.each(FRAME_VERSIONS)('re-caches FrameVer %i with its class TTL', async (frameVer) => {
 *   transport.intercept(A).serve(buildFrame({ hashKey: 1n, seq: 2n, frameVer }));
 *   // ...
 * });
 * ```
 */
export const FRAME_VERSIONS: readonly number[] = Object.freeze([
  FrameVer.Legacy,
  FrameVer.Tx,
  FrameVer.Fragment,
  FrameVer.Block,
  FrameVer.Subtree,
  FrameVer.Anchor,
  FrameVer.Beef,
]);

/**
 * Builds a well-formed BRC-124 data frame of any version, for tests and emulators.
 * The result is a fresh Buffer; the datagram length always equals header + payload length.
 *
 * @throws RangeError when `hashKey`/`seq` is not a uint64, or `txId`/`subtreeId` is not 32 bytes.
 * @example
 * ```ts
 * const tx = buildFrame({ hashKey: 7n, seq: 42n });
 * const block = buildFrame({ hashKey: 7n, seq: 43n, frameVer: FrameVer.Block });
 * const part = buildFrame({
 *   hashKey: 7n, seq: 44n, frameVer: FrameVer.Fragment, originalFrameVer: FrameVer.Subtree,
 * });
 * ```
 */
export function buildFrame(spec: FrameSpec): Buffer {
  const frameVer = spec.frameVer ?? FrameVer.Tx;
  const payload = spec.payload ?? defaultPayload(spec.seq);
  const txId = fixed(spec.txId ?? defaultTxId(spec.hashKey, spec.seq), TXID_SIZE, 'txId');
  if (frameVer === FrameVer.Legacy) {
    // The legacy header stops after the TxID: no HashKey, SeqNum or payload length.
    const out = Buffer.alloc(LEGACY_HEADER_SIZE + payload.length);
    out.writeUInt32BE(MAGIC, 0);
    out.writeUInt16BE(PROTO_VER, 4);
    out[6] = FrameVer.Legacy;
    out[7] = spec.msgType ?? 0;
    out.set(txId, 8);
    out.set(payload, LEGACY_HEADER_SIZE);
    return out;
  }
  const headerSize = frameVer === FrameVer.Fragment ? FRAGMENT_HEADER_SIZE : FRAME_HEADER_SIZE;
  const out = Buffer.alloc(headerSize + payload.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt16BE(PROTO_VER, 4);
  out[6] = frameVer;
  out[7] = spec.msgType ?? 0;
  out.set(txId, 8);
  out.writeBigUInt64BE(spec.hashKey, 40);
  out.writeBigUInt64BE(spec.seq, 48);
  if (spec.subtreeId !== undefined) {
    out.set(fixed(spec.subtreeId, SUBTREE_ID_SIZE, 'subtreeId'), 56);
  }
  out.writeUInt32BE(payload.length, 88);
  if (frameVer === FrameVer.Fragment) {
    out[FRAGMENT_ORIGINAL_VER_OFFSET] = spec.originalFrameVer ?? FrameVer.Tx;
  }
  out.set(payload, headerSize);
  return out;
}

/**
 * Builds one frame per sequence number in `first..last` (inclusive) for one flow.
 *
 * @param rest - fields shared by every frame (version, payload, ...)
 * @throws RangeError when `last - first` exceeds 1,000,000 (a guard against typos).
 * @example
 * ```ts
 * const upstream = await UpstreamEmulator.start({ frames: buildFrames(1n, 0n, 99n) });
 * ```
 */
export function buildFrames(
  hashKey: bigint,
  first: bigint,
  last: bigint,
  rest: Omit<FrameSpec, 'hashKey' | 'seq'> = {},
): Buffer[] {
  if (last < first) return [];
  if (last - first > 1_000_000n) {
    throw new RangeError(`buildFrames: ${last - first + 1n} frames is more than 1000001`);
  }
  const frames: Buffer[] = [];
  for (let seq = first; seq <= last; seq++) frames.push(buildFrame({ ...rest, hashKey, seq }));
  return frames;
}

/** How {@link malformedFrame} breaks a frame. */
export type Malformation =
  /** The first four bytes are not the magic number. */
  | 'bad-magic'
  /** Cut inside the header. */
  | 'truncated'
  /** The payload-length field disagrees with the datagram size. */
  | 'length-mismatch'
  /** A legacy (`FrameVer.Legacy`) frame, which carries no HashKey/SeqNum. */
  | 'legacy';

/**
 * A frame for the requested gap that a client must refuse: use it to check that invalid
 * frames are never cached or retransmitted.
 *
 * @example
 * ```ts
 * transport.intercept(A).serve(malformedFrame('bad-magic', { hashKey: 1n, seq: 2n }));
 * transport.intercept(B).serve();
 * ```
 */
export function malformedFrame(how: Malformation, spec: FrameSpec): Buffer {
  if (how === 'legacy') return buildFrame({ ...spec, frameVer: FrameVer.Legacy });
  // The other breakages edit header fields a legacy frame does not have.
  const frame = buildFrame(
    spec.frameVer === FrameVer.Legacy ? { ...spec, frameVer: FrameVer.Tx } : spec,
  );
  switch (how) {
    case 'bad-magic':
      frame.writeUInt32BE(0xdeadbeef, 0);
      return frame;
    case 'truncated':
      return frame.subarray(0, FRAME_HEADER_SIZE - 1);
    case 'length-mismatch':
      frame.writeUInt32BE(frame.readUInt32BE(88) + 1, 88);
      return frame;
  }
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
  if (bytes.length !== size) {
    throw new RangeError(`${name} must be ${size} bytes, got ${bytes.length}`);
  }
  return bytes;
}
