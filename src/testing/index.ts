/**
 * Testing kit for hosts of nack-proxy (`nack-proxy/testing`): a scriptable fake
 * `Transport`, recording fakes of the injected components, a frame builder for every
 * frame version, and a real BRC-126 upstream emulator on loopback UDP.
 *
 * Unit tests script a {@link FakeTransport} (no network, works with fake timers);
 * integration tests point a `ProxyClient` or a whole relay at {@link UpstreamEmulator}s.
 *
 * @example
 * ```ts
 * import { FakeTransport, RecordingCache, RecordingRetransmitter } from 'nack-proxy/testing';
 *
 * const transport = new FakeTransport();
 * transport.intercept('[::1]:9300').miss();
 * transport.intercept('[::1]:9301').serve();
 * const retransmitter = new RecordingRetransmitter();
 * const client = new ProxyClient({
 *   upstreams: ['[::1]:9300', '[::1]:9301'],
 *   cache: new RecordingCache(),
 *   retransmitter,
 *   transport,
 * });
 * client.enqueue({ hashKey: 1n, startSeq: 42n });
 * await client.onIdle();
 * expect(retransmitter.frames).toHaveLength(1);
 * transport.assertNoPendingInterceptors();
 * ```
 * @module nack-proxy/testing
 */
export {
  FRAME_VERSIONS,
  buildFrame,
  buildFrames,
  defaultTransaction,
  defaultTxId,
  malformedFrame,
  type FrameSpec,
  type Malformation,
} from './frames.js';
export {
  beefObject,
  sampleTransaction,
  type SampleTransaction,
  type TransactionShape,
} from './transactions.js';
export {
  FakeTransport,
  InterceptorScope,
  type FakeAction,
  type FakeTransportOptions,
  type GapMatcher,
  type PendingInterceptor,
  type SentNack,
} from './fake-transport.js';
export {
  RecordingCache,
  RecordingDeduper,
  RecordingRecorder,
  RecordingRetransmitter,
  type DedupClaim,
  type Fault,
  type RecordedReply,
  type RecordedUpstreamState,
  type RetransmittedFrame,
  type StoredFrame,
  type UnicastFrame,
} from './recorders.js';
export {
  DEFAULT_RETRY_ENDPOINT_LIMITS,
  UpstreamEmulator,
  type EmulatorBehaviour,
  type EmulatorMode,
  type EmulatorOptions,
  type EmulatorStats,
  type RateLimitCounters,
  type RateLimitTier,
  type ReceivedNack,
  type RetryEndpointLimits,
  type RetryEndpointOptions,
  type TokenBucketLimit,
  type UdpPeer,
  type WindowLimit,
} from './emulator.js';
export { formatEndpoint, loopbackAddress } from './loopback.js';
export {
  TestConsumer,
  type ConsumerDatagram,
  type ConsumerPath,
  type ConsumerSendOptions,
  type TestConsumerOptions,
} from './consumer.js';
