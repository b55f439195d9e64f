/**
 * BRC-124 / BRC-126 wire constants. All multi-byte integers on the wire are big-endian.
 * @module
 */

/** Magic number that opens every NACK, response and data frame. */
export const MAGIC = 0xe3e1f3e8;

/** Protocol version carried at offset 4 of NACKs and responses. */
export const PROTO_VER = 0x02bf;

/**
 * NACK flag bit: the NACK was sent by a retry endpoint on behalf of its domain.
 * An endpoint serves a proxied NACK from its own cache and never proxies it again.
 */
export const FLAG_PROXIED = 0x01;

/** Exact size of a NACK datagram in bytes. */
export const NACK_SIZE = 64;

/** Exact size of a MISS / ACK / THROTTLED response in bytes. */
export const RESPONSE_SIZE = 16;

/** Size of the standard data-frame header in bytes (payload follows). */
export const FRAME_HEADER_SIZE = 92;

/** Size of a fragment (`FrameVer.Fragment`) header in bytes. */
export const FRAGMENT_HEADER_SIZE = 104;

/** Size of a BRC-142 bundle (`FrameVer.Bundle`) header in bytes (members follow). */
export const BUNDLE_HEADER_SIZE = 66;

/** Size of the legacy (`FrameVer.Legacy`) header, which has no HashKey or SeqNum. */
export const LEGACY_HEADER_SIZE = 44;

/** Payload length every BRC-135 block header frame (`FrameVer.BlockHeader`) carries. */
export const BLOCK_HEADER_PAYLOAD_SIZE = 80;

/** Size of a cache key: `HashKey ∥ SeqNum`. */
export const CACHE_KEY_SIZE = 16;

/** Size of a SubtreeID field. */
export const SUBTREE_ID_SIZE = 32;

/** Size of the TxID field of a data frame. */
export const TXID_SIZE = 32;

/** Largest value of an unsigned 64-bit field. */
export const UINT64_MAX = 0xffff_ffff_ffff_ffffn;

/** Base unit of a THROTTLED backoff hint: hold = `THROTTLE_BASE_MS << bucket`. */
export const THROTTLE_BASE_MS = 125;

/** Message types at offset 6 of NACKs and responses. */
export const MsgType = {
  /** Gap-repair request (64 bytes). */
  Nack: 0x10,
  /** The endpoint does not have the frame. */
  Miss: 0x11,
  /** The endpoint sent the frame (multicast and/or unicast, see {@link AckFlag}). */
  Ack: 0x12,
  /** Healthy but congested: hold for the hinted backoff and ask the same endpoint again. */
  Throttled: 0x13,
} as const;
/** One of the {@link MsgType} values. */
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

/** Flag bits of an ACK response. */
export const AckFlag = {
  /** The frame was multicast-retransmitted. */
  MulticastSent: 0x01,
  /** The frame was sent by unicast to the NACK's source. */
  UnicastSent: 0x02,
} as const;

/** Data frame versions (offset 6 of a data frame). */
export const FrameVer = {
  /** Legacy frame, 44-byte header without HashKey/SeqNum: cannot be NACKed. */
  Legacy: 0x01,
  /** Transaction frame. */
  Tx: 0x02,
  /** Fragment of a larger frame; its original version is at byte 100. */
  Fragment: 0x03,
  /** Block control frame. */
  Block: 0x04,
  /** Subtree data frame. */
  Subtree: 0x05,
  /** Anchor transaction frame. */
  Anchor: 0x06,
  /**
   * BRC-135 block header frame: standard 92-byte header, payload exactly one 80-byte block
   * header. Reference endpoints do not cache it; a recovered one is re-cached as `tx`.
   */
  BlockHeader: 0x07,
  /**
   * BRC-142 bundle: several transactions of one flow in one datagram, 66-byte header
   * (`FrameHeader.bundle` holds its own fields). Re-cached and retransmitted whole, as `tx`.
   */
  Bundle: 0x08,
  /** BEEF object frame. */
  Beef: 0x09,
} as const;
/** One of the {@link FrameVer} values. */
export type FrameVer = (typeof FrameVer)[keyof typeof FrameVer];

/** Offset of the original FrameVer inside a fragment header. */
export const FRAGMENT_ORIGINAL_VER_OFFSET = 100;

/** Bundle Flags bit 0: every member carries its 32-byte TxID after its length. */
export const BUNDLE_FLAG_TXIDS = 0x01;
