import type { Socket } from 'node:dgram';
import { encodeNack } from '../src/index.js';
import { RESPONSE_SIZE } from '../src/wire/index.js';
import { FRAME_HEADER_SIZE } from '../src/wire/constants.js';
import { RECV_BUFFER_BYTES, bindSocket, type Bound } from '../examples/relay.js';
import { gapKey, type Stream } from './stream.js';

/**
 * How a gap got filled, told apart by the port the frame came from and the consumer socket
 * it arrived on: `recovered` is the relay's retransmit into the domain (multicast), `unicast`
 * its copy to the consumer's NACK socket (`--unicast`).
 */
export type FillPath = 'cache' | 'recovered' | 'unicast' | 'late';

/** Which consumer socket a datagram arrived on. */
type Via = 'domain' | 'nack';

/** One missing frame as the consumer tracks it. */
export interface Gap {
  hashKey: bigint;
  seq: bigint;
  detectedAt: number;
  lastNackAt: number;
  nacks: number;
  filledAt?: number;
  path?: FillPath;
}

/** Ports the consumer uses to tell where a frame came from. */
export interface Sources {
  /** The relay's NACK server: frames from it were served from the relay's cache. */
  relayNack: Bound;
  /** The relay's retransmit socket: frames from it were recovered through upstreams. */
  relayDomain: Bound;
}

/** First re-NACK after this long; each further one waits twice as long, up to the cap. */
const RETRY_MS = 200;
const RETRY_CAP_MS = 3200;
/** Re-NACKs sent per tick at most, so a burst of gaps cannot flood the relay. */
const NACKS_PER_TICK = 500;

/**
 * A consumer in the downstream domain: receives the stream on its domain socket, notices gaps
 * from jumps in each flow's sequence numbers (and, at the end, from the known last sequence
 * number), NACKs each gap at the relay from its NACK socket, re-NACKs with backoff while it
 * stays open, and records how it filled. As a real listener, it has a group (domain) socket
 * and a NACK socket: the relay answers NACKs, and sends unicast copies, to the NACK socket
 * (the requester of the gaps it enqueues).
 */
export class Consumer {
  readonly gaps = new Map<string, Gap>();
  readonly open = new Set<Gap>();
  nacksSent = 0;
  duplicates = 0;
  misses = 0;
  /** Frames from the relay's retransmit socket, duplicates included, by the socket they reached. */
  readonly relayCopies = { multicast: 0, unicast: 0 };
  private readonly next = new Map<bigint, bigint>();
  private readonly have = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private sources: Sources | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly nackSocket: Socket,
    private readonly stream: Stream,
  ) {
    for (const hashKey of stream.lastSeq.keys()) this.next.set(hashKey, 1n);
    socket.on('message', (msg, from) => this.onDatagram(msg, from.port, 'domain'));
    nackSocket.on('message', (msg, from) => this.onDatagram(msg, from.port, 'nack'));
    this.timer = setInterval(() => this.renack(), 50);
  }

  static async open(host: string, stream: Stream): Promise<Consumer> {
    const socket = await bindSocket(host, 0);
    socket.setRecvBufferSize(RECV_BUFFER_BYTES); // the stream arrives in bursts, as at the relay
    const nackSocket = await bindSocket(host, 0);
    nackSocket.setRecvBufferSize(RECV_BUFFER_BYTES); // so do recovered frames, by unicast
    return new Consumer(socket, nackSocket, stream);
  }

  /** The domain (group) socket: where the stream and multicast retransmits arrive. */
  get address(): Bound {
    return this.socket.address();
  }

  /**
   * The NACK socket: the relay sees NACKs come from here, answers here, and sends unicast
   * copies of recovered frames here (it is the requester of the consumer's gaps).
   */
  get unicastAddress(): Bound {
    return this.nackSocket.address();
  }

  /** Tells the consumer where the relay is (known once the relay has started). */
  connect(sources: Sources): void {
    this.sources = sources;
  }

  /** The stream ended: every frame after the last one seen in a flow is a gap too. */
  endOfStream(): void {
    for (const [hashKey, last] of this.stream.lastSeq) {
      const next = this.next.get(hashKey) ?? 1n;
      for (let seq = next; seq <= last; seq++) this.detect(hashKey, seq);
      this.next.set(hashKey, last + 1n);
    }
  }

  filled(): Gap[] {
    return [...this.gaps.values()].filter((g) => g.filledAt !== undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(
      [this.socket, this.nackSocket].map((s) => new Promise<void>((r) => s.close(() => r()))),
    );
  }

  private onDatagram(msg: Buffer, fromPort: number, via: Via): void {
    if (msg.length === RESPONSE_SIZE) {
      if (msg[6] === 0x11) this.misses++; // MISS: the frame will come later (domain or unicast), if at all
      return;
    }
    if (msg.length < FRAME_HEADER_SIZE) return;
    if (fromPort === this.sources?.relayDomain.port) {
      this.relayCopies[via === 'nack' ? 'unicast' : 'multicast']++;
    }
    const hashKey = msg.readBigUInt64BE(40);
    const seq = msg.readBigUInt64BE(48);
    const next = this.next.get(hashKey);
    if (next === undefined) return; // not a flow of this stream
    const key = gapKey(hashKey, seq);
    if (this.have.has(key)) {
      this.duplicates++;
      return;
    }
    this.have.add(key);
    const gap = this.gaps.get(key);
    if (gap !== undefined) {
      gap.filledAt = performance.now();
      gap.path = this.pathOf(fromPort, via);
      this.open.delete(gap);
      return;
    }
    for (let s = next; s < seq; s++) this.detect(hashKey, s);
    if (seq >= next) this.next.set(hashKey, seq + 1n);
  }

  private pathOf(port: number, via: Via): FillPath {
    if (port === this.sources?.relayNack.port) return 'cache';
    if (port === this.sources?.relayDomain.port) return via === 'nack' ? 'unicast' : 'recovered';
    return 'late';
  }

  private detect(hashKey: bigint, seq: bigint): void {
    const key = gapKey(hashKey, seq);
    if (this.have.has(key) || this.gaps.has(key)) return;
    const now = performance.now();
    const gap: Gap = { hashKey, seq, detectedAt: now, lastNackAt: now, nacks: 0 };
    this.gaps.set(key, gap);
    this.open.add(gap);
    this.nack(gap, now);
  }

  private renack(): void {
    const now = performance.now();
    let budget = NACKS_PER_TICK;
    for (const gap of this.open) {
      const wait = Math.min(RETRY_CAP_MS, RETRY_MS * 2 ** (gap.nacks - 1));
      if (now - gap.lastNackAt < wait) continue;
      this.nack(gap, now);
      if (--budget === 0) return;
    }
  }

  private nack(gap: Gap, now: number): void {
    if (this.sources === undefined) return;
    gap.nacks++;
    gap.lastNackAt = now;
    this.nacksSent++;
    const { address, port } = this.sources.relayNack;
    this.nackSocket.send(encodeNack({ hashKey: gap.hashKey, startSeq: gap.seq }), port, address);
  }
}
