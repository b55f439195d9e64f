import { FRAGMENT_ORIGINAL_VER_OFFSET, FrameVer, MAGIC } from '../wire/constants.js';
import { WireError } from '../wire/errors.js';

/**
 * BRC-129 scope prefixes: the first 16 bits of a group address.
 * `ssm-*` are the source-specific ranges (`FF3x`).
 */
export const SCOPE_PREFIX = Object.freeze({
  /** Site-local scope. */
  site: 0xff05,
  /** Organisation-local scope. */
  org: 0xff08,
  /** Global scope. */
  global: 0xff0e,
  /** Source-specific multicast, site scope. */
  'ssm-site': 0xff35,
  /** Source-specific multicast, global scope. */
  'ssm-global': 0xff3e,
});
/** A key of {@link SCOPE_PREFIX}. */
export type Scope = keyof typeof SCOPE_PREFIX;

/** Group id (bytes 12–13 of a group address) used when none is configured. */
export const DEFAULT_GROUP_ID = 0x000b;
/** Shard bits used when none are configured: 256 transaction groups. */
export const DEFAULT_SHARD_BITS = 8;
/**
 * Most shard bits allowed. With 16 the top transaction shards would land on the reserved
 * block (`0xFFFE`) and subtree (`0xFFFB`) indices.
 */
export const MAX_SHARD_BITS = 15;
/** Group index of block-control and anchor frames. */
export const BLOCK_GROUP_INDEX = 0xfffe;
/** Group index of subtree-data frames. */
export const SUBTREE_GROUP_INDEX = 0xfffb;

/** How frames map to group addresses. */
export interface GroupAddressOptions {
  /** Scope prefix of the groups. @default 'site' (FF05) */
  scope?: Scope;
  /** Group id written to bytes 12–13. @default 0x000B */
  groupId?: number;
  /**
   * Leading TxID bits that choose a transaction shard group (0–15); 0 puts every
   * transaction in index 0.
   * @default 8
   */
  shardBits?: number;
}

/** {@link GroupAddressOptions} with defaults applied and values checked. */
export type ResolvedGroupOptions = Required<GroupAddressOptions>;

/** Applies defaults and checks ranges; throws a RangeError naming the option. */
export function resolveGroupOptions(options: GroupAddressOptions = {}): ResolvedGroupOptions {
  const scope = options.scope ?? 'site';
  const groupId = options.groupId ?? DEFAULT_GROUP_ID;
  const shardBits = options.shardBits ?? DEFAULT_SHARD_BITS;
  if (!Object.hasOwn(SCOPE_PREFIX, scope)) {
    throw new RangeError(
      `scope must be one of ${Object.keys(SCOPE_PREFIX).join(', ')}, got ${String(scope)}`,
    );
  }
  if (!Number.isInteger(groupId) || groupId < 0 || groupId > 0xffff) {
    throw new RangeError(`groupId must be an integer in 0..0xFFFF, got ${String(groupId)}`);
  }
  if (!Number.isInteger(shardBits) || shardBits < 0 || shardBits > MAX_SHARD_BITS) {
    throw new RangeError(
      `shardBits must be an integer in 0..${MAX_SHARD_BITS}, got ${String(shardBits)}`,
    );
  }
  return { scope, groupId, shardBits };
}

/**
 * The group index (bytes 14–15) a frame is sent to. Block and anchor frames go to `0xFFFE`,
 * subtree data to `0xFFFB`; fragments follow their original version (`0x00` = transaction).
 * Transactions, BEEF objects, legacy frames and unknown versions go to the shard group of
 * their TxID: `uint32(txid[0:4]) >> (32 - shardBits)`.
 *
 * @throws {@link nack-proxy!WireError} `magic` or `length` when the frame is not a data frame.
 */
export function groupIndexFor(frame: Uint8Array, shardBits: number = DEFAULT_SHARD_BITS): number {
  const version = routedVersion(frame);
  if (version === FrameVer.Block || version === FrameVer.Anchor) return BLOCK_GROUP_INDEX;
  if (version === FrameVer.Subtree) return SUBTREE_GROUP_INDEX;
  if (shardBits === 0) return 0;
  if (frame.length < 12) throw new WireError('length', `frame: ${frame.length} bytes, no TxID`);
  const prefix = ((frame[8]! << 24) | (frame[9]! << 16) | (frame[10]! << 8) | frame[11]!) >>> 0;
  return prefix >>> (32 - shardBits);
}

/**
 * The 16 bytes of a frame's group address: scope prefix, zeros, group id (bytes 12–13) and
 * group index (bytes 14–15).
 */
export function groupAddressBytes(frame: Uint8Array, options?: GroupAddressOptions): Uint8Array {
  const { scope, groupId, shardBits } = resolveGroupOptions(options);
  const index = groupIndexFor(frame, shardBits);
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, SCOPE_PREFIX[scope]);
  dv.setUint16(12, groupId);
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
 * ```
 */
export function groupAddressFor(frame: Uint8Array, options?: GroupAddressOptions): string {
  return formatIPv6(groupAddressBytes(frame, options));
}

/** Canonical (RFC 5952) text of a 16-byte IPv6 address: lower case, longest zero run as `::`. */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16)
    throw new RangeError(`IPv6 address must be 16 bytes, got ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestAt = -1;
  let bestLen = 1; // a single zero word is not compressed
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** The version that decides routing: a fragment's original version, else FrameVer. */
function routedVersion(frame: Uint8Array): number {
  if (!(frame instanceof Uint8Array) || frame.length < 8) {
    throw new WireError('length', `frame: need at least 8 bytes to route`);
  }
  const magic = ((frame[0]! << 24) | (frame[1]! << 16) | (frame[2]! << 8) | frame[3]!) >>> 0;
  if (magic !== MAGIC) throw new WireError('magic', 'frame: bad magic, not a data frame');
  const version = frame[6]!;
  if (version !== FrameVer.Fragment) return version;
  if (frame.length <= FRAGMENT_ORIGINAL_VER_OFFSET) {
    throw new WireError('length', `fragment: ${frame.length} bytes, no original version`);
  }
  const original = frame[FRAGMENT_ORIGINAL_VER_OFFSET]!;
  return original === 0 ? FrameVer.Tx : original;
}
