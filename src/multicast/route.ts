/**
 * Which BRC-129 group a recovered frame is retransmitted to, per FrameVer.
 * @module
 */
import { FRAGMENT_ORIGINAL_VER_OFFSET, FrameVer, MAGIC } from '../wire/constants.js';
import { WireError } from '../wire/errors.js';
import { formatIPv6 } from './ipv6.js';
import { SCOPE_PREFIX, resolveGroupOptions } from './options.js';
import type { GroupAddressOptions, ResolvedGroupOptions } from './options.js';
import { BEEF_PLANE_BASE, shardOfKey } from './plane.js';

/** Group index of block-control and anchor frames. */
export const BLOCK_GROUP_INDEX = 0xfffe;
/** Group index of subtree-data frames. */
export const SUBTREE_GROUP_INDEX = 0xfffb;

/** Offset of a bundle's uint16 GroupIdx (BRC-142). */
const BUNDLE_GROUP_INDEX_OFFSET = 56;
/** Offset of the TxID (ContentID, SubtreeID by version) of every data frame. */
const TXID_OFFSET = 8;
/** Offset of a BEEF object's TopicID (BRC-149), also carried by its fragments (BRC-130). */
const TOPIC_ID_OFFSET = 56;

/**
 * The group index (bytes 14–15 of the group address) a frame is sent to:
 *
 * - block control `0x04` and anchor `0x06`: `0xFFFE`; subtree data `0x05`: `0xFFFB`;
 * - bundle `0x08` (BRC-142): the uint16 GroupIdx its header carries at offset 56;
 * - BEEF object `0x09` (BRC-148): `0x1000` + the shard of its TopicID (offset 56) at
 *   `beefShardBits`, never of its ContentID (offset 8);
 * - fragment `0x03`: the group of its original version (byte 100; `0x00` = transaction),
 *   which is where the source sent it (BRC-130, BRC-131, BRC-132, BRC-149);
 * - transaction, legacy and any other version: the shard of the 32 bytes at offset 8,
 *   `uint32(txid[0:4]) >> (32 - shardBits)`.
 *
 * @throws RangeError when an option is out of range (the message names it).
 * @throws {@link nack-proxy!WireError} `magic` or `length` when the frame is not a data frame or
 * ends before the bytes that choose its group.
 * @example
 * ```ts
 * groupIndexFor(beefFrame, { shardBits: 8, beefShardBits: 4 }); // 0x1000..0x100F
 * ```
 */
export function groupIndexFor(frame: Uint8Array, options?: GroupAddressOptions): number {
  return routeIndex(frame, resolveGroupOptions(options));
}

/**
 * The 16 bytes of a frame's group address: scope prefix, zeros, group id (bytes 12–13) and
 * group index (bytes 14–15, see {@link groupIndexFor}).
 */
export function groupAddressBytes(frame: Uint8Array, options?: GroupAddressOptions): Uint8Array {
  const resolved = resolveGroupOptions(options);
  const index = routeIndex(frame, resolved);
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, SCOPE_PREFIX[resolved.scope]);
  dv.setUint16(12, resolved.groupId);
  dv.setUint16(14, index);
  return out;
}

/**
 * The group address a frame is retransmitted to, in canonical text form.
 *
 * @example
 * ```ts
 * groupAddressFor(blockFrame); // 'ff05::b:fffe'
 * groupAddressFor(txFrame, { scope: 'org', shardBits: 4 }); // e.g. 'ff08::b:a'
 * groupAddressFor(beefFrame, { beefShardBits: 4 }); // e.g. 'ff05::b:100c'
 * ```
 */
export function groupAddressFor(frame: Uint8Array, options?: GroupAddressOptions): string {
  return formatIPv6(groupAddressBytes(frame, options));
}

function routeIndex(frame: Uint8Array, options: ResolvedGroupOptions): number {
  const version = dataFrameVersion(frame);
  switch (version) {
    case FrameVer.Block:
    case FrameVer.Anchor:
      return BLOCK_GROUP_INDEX;
    case FrameVer.Subtree:
      return SUBTREE_GROUP_INDEX;
    case FrameVer.Bundle:
      return bundleGroupIndex(frame);
    case FrameVer.Beef:
      return beefGroupIndex(frame, options);
    case FrameVer.Fragment:
      return fragmentGroupIndex(frame, options);
    default:
      return shardOfKey(frame, TXID_OFFSET, options.shardBits, 'TxID');
  }
}

/** The index the bundle was built for, used as carried (the bundle has no TxID to shard). */
function bundleGroupIndex(frame: Uint8Array): number {
  const end = BUNDLE_GROUP_INDEX_OFFSET + 2;
  if (frame.length < end) {
    throw new WireError('length', `bundle: ${frame.length} bytes, no GroupIdx (bytes 56..58)`);
  }
  return (frame[BUNDLE_GROUP_INDEX_OFFSET]! << 8) | frame[BUNDLE_GROUP_INDEX_OFFSET + 1]!;
}

function beefGroupIndex(frame: Uint8Array, options: ResolvedGroupOptions): number {
  return BEEF_PLANE_BASE + shardOfKey(frame, TOPIC_ID_OFFSET, options.beefShardBits, 'TopicID');
}

/**
 * A fragment goes where the source multicast it, the group of its original version: the
 * listeners that reassemble a block, subtree or BEEF object joined that group, not the
 * transaction shard that the fragment's offset-8 field (BlockHash, SubtreeID, ContentID)
 * would pick. Bytes 0–91 of a fragment are laid out as in the original frame, so a BEEF
 * fragment carries its TopicID at offset 56.
 */
function fragmentGroupIndex(frame: Uint8Array, options: ResolvedGroupOptions): number {
  if (frame.length <= FRAGMENT_ORIGINAL_VER_OFFSET) {
    throw new WireError('length', `fragment: ${frame.length} bytes, no original version`);
  }
  switch (frame[FRAGMENT_ORIGINAL_VER_OFFSET]) {
    case FrameVer.Block:
    case FrameVer.Anchor:
      return BLOCK_GROUP_INDEX;
    case FrameVer.Subtree:
      return SUBTREE_GROUP_INDEX;
    case FrameVer.Beef:
      return beefGroupIndex(frame, options);
    default: // 0x00 / 0x02 transaction, and any version BRC-130 does not fragment
      return shardOfKey(frame, TXID_OFFSET, options.shardBits, 'TxID');
  }
}

/** FrameVer of a data frame, after checking its magic. */
function dataFrameVersion(frame: Uint8Array): number {
  if (!(frame instanceof Uint8Array) || frame.length < 8) {
    throw new WireError('length', `frame: need at least 8 bytes to route`);
  }
  const magic = ((frame[0]! << 24) | (frame[1]! << 16) | (frame[2]! << 8) | frame[3]!) >>> 0;
  if (magic !== MAGIC) throw new WireError('magic', 'frame: bad magic, not a data frame');
  return frame[6]!;
}
