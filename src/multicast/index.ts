/**
 * Multicast retransmission (`nack-proxy/multicast`): sends recovered frames into the
 * downstream domain's BRC-129 groups. Uses only `node:dgram`.
 * @module nack-proxy/multicast
 */
export { MulticastRetransmitter } from './retransmitter.js';
export type { Destination, MulticastRetransmitterOptions } from './retransmitter.js';
export {
  BLOCK_GROUP_INDEX,
  DEFAULT_GROUP_ID,
  DEFAULT_SHARD_BITS,
  MAX_SHARD_BITS,
  SCOPE_PREFIX,
  SUBTREE_GROUP_INDEX,
  formatIPv6,
  groupAddressBytes,
  groupAddressFor,
  groupIndexFor,
  resolveGroupOptions,
} from './route.js';
export type { GroupAddressOptions, ResolvedGroupOptions, Scope } from './route.js';
