/**
 * Testing kit for hosts of nack-proxy: a scriptable fake transport, recording fakes of the
 * injected components, a frame builder and a real loopback upstream emulator.
 * @packageDocumentation
 */
export { buildFrame, defaultTxId, type FrameSpec } from './frames.js';
export {
  FakeTransport,
  InterceptorScope,
  type FakeAction,
  type FakeTransportOptions,
  type GapMatcher,
  type SentNack,
} from './fake-transport.js';
export {
  RecordingCache,
  RecordingDeduper,
  RecordingRecorder,
  RecordingRetransmitter,
  type Fault,
  type RetransmittedFrame,
  type StoredFrame,
} from './recorders.js';
export {
  UpstreamEmulator,
  type EmulatorBehaviour,
  type EmulatorMode,
  type EmulatorOptions,
  type EmulatorStats,
  type ReceivedNack,
} from './emulator.js';
