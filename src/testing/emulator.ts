/**
 * The loopback upstream emulator of the testing kit; its parts live in `./emulator/`.
 * @module
 */
export { UpstreamEmulator } from './emulator/emulator.js';
export {
  DEFAULT_RETRY_ENDPOINT_LIMITS,
  type EmulatorBehaviour,
  type EmulatorMode,
  type EmulatorOptions,
  type RetryEndpointLimits,
  type RetryEndpointOptions,
  type TokenBucketLimit,
  type WindowLimit,
} from './emulator/options.js';
export type {
  EmulatorStats,
  RateLimitCounters,
  RateLimitTier,
  ReceivedNack,
  UdpPeer,
} from './emulator/records.js';
