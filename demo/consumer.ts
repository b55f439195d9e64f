import type { Socket } from 'node:dgram';
import { encodeNack } from '../src/index.js';
import { RESPONSE_SIZE } from '../src/wire/index.js';
import { FRAME_HEADER_SIZE } from '../src/wire/constants.js';
import { RECV_BUFFER_BYTES, bindSocket, type Bound } from '../examples/relay.js';
import { gapKey, type Stream } from './stream.js';

/** How a gap got filled, told apart by the port the frame came from. */
export type FillPath = 'cache' | 'recovered' | 'late';

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
 * A consumer in the downstream domain: receives the stream, notices gaps from jumps in each
 * flow's sequence numbers (and, at the end, from the known last sequence number), NACKs each
 * gap at the relay, re-NACKs with backoff while it stays open, and records how it filled.
 */
export class Consumer {
  readonly gaps = new Map<string, Gap>();
  readonly open = new Set<Gap>();
  nacksSent = 0;
  duplicates = 0;
  misses = 0;
  private readonly next = new Map<bigint, bigint>();
  private readonly have = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private sources: Sources | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly stream: Stream,
  ) {
    for (const hashKey of stream.lastSeq.keys()) this.next.set(hashKey, 1n);
    socket.on('message', (msg, from) => this.onDatagram(msg, from.port));
    this.timer = setInterval(() => this.renack(), 50);
  }

  static async open(host: string, stream: Stream): Promise<Consumer> {
    const socket = await bindSocket(host, 0);
    socket.setRecvBufferSize(RECV_BUFFER_BYTES); // the stream arrives in bursts, as at the relay
    return new Consumer(socket, stream);
  }

  get address(): Bound {
    return this.socket.address();
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

  close(): Promise<void> {
    clearInterval(this.timer);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onDatagram(msg: Buffer, fromPort: number): void {
    if (msg.length === RESPONSE_SIZE) {
      if (msg[6] === 0x11) this.misses++; // MISS: the frame will come via the domain, if at all
      return;
    }
    if (msg.length < FRAME_HEADER_SIZE) return;
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
      gap.path = this.pathOf(fromPort);
      this.open.delete(gap);
      return;
    }
    for (let s = next; s < seq; s++) this.detect(hashKey, s);
    if (seq >= next) this.next.set(hashKey, seq + 1n);
  }

  private pathOf(port: number): FillPath {
    if (port === this.sources?.relayNack.port) return 'cache';
    if (port === this.sources?.relayDomain.port) return 'recovered';
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
    this.socket.send(encodeNack({ hashKey: gap.hashKey, startSeq: gap.seq }), port, address);
  }
}
