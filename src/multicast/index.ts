/**
 * Multicast retransmission (`nack-proxy/multicast`): sends recovered frames into the
 * downstream domain's BRC-129 groups. Uses only `node:dgram`.
 * @module nack-proxy/multicast
 */
export { MulticastRetransmitter } from './retransmitter.js';
export type { Destination, MulticastRetransmitterOptions } from './retransmitter.js';
export {
  DEFAULT_GROUP_ID,
  DEFAULT_SHARD_BITS,
  SCOPE_PREFIX,
  resolveGroupOptions,
} from './options.js';
export type { GroupAddressOptions, ResolvedGroupOptions, Scope } from './options.js';
export {
  BEEF_PLANE_BASE,
  CONTROL_PLANE_BASE,
  MAX_BEEF_SHARD_BITS,
  MAX_SHARD_BITS,
} from './plane.js';
export {
  BLOCK_GROUP_INDEX,
  SUBTREE_GROUP_INDEX,
  groupAddressBytes,
  groupAddressFor,
  groupIndexFor,
} from './route.js';
export { formatIPv6 } from './ipv6.js';
