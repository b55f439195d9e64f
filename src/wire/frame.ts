import {
  BLOCK_HEADER_PAYLOAD_SIZE,
  BUNDLE_FLAG_TXIDS,
  BUNDLE_HEADER_SIZE,
  FRAGMENT_HEADER_SIZE,
  FRAGMENT_ORIGINAL_VER_OFFSET,
  FRAME_HEADER_SIZE,
  FrameVer,
  LEGACY_HEADER_SIZE,
  MAGIC,
} from './constants.js';
import { badMagic, describe, hex, readU16, readU32, readU64 } from './bytes.js';
import { WireError } from './errors.js';

/** Re-cache TTL class of a frame, chosen by its (original) FrameVer. */
export type TtlClass = 'tx' | 'block' | 'subtree' | 'anchor' | 'beef';

/** The fields only a BRC-142 bundle (`FrameVer.Bundle`) header has. */
export interface BundleFields {
  /** Byte 7, the bundle Flags; bit 0 is {@link BundleFields.txIdsPresent}, the rest reserved. */
  flags: number;
  /**
   * Flags bit 0: every member is `uint16 length ∥ 32-byte TxID ∥ transaction`; without it,
   * `uint16 length ∥ transaction`.
   */
  txIdsPresent: boolean;
  /** uint16 at offset 56: the shard group index the bundle was built for. */
  groupIdx: number;
  /** Byte 58: the shard-bit width `groupIdx` was computed at (1..12; 0 = unset). */
  shardBits: number;
  /** uint16 at offset 60: how many member transactions follow the header. */
  txCount: number;
}

/**
 * The decoded header of a data frame. Byte fields are views into the datagram (no copy).
 *
 * Every version keeps magic, protocol version, FrameVer, HashKey (offset 40) and SeqNum
 * (offset 48) at the same place; the rest depends on the version:
 *
 * | FrameVer | header | bytes 8..40 (`txId`) | bytes 56..88 | payload length at |
 * |---|---|---|---|---|
 * | `0x02` tx, `0x06` anchor | 92 | TxID | SubtreeID (zeros for anchors) | 88 |
 * | `0x03` fragment | 104 | as in the frame it was cut from (its version at byte 100) | as in that frame | 88 (this fragment's bytes) |
 * | `0x04` block control | 92 | ContentID: block hash or coinbase TxID | zero pad | 88 |
 * | `0x05` subtree data | 92 | SubtreeID (Merkle root) | zero pad | 88 |
 * | `0x07` block header | 92 | block hash | zero pad | 88 (always 80) |
 * | `0x08` bundle | 66 | SubtreeID shared by all members | GroupIdx, ShardBits, 0, TxCount (see {@link FrameHeader.bundle}) | 62 |
 * | `0x09` BEEF object | 92 | ContentID (SHA-256d of the payload) | TopicID | 88 |
 *
 * Unknown versions are read as the 92-byte layout.
 */
export interface FrameHeader {
  /** FrameVer at offset 6. */
  frameVer: number;
  /** Byte 7: reserved (0), the per-version MsgType (`0x04`, `0x05`), or a bundle's Flags. */
  msgType: number;
  /** Protocol version at offset 4, as read. */
  protoVer: number;
  /**
   * 32 bytes at offset 8: TxID, ContentID, block hash or SubtreeID by version (see the
   * table above). This is what a Retransmitter receives as `txId`.
   */
  txId: Uint8Array;
  /** Per-flow id at offset 40. */
  hashKey: bigint;
  /** Sequence number at offset 48. */
  seq: bigint;
  /**
   * The frame's SubtreeID slot: 32 bytes at offset 56 (SubtreeID, TopicID or zero pad by
   * version); for a bundle, its SubtreeID at offset 8 (the same bytes as `txId`).
   */
  subtreeId: Uint8Array;
  /** Payload length: uint32 at offset 88, or at 62 for a bundle (its member section). */
  payloadLength: number;
  /** Header size: 92; 104 for a fragment; 66 for a bundle. */
  headerSize: number;
  /** For a fragment, the version of the frame it is part of (`0x00` reads as `Tx`); else `frameVer`. */
  originalFrameVer: number;
  /** TTL class used to re-cache this frame. */
  ttlClass: TtlClass;
  /** For a bundle (`FrameVer.Bundle`) its own header fields; undefined for every other version. */
  bundle?: BundleFields;
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

/** What is wrong with a datagram read as a frame (internal; see {@link frameError}). */
export type FrameDefect =
  'bytes' | 'short' | 'magic' | 'legacy' | 'header' | 'length' | 'block-header' | 'members';

/** Header size of a (non-legacy) FrameVer. */
function headerSizeOf(frameVer: number): number {
  if (frameVer === FrameVer.Bundle) return BUNDLE_HEADER_SIZE;
  return frameVer === FrameVer.Fragment ? FRAGMENT_HEADER_SIZE : FRAME_HEADER_SIZE;
}

/** Payload length field of a frame whose whole header is present. */
function payloadLengthOf(buf: Uint8Array): number {
  return readU32(buf, buf[6] === FrameVer.Bundle ? 62 : 88);
}

/**
 * Why `buf` is not a usable frame, or undefined when it is. With `exact`, the datagram must
 * be exactly header + payload length and a bundle's members must fill its member section.
 * Builds nothing: `matchFrame` runs it on every datagram a transport receives.
 */
export function frameDefect(buf: unknown, exact: boolean): FrameDefect | undefined {
  if (!(buf instanceof Uint8Array)) return 'bytes';
  if (buf.length < 8) return 'short';
  if (readU32(buf, 0) !== MAGIC) return 'magic';
  const frameVer = buf[6]!;
  if (frameVer === FrameVer.Legacy) return 'legacy';
  const headerSize = headerSizeOf(frameVer);
  if (buf.length < headerSize) return 'header';
  const payloadLength = payloadLengthOf(buf);
  if (frameVer === FrameVer.BlockHeader && payloadLength !== BLOCK_HEADER_PAYLOAD_SIZE) {
    return 'block-header';
  }
  if (!exact) return undefined;
  if (buf.length !== headerSize + payloadLength) return 'length';
  if (frameVer === FrameVer.Bundle && !membersFill(buf)) return 'members';
  return undefined;
}

/**
 * True when a bundle's TxCount members end exactly at the end of the datagram (BRC-142
 * refuses a bundle whose TxCount and PayloadLen disagree). The datagram is exactly
 * header + PayloadLen here.
 */
function membersFill(buf: Uint8Array): boolean {
  const count = readU16(buf, 60);
  const idSize = (buf[7]! & BUNDLE_FLAG_TXIDS) !== 0 ? 32 : 0;
  let at = BUNDLE_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (at + 2 > buf.length) return false;
    at += 2 + idSize + readU16(buf, at);
  }
  return at === buf.length;
}

/** The WireError that explains `defect` (only built when a frame is refused). */
export function frameError(defect: FrameDefect, buf: unknown): WireError {
  if (!(buf instanceof Uint8Array)) {
    return new WireError('length', `frame: expected bytes, got ${describe(buf)}`);
  }
  const frameVer = buf[6] ?? 0;
  const headerSize = headerSizeOf(frameVer);
  const name = frameName(frameVer);
  switch (defect) {
    case 'magic':
      return badMagic('frame', readU32(buf, 0));
    case 'legacy':
      return new WireError(
        'legacy',
        `frame: legacy version 0x01 (${LEGACY_HEADER_SIZE}-byte header) has no HashKey/SeqNum`,
      );
    case 'header':
      return new WireError(
        'length',
        `${name}: ${buf.length} bytes, need at least ${headerSize} for the header`,
      );
    case 'block-header':
      return new WireError(
        'length',
        `${name}: payload length ${payloadLengthOf(buf)}, must be ${BLOCK_HEADER_PAYLOAD_SIZE}`,
      );
    case 'length':
      return new WireError(
        'length',
        `${name}: payload length ${payloadLengthOf(buf)} + header ${headerSize} disagrees with datagram of ${buf.length} bytes`,
      );
    case 'members':
      return new WireError(
        'length',
        `${name}: ${readU16(buf, 60)} members do not fill the ${payloadLengthOf(buf)}-byte member section exactly`,
      );
    default:
      return new WireError('length', `frame: ${buf.length} bytes, need at least 8`);
  }
}

/** How error messages name a frame version. */
function frameName(frameVer: number): string {
  switch (frameVer) {
    case FrameVer.Fragment:
      return 'fragment';
    case FrameVer.Bundle:
      return 'bundle';
    case FrameVer.BlockHeader:
      return 'block header frame';
    default:
      return `frame 0x${hex(frameVer, 2)}`;
  }
}

/**
 * The header of a frame `frameDefect` accepted. `hashKey` and `seq` are passed in so that
 * `matchFrame` can hand back the bigints it was given instead of reading new ones.
 */
export function headerOf(buf: Uint8Array, hashKey: bigint, seq: bigint): FrameHeader {
  const frameVer = buf[6]!;
  const txId = buf.subarray(8, 40);
  if (frameVer === FrameVer.Bundle) {
    const flags = buf[7]!;
    return {
      frameVer,
      msgType: flags,
      protoVer: readU16(buf, 4),
      txId,
      hashKey,
      seq,
      subtreeId: txId,
      payloadLength: readU32(buf, 62),
      headerSize: BUNDLE_HEADER_SIZE,
      originalFrameVer: frameVer,
      ttlClass: 'tx',
      bundle: {
        flags,
        txIdsPresent: (flags & BUNDLE_FLAG_TXIDS) !== 0,
        groupIdx: readU16(buf, 56),
        shardBits: buf[58]!,
        txCount: readU16(buf, 60),
      },
    };
  }
  const fragment = frameVer === FrameVer.Fragment;
  const originalFrameVer = fragment ? buf[FRAGMENT_ORIGINAL_VER_OFFSET] || FrameVer.Tx : frameVer;
  return {
    frameVer,
    msgType: buf[7]!,
    protoVer: readU16(buf, 4),
    txId,
    hashKey,
    seq,
    subtreeId: buf.subarray(56, 88),
    payloadLength: readU32(buf, 88),
    headerSize: fragment ? FRAGMENT_HEADER_SIZE : FRAME_HEADER_SIZE,
    originalFrameVer,
    ttlClass: ttlClassOf(originalFrameVer),
    bundle: undefined,
  };
}

/**
 * Decodes a data-frame header. Checks the magic and that the whole header is present;
 * with `exact` (the default) the datagram must also be exactly header + payload length,
 * and a bundle's TxCount members must fill its member section exactly. A block header
 * frame (`0x07`) must declare an 80-byte payload. Legacy frames (`FrameVer.Legacy`) carry
 * no HashKey/SeqNum and are refused with code `legacy`. The protocol version is reported,
 * not enforced: frames from older senders still decode.
 *
 * @param buf - the datagram
 * @param exact - require `buf.length === headerSize + payloadLength`. @default true
 * @throws {@link WireError} `length`, `magic` or `legacy`.
 * @example
 * ```ts
 * const h = decodeFrameHeader(frame);
 * await cache.store(cacheKey(h.hashKey, h.seq), frame, ttls[h.ttlClass]);
 * if (h.bundle) console.log(`bundle of ${h.bundle.txCount} for group ${h.bundle.groupIdx}`);
 * ```
 */
export function decodeFrameHeader(buf: Uint8Array, exact = true): FrameHeader {
  const defect = frameDefect(buf, exact);
  if (defect !== undefined) throw frameError(defect, buf);
  return headerOf(buf, readU64(buf, 40), readU64(buf, 48));
}
