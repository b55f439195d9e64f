/**
 * How frames map to BRC-129 group addresses: scope, group id and the shard widths of the
 * transaction and BEEF planes.
 * @module
 */
import { optionError } from '../shared/option-check.js';
import { checkBeefShardBits, checkTxShardBits } from './plane.js';

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

/** How frames map to group addresses. */
export interface GroupAddressOptions {
  /** Scope prefix of the groups. @default 'site' (FF05) */
  scope?: Scope;
  /** Group id written to bytes 12–13. @default 0x000B */
  groupId?: number;
  /**
   * Leading TxID bits that choose a transaction shard group (0–12); 0 puts every
   * transaction in index 0. BRC-129 caps it at 12: indices from `0x1000` up belong to
   * object planes.
   * @default 8
   */
  shardBits?: number;
  /**
   * Shard width of the BEEF object plane (BRC-148): leading TopicID bits that choose a BEEF
   * object's group, `0x1000 + shard`. It takes 0–15 (`0x1000 + 2^bits` must not pass the
   * control groups at `0xF800`); 0 puts every BEEF object in `0x1000`. Set it to the width
   * the BEEF plane's publishers use, which may differ from the transaction plane's.
   * @default shardBits
   * @example { shardBits: 8, beefShardBits: 4 } // BEEF objects in 0x1000..0x100F
   */
  beefShardBits?: number;
}

/** {@link GroupAddressOptions} with defaults applied and values checked. */
export type ResolvedGroupOptions = Required<GroupAddressOptions>;

/** Applies defaults and checks ranges; throws a RangeError naming the option. */
export function resolveGroupOptions(options: GroupAddressOptions = {}): ResolvedGroupOptions {
  const scope = options.scope ?? 'site';
  const groupId = options.groupId ?? DEFAULT_GROUP_ID;
  if (!Object.hasOwn(SCOPE_PREFIX, scope)) {
    throw Object.assign(
      new RangeError(
        `scope must be one of ${Object.keys(SCOPE_PREFIX).join(', ')}, got ${String(scope)}`,
      ),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
  }
  if (!Number.isInteger(groupId) || groupId < 0 || groupId > 0xffff) {
    throw optionError(
      'ERR_OUT_OF_RANGE',
      `groupId must be an integer in 0..0xFFFF, got ${String(groupId)}`,
    );
  }
  const shardBits = checkTxShardBits('shardBits', options.shardBits ?? DEFAULT_SHARD_BITS);
  const beefShardBits = checkBeefShardBits('beefShardBits', options.beefShardBits ?? shardBits);
  return { scope, groupId, shardBits, beefShardBits };
}
