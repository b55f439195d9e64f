import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { RESPONSE_SIZE } from '../wire/constants.js';
import { decodeFrameHeader } from '../wire/frame.js';
import { encodeNack, type Nack } from '../wire/nack.js';
import { decodeResponse, type NackResponse } from '../wire/response.js';
import type { UdpPeer } from './emulator.js';
import { loopbackAddress } from './loopback.js';

/** A datagram a {@link TestConsumer} received, classified. */
export type ConsumerDatagram =
  | {
      /** A MISS, ACK or THROTTLED response. */
      kind: 'response';
      /** The decoded response. */
      response: NackResponse;
      /** Sender. */
      from: UdpPeer;
    }
  | {
      /** A data frame. */
      kind: 'frame';
      /** HashKey read from the frame. */
      hashKey: bigint;
      /** SeqNum read from the frame. */
      seq: bigint;
      /** The whole datagram. */
      frame: Buffer;
      /** Sender. */
      from: UdpPeer;
    }
  | {
      /** Anything else. */
      kind: 'other';
      /** The whole datagram. */
      bytes: Buffer;
      /** Sender. */
      from: UdpPeer;
    };

interface Waiter {
  readonly match: (d: ConsumerDatagram) => boolean;
  readonly resolve: (d: ConsumerDatagram) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A consumer on loopback UDP for end-to-end tests of a relay (a host's NACK server): it sends
 * NACKs, receives responses and frames on the same socket, and hands them out in arrival
 * order with {@link TestConsumer.next}.
 *
 * @example
 * ```ts
 * const consumer = await TestConsumer.open();
 * consumer.nack(relayAddress, { hashKey: 1n, startSeq: 42n });
 * const first = await consumer.next(); // e.g. { kind: 'response', response: { kind: 'miss' } }
 * const frame = await consumer.next((d) => d.kind === 'frame' && d.seq === 42n);
 * await consumer.close();
 * ```
 */
export class TestConsumer {
  /** Every datagram received, in order (at most 100,000). */
  readonly received: ConsumerDatagram[] = [];
  private readonly unread: ConsumerDatagram[] = [];
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // A send to a closed port can surface as a socket error; tests see it as silence.
    socket.on('error', () => undefined);
  }

  /**
   * Binds a consumer socket on `host`, port 0.
   * @param host - @default the result of `loopbackAddress()`
   */
  static async open(host?: string): Promise<TestConsumer> {
    const address = host ?? (await loopbackAddress());
    const socket = createSocket(isIP(address) === 4 ? 'udp4' : 'udp6');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new TestConsumer(socket);
  }

  /** Where the consumer receives: give it to a relay as a retransmit destination. */
  get address(): UdpPeer {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  /** Sends a NACK for `gap` to `to`. */
  nack(to: UdpPeer, gap: Nack): void {
    this.send(to, encodeNack(gap));
  }

  /** Sends raw bytes to `to` (e.g. a malformed NACK). */
  send(to: UdpPeer, bytes: Uint8Array): void {
    if (!this.closed) this.socket.send(bytes, to.port, to.address);
  }

  /**
   * The oldest unread datagram that `match` accepts (any, by default), waiting up to
   * `timeoutMs` for one to arrive. Datagrams it returns are not returned again.
   *
   * @param timeoutMs - @default 2000
   * @throws Error after `timeoutMs`, or when the consumer closes.
   */
  next(
    match: (d: ConsumerDatagram) => boolean = () => true,
    timeoutMs = 2000,
  ): Promise<ConsumerDatagram> {
    const at = this.unread.findIndex(match);
    if (at >= 0) return Promise.resolve(this.unread.splice(at, 1)[0] as ConsumerDatagram);
    if (this.closed) return Promise.reject(new Error('consumer is closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`no matching datagram within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Resolves true when nothing `match` accepts (any, by default) arrives within `ms`;
   * datagrams that arrive are left unread. Arguments in the order of {@link TestConsumer.next}.
   *
   * @param ms - @default 200
   */
  async quiet(match: (d: ConsumerDatagram) => boolean = () => true, ms = 200): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.unread.some(match);
  }

  /** Closes the socket and rejects pending waits. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('consumer is closed'));
    }
    this.waiters.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: { address: string; port: number }): void {
    const d = classify(msg, { address: rinfo.address, port: rinfo.port });
    if (this.received.length < 100_000) this.received.push(d);
    for (const w of this.waiters) {
      if (!w.match(d)) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(d);
      return;
    }
    this.unread.push(d);
  }
}

function classify(msg: Buffer, from: UdpPeer): ConsumerDatagram {
  try {
    if (msg.length === RESPONSE_SIZE)
      return { kind: 'response', response: decodeResponse(msg), from };
    const h = decodeFrameHeader(msg);
    return { kind: 'frame', hashKey: h.hashKey, seq: h.seq, frame: msg, from };
  } catch {
    return { kind: 'other', bytes: msg, from };
  }
}
