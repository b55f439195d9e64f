import {
  FRAGMENT_HEADER_SIZE,
  FRAGMENT_ORIGINAL_VER_OFFSET,
  FRAME_HEADER_SIZE,
  FrameVer,
  LEGACY_HEADER_SIZE,
  MAGIC,
  TXID_SIZE,
} from './constants.js';
import { checkBytes, checkMinLength, hex, viewOf } from './bytes.js';
import { WireError } from './errors.js';

/** Re-cache TTL class of a frame, chosen by its (original) FrameVer. */
export type TtlClass = 'tx' | 'block' | 'subtree' | 'anchor' | 'beef';

/** The decoded header of a data frame. Byte fields are views into the datagram (no copy). */
export interface FrameHeader {
  /** FrameVer at offset 6. */
  frameVer: number;
  /** Byte 7: reserved or a per-version message type. */
  msgType: number;
  /** Protocol version at offset 4, as read. */
  protoVer: number;
  /** 32 bytes at offset 8: TxID, ContentID or SubtreeID by version. */
  txId: Uint8Array;
  /** Per-flow id at offset 40. */
  hashKey: bigint;
  /** Sequence number at offset 48. */
  seq: bigint;
  /** 32 bytes at offset 56: SubtreeID, TopicID or zero pad by version. */
  subtreeId: Uint8Array;
  /** Payload length at offset 88. */
  payloadLength: number;
  /** Header size: 92, or 104 for a fragment. */
  headerSize: number;
  /** For a fragment, the version of the frame it is part of (`0x00` reads as `Tx`); else `frameVer`. */
  originalFrameVer: number;
  /** TTL class used to re-cache this frame. */
  ttlClass: TtlClass;
}

/** TTL class for a (non-fragment) FrameVer; unknown versions are treated as transactions. */
export function ttlClassOf(frameVer: number): TtlClass {
  switch (frameVer) {
    case FrameVer.Block:
      return 'block';
    case FrameVer.Subtree:
      return 'subtree';
    case FrameVer.Anchor:
      return 'anchor';
    case FrameVer.Beef:
      return 'beef';
    default:
      return 'tx';
  }
}

/**
 * Decodes a data-frame header. Checks the magic and that the whole header is present;
 * with `exact` (the default) the datagram must also be exactly header + payload length.
 * Legacy frames (`FrameVer.Legacy`) carry no HashKey/SeqNum and are refused with code `legacy`.
 * The protocol version is reported, not enforced: frames from older senders still decode.
 *
 * @param buf - the datagram
 * @param exact - require `buf.length === headerSize + payloadLength`. @default true
 * @throws {@link WireError} `length`, `magic` or `legacy`.
 * @example
 * ```ts
 * const h = decodeFrameHeader(frame);
 * await cache.store(cacheKey(h.hashKey, h.seq), frame, ttls[h.ttlClass]);
 * ```
 */
export function decodeFrameHeader(buf: Uint8Array, exact = true): FrameHeader {
  checkBytes(buf, 'frame');
  checkMinLength(buf, 8, 'frame');
  const dv = viewOf(buf);
  const magic = dv.getUint32(0);
  if (magic !== MAGIC) {
    throw new WireError('magic', `frame: bad magic 0x${hex(magic, 8)} (want 0x${hex(MAGIC, 8)})`);
  }
  const frameVer = dv.getUint8(6);
  if (frameVer === FrameVer.Legacy) {
    throw new WireError(
      'legacy',
      `frame: legacy version 0x01 (${LEGACY_HEADER_SIZE}-byte header) has no HashKey/SeqNum`,
    );
  }
  const fragment = frameVer === FrameVer.Fragment;
  const headerSize = fragment ? FRAGMENT_HEADER_SIZE : FRAME_HEADER_SIZE;
  checkMinLength(buf, headerSize, fragment ? 'fragment header' : 'frame header');
  const payloadLength = dv.getUint32(88);
  if (exact && buf.length !== headerSize + payloadLength) {
    throw new WireError(
      'length',
      `frame: payload length ${payloadLength} + header ${headerSize} disagrees with datagram of ${buf.length} bytes`,
    );
  }
  let originalFrameVer = frameVer;
  if (fragment) {
    const orig = dv.getUint8(FRAGMENT_ORIGINAL_VER_OFFSET);
    originalFrameVer = orig === 0 ? FrameVer.Tx : orig;
  }
  return {
    frameVer,
    msgType: dv.getUint8(7),
    protoVer: dv.getUint16(4),
    txId: buf.subarray(8, 8 + TXID_SIZE),
    hashKey: dv.getBigUint64(40),
    seq: dv.getBigUint64(48),
    subtreeId: buf.subarray(56, 88),
    payloadLength,
    headerSize,
    originalFrameVer,
    ttlClass: ttlClassOf(originalFrameVer),
  };
}
