/**
 * nack-proxy: cross-domain NACK proxy client for BRC-126 retry endpoints.
 *
 * The root holds what a host embeds: the client, its options, events and stats, the
 * injected-component interfaces, the UDP transport, the memory stores, and the few wire
 * codecs a NACK handler needs. The whole wire layer is `nack-proxy/wire`; the testing kit is
 * `nack-proxy/testing`; fleet adapters are `nack-proxy/redis`, `nack-proxy/prometheus` and
 * `nack-proxy/multicast`.
 * @module nack-proxy
 */
export {
  FLAG_PROXIED,
  FrameVer,
  MsgType,
  WireError,
  cacheKey,
  decodeFrameHeader,
  decodeNack,
  decodeResponse,
  encodeNack,
  encodeResponse,
  isProxied,
  type DecodedNack,
  type FrameHeader,
  type Nack,
  type NackResponse,
  type WireErrorCode,
} from './wire/index.js';
export { ProxyClient, type CloseOptions } from './client/proxy-client.js';
export type { Gap } from './client/gap.js';
export {
  DEFAULT_TTLS,
  type Delivery,
  type ProxyClientOptions,
  type Ttls,
} from './client/options.js';
export type {
  AdmissionTier,
  Cache,
  Component,
  DedupCause,
  Deduper,
  DropReason,
  FailReason,
  Logger,
  MaybePromise,
  Recorder,
  Requester,
  Retransmitter,
  UpstreamState,
} from './client/components.js';
export {
  ComponentError,
  type DedupedEvent,
  type DroppedEvent,
  type FailedEvent,
  type FaultContext,
  type GapRef,
  type HealthCause,
  type LastReply,
  type ProxyClientEvents,
  type RecoveredEvent,
  type UpstreamEvent,
} from './client/events.js';
export { DEFAULT_NACK_RATE, type NackRate } from './client/admission.js';
export type { ProxyStats, UpstreamStats } from './client/stats.js';
export type {
  ErrorReply,
  ExchangeOptions,
  FrameReply,
  MissReply,
  Reply,
  ThrottledReply,
  TimeoutReply,
  Transport,
} from './transport/transport.js';
export {
  UdpTransport,
  type Lookup,
  type UdpTransportOptions,
  type UdpTransportStats,
} from './transport/udp.js';
export { parseUpstream, type UpstreamAddress } from './transport/address.js';
export type { FrameStore, WaitForOptions } from './store/frame-store.js';
export { MemoryCache, type MemoryCacheOptions } from './store/memory-cache.js';
export { MemoryDeduper, type MemoryDeduperOptions } from './store/memory-deduper.js';
