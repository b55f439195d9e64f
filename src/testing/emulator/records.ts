import type { DecodedNack } from '../../wire/nack.js';

/** A UDP address and port. */
export interface UdpPeer {
  /** IP address, as the socket reported it. */
  address: string;
  /** UDP port. */
  port: number;
}

/** One NACK the emulator received. */
export interface ReceivedNack {
  /** The decoded NACK; `nack.flags` tells whether it was proxied. */
  nack: DecodedNack;
  /** Where it came from (replies go there). */
  from: UdpPeer;
  /** `performance.now()` at arrival. */
  at: number;
}

/** A rate-limit tier of the `retry-endpoint` mode (see {@link RetryEndpointLimits}). */
export type RateLimitTier = 'ip' | 'sequence' | 'chain' | 'group';

/** NACKs each rate-limit tier dropped (answered with THROTTLED or with silence). */
export type RateLimitCounters = Record<RateLimitTier, number>;

/**
 * Counters of an {@link UpstreamEmulator}, as {@link UpstreamEmulator.stats} returns them.
 * `unanswered` counts every NACK that got no datagram back, whatever the reason; the
 * reason counters (`rangeDropped`, `rateLimited`, `suppressedMisses`, …) say why.
 */
export interface EmulatorStats {
  /** NACKs received and handled (recorded in `received`). */
  nacks: number;
  /** Datagrams of 64 bytes or more that are not a NACK (bad magic or message type; in a fault mode, anything the codec refuses). Ignored. */
  malformed: number;
  /** Datagrams shorter than 64 bytes. Ignored. */
  badLength: number;
  /**
   * `retry-endpoint`: datagrams longer than 64 bytes, handled as their first 64 bytes (the
   * server reads into a 64-byte buffer, and Linux cuts a longer datagram to fit).
   */
  truncated: number;
  /** Frames sent (including wrong and corrupt ones). */
  framesSent: number;
  /** ACKs sent. */
  acks: number;
  /** MISS responses sent. */
  misses: number;
  /** THROTTLED responses sent. */
  throttled: number;
  /** NACKs that got no datagram back (`silent`, `dropRate`, and every silent drop below). */
  unanswered: number;
  /** `retry-endpoint`: range NACKs (EndSeq ≠ StartSeq), dropped in silence. */
  rangeDropped: number;
  /** `retry-endpoint`: NACKs dropped by each rate-limit tier. */
  rateLimited: RateLimitCounters;
  /** `retry-endpoint`: misses left unanswered because of `suppressMiss`. */
  suppressedMisses: number;
  /** `retry-endpoint`: ACKs not sent because of `suppressAck`. */
  suppressedAcks: number;
}

/** Fresh, zeroed counters. */
export function emptyStats(): EmulatorStats {
  return {
    nacks: 0,
    malformed: 0,
    badLength: 0,
    truncated: 0,
    framesSent: 0,
    acks: 0,
    misses: 0,
    throttled: 0,
    unanswered: 0,
    rangeDropped: 0,
    rateLimited: { ip: 0, sequence: 0, chain: 0, group: 0 },
    suppressedMisses: 0,
    suppressedAcks: 0,
  };
}

/** A copy that later counting does not change. */
export function copyStats(stats: EmulatorStats): EmulatorStats {
  return { ...stats, rateLimited: { ...stats.rateLimited } };
}
