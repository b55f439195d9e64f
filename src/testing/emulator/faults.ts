import type { DecodedNack } from '../../wire/nack.js';
import { encodeResponse } from '../../wire/response.js';
import { buildFrame, malformedFrame } from '../frames.js';
import type { EmulatorBehaviour } from './options.js';
import type { EmulatorStats, UdpPeer } from './records.js';

/** What the fault modes need of the emulator: everything goes out of the NACK port. */
export interface FaultIo {
  readonly stats: EmulatorStats;
  /** Sends from the NACK port. */
  send(bytes: Uint8Array, to: UdpPeer): void;
  /** THROTTLED replies already sent for a gap, counted up by one on each call. */
  nextThrottle(key: string): number;
}

/**
 * Answers a NACK in one of the fault-injection modes (every mode but `retry-endpoint`).
 * `frame` is the held frame for the gap, if any.
 */
export function answerFault(
  io: FaultIo,
  b: EmulatorBehaviour,
  nack: DecodedNack,
  key: string,
  frame: Uint8Array | undefined,
  to: UdpPeer,
): void {
  const stats = io.stats;
  const seq = nack.startSeq;
  const mode = b.mode ?? 'serve';
  const sendAck = (): void => {
    stats.acks++;
    io.send(encodeResponse({ kind: 'ack', seq, unicastSent: true }), to);
  };
  const sendFrame = (bytes: Uint8Array): void => {
    stats.framesSent++;
    io.send(bytes, to);
  };
  if (mode === 'silent') {
    stats.unanswered++;
    return;
  }
  if (mode === 'throttle' && io.nextThrottle(key) < (b.throttleTimes ?? Infinity)) {
    stats.throttled++;
    io.send(encodeResponse({ kind: 'throttled', seq, bucket: b.throttleBucket ?? 0 }), to);
    return;
  }
  if (mode === 'miss' || frame === undefined) {
    stats.misses++;
    io.send(encodeResponse({ kind: 'miss' }), to);
    return;
  }
  switch (mode) {
    case 'ack-only':
      sendAck();
      return;
    case 'frame-first':
      sendFrame(frame);
      sendAck();
      return;
    case 'wrong-frame':
      sendAck();
      sendFrame(buildFrame({ hashKey: nack.hashKey, seq: seq + 1n }));
      return;
    case 'corrupt':
      sendAck();
      sendFrame(malformedFrame('bad-magic', { hashKey: nack.hashKey, seq }));
      return;
    default:
      sendAck();
      sendFrame(frame);
  }
}
