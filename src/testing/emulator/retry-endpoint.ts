import { FLAG_PROXIED, MAGIC, MsgType, NACK_SIZE } from '../../wire/constants.js';
import type { DecodedNack } from '../../wire/nack.js';
import { encodeResponse } from '../../wire/response.js';
import type { RetryEndpointConfig } from './config.js';
import { TieredLimiter, groupOf } from './limits.js';
import type { EmulatorStats, RateLimitTier, UdpPeer } from './records.js';

/** What the server's reader makes of a datagram. */
export type ServerRead =
  | { kind: 'nack'; nack: DecodedNack; truncated: boolean }
  | { kind: 'short' }
  | { kind: 'malformed' };

/**
 * Reads a datagram as the reference server does: into a 64-byte buffer (Linux cuts a longer
 * datagram to fit, so its first 64 bytes count), then checks the magic and the message type
 * only (not the protocol version, nor the order of StartSeq and EndSeq).
 */
export function readAsServer(datagram: Uint8Array): ServerRead {
  if (datagram.length < NACK_SIZE) return { kind: 'short' };
  const view = new DataView(datagram.buffer, datagram.byteOffset, NACK_SIZE);
  if (view.getUint32(0) !== MAGIC || view.getUint8(6) !== MsgType.Nack) {
    return { kind: 'malformed' };
  }
  return {
    kind: 'nack',
    truncated: datagram.length > NACK_SIZE,
    nack: {
      flags: view.getUint8(7),
      hashKey: view.getBigUint64(8),
      startSeq: view.getBigUint64(16),
      endSeq: view.getBigUint64(24),
      subtreeId: datagram.slice(32, NACK_SIZE),
    },
  };
}

/** The emulator's sockets, frames and counters, as the server logic needs them. */
export interface EndpointIo {
  readonly stats: EmulatorStats;
  /** The held frame for a gap, if any. */
  frame(hashKey: bigint, seq: bigint): Uint8Array | undefined;
  /** Sends from the NACK port. */
  reply(bytes: Uint8Array, to: UdpPeer): void;
  /** Sends from the unicast-retransmit socket; `done(true)` once the kernel took it. */
  unicast(bytes: Uint8Array, to: UdpPeer, done: (sent: boolean) => void): void;
}

/** THROTTLED backoff bucket per tier: hold 500 ms, 1 s, 2 s (the IP tier never answers). */
const THROTTLE_BUCKET: Record<Exclude<RateLimitTier, 'ip'>, number> = {
  sequence: 2,
  chain: 3,
  group: 4,
};

/** The reply logic of the reference server for one NACK port. */
export class RetryEndpointServer {
  private readonly limiter: TieredLimiter;

  constructor(
    private readonly config: RetryEndpointConfig,
    private readonly io: EndpointIo,
  ) {
    this.limiter = new TieredLimiter(config.limits);
  }

  handle(nack: DecodedNack, from: UdpPeer): void {
    const stats = this.io.stats;
    const seq = nack.startSeq;
    // Only single-frame NACKs are served; a range is reserved for later and dropped.
    if (nack.endSeq !== seq) {
      stats.rangeDropped++;
      stats.unanswered++;
      return;
    }
    const now = this.config.clock();
    const tier = this.limiter.beforeLookup(from.address, nack.hashKey, seq, now);
    if (tier !== undefined) return this.limited(tier, seq, from);

    const frame = this.io.frame(nack.hashKey, seq);
    if (frame === undefined) {
      if (this.config.suppressMiss) {
        stats.suppressedMisses++;
        stats.unanswered++;
      } else {
        stats.misses++;
        this.io.reply(encodeResponse({ kind: 'miss' }), from);
      }
      return;
    }
    const group = groupOf(frame, this.config.shardBits);
    if (!this.limiter.allowGroup(from.address, group, now)) return this.limited('group', seq, from);

    // A proxied NACK always gets a unicast copy: the asking endpoint is not in our groups.
    const unicast = (nack.flags & FLAG_PROXIED) !== 0 || this.config.unicast;
    const multicast = this.config.multicast;
    if (!unicast) return this.ack(seq, multicast, false, multicast, from);
    stats.framesSent++;
    // The frame goes first, from the other socket; the ACK follows once it left.
    this.io.unicast(frame, from, (sent) => this.ack(seq, multicast, sent, true, from));
  }

  /** ACKs what was sent; stays quiet when a send was attempted and nothing went out. */
  private ack(
    seq: bigint,
    multicastSent: boolean,
    unicastSent: boolean,
    attempted: boolean,
    to: UdpPeer,
  ): void {
    const stats = this.io.stats;
    const sentSomething = multicastSent || unicastSent;
    if (attempted && !sentSomething) {
      stats.unanswered++;
      return;
    }
    if (this.config.suppressAck) {
      stats.suppressedAcks++;
      if (!unicastSent) stats.unanswered++;
      return;
    }
    stats.acks++;
    this.io.reply(encodeResponse({ kind: 'ack', seq, multicastSent, unicastSent }), to);
  }

  private limited(tier: RateLimitTier, seq: bigint, to: UdpPeer): void {
    const stats = this.io.stats;
    stats.rateLimited[tier]++;
    // The IP tier is the flood guard: it never answers, so a spoofed source gets nothing.
    if (tier === 'ip' || !this.config.throttleResponse) {
      stats.unanswered++;
      return;
    }
    stats.throttled++;
    this.io.reply(encodeResponse({ kind: 'throttled', seq, bucket: THROTTLE_BUCKET[tier] }), to);
  }
}
