import { bindUdp } from '../shared/bind.js';
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { RESPONSE_SIZE } from '../wire/constants.js';
import { decodeFrameHeader } from '../wire/frame.js';
import { encodeNack, type Nack } from '../wire/nack.js';
import { decodeResponse, type NackResponse } from '../wire/response.js';
import type { UdpPeer } from './emulator.js';
import { loopbackAddress } from './loopback.js';

/**
 * Which of a {@link TestConsumer}'s two sockets a datagram arrived on, or a NACK leaves from:
 * `'domain'`, the main socket at {@link TestConsumer.address} (where a retransmitter's
 * domain path is pointed in tests, and where NACKs go from by default); `'unicast'`, the
 * socket at {@link TestConsumer.requester} (where unicast copies for a requester arrive).
 */
export type ConsumerPath = 'domain' | 'unicast';

/** A datagram a {@link TestConsumer} received, classified. */
export type ConsumerDatagram =
  | {
      /** A MISS, ACK or THROTTLED response. */
      kind: 'response';
      /** The decoded response. */
      response: NackResponse;
      /** Sender. */
      from: UdpPeer;
      /** The consumer socket it arrived on. */
      via: ConsumerPath;
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
      /** The consumer socket it arrived on: `'unicast'` for a copy sent to the requester. */
      via: ConsumerPath;
    }
  | {
      /** Anything else. */
      kind: 'other';
      /** The whole datagram. */
      bytes: Buffer;
      /** Sender. */
      from: UdpPeer;
      /** The consumer socket it arrived on. */
      via: ConsumerPath;
    };

/** Options of {@link TestConsumer.open}. */
export interface TestConsumerOptions {
  /**
   * Address the unicast (requester) socket binds to, e.g. `'127.0.0.2'` for a requester on
   * "another host" of the loopback network (Linux routes all of `127.0.0.0/8` to `lo`).
   * @default the host of the domain socket
   */
  unicastHost?: string;
}

/** Options of {@link TestConsumer.nack} and {@link TestConsumer.send}. */
export interface ConsumerSendOptions {
  /**
   * The socket to send from. A relay that passes its NACK socket's `rinfo` as the gap's
   * requester sends the unicast copy back to it, so `'unicast'` makes such copies arrive at
   * {@link TestConsumer.requester} (with the relay's responses).
   * @default 'domain'
   */
  from?: ConsumerPath;
}

interface Waiter {
  readonly match: (d: ConsumerDatagram) => boolean;
  readonly resolve: (d: ConsumerDatagram) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A consumer on loopback UDP for end-to-end tests of a relay (a host's NACK server): it sends
 * NACKs, receives responses and frames, and hands them out in arrival order with
 * {@link TestConsumer.next}.
 *
 * It has two sockets, as a real listener has a group socket and a NACK socket: the domain
 * socket ({@link TestConsumer.address}), where a retransmitter's domain (multicast) path is
 * pointed in tests and where NACKs go from by default, and the unicast socket
 * ({@link TestConsumer.requester}), whose address is a gap's `requester` for unicast delivery.
 * Every datagram records the socket it arrived on (`via`), so a test tells a unicast copy
 * from a domain retransmit.
 *
 * @example
 * ```ts
 * const consumer = await TestConsumer.open();
 * consumer.nack(relayAddress, { hashKey: 1n, startSeq: 42n });
 * const first = await consumer.next(); // e.g. { kind: 'response', response: { kind: 'miss' } }
 * const frame = await consumer.next((d) => d.kind === 'frame' && d.seq === 42n);
 * await consumer.close();
 * ```
 * @example Unicast delivery to the requester
 * ```ts
 * client.enqueue({ hashKey: 1n, startSeq: 42n, requester: consumer.requester });
 * const copy = await consumer.next((d) => d.kind === 'frame' && d.via === 'unicast');
 * ```
 */
export class TestConsumer {
  /** Every datagram received on either socket, in order (at most 100,000). */
  readonly received: ConsumerDatagram[] = [];
  private readonly unread: ConsumerDatagram[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly domainPeer: UdpPeer;
  private readonly unicastPeer: UdpPeer;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly unicastSocket: Socket,
  ) {
    // Kept, so that both stay readable after close().
    this.domainPeer = peerOf(socket);
    this.unicastPeer = peerOf(unicastSocket);
    for (const [s, via] of [
      [socket, 'domain'],
      [unicastSocket, 'unicast'],
    ] as const) {
      s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, via));
      // A send to a closed port can surface as a socket error; tests see it as silence.
      s.on('error', () => undefined);
    }
  }

  /**
   * Binds the consumer's domain socket on `host` and its unicast socket on
   * `options.unicastHost` (default `host`), both on port 0.
   * @param host - @default the result of `loopbackAddress()`
   */
  static async open(host?: string, options: TestConsumerOptions = {}): Promise<TestConsumer> {
    const address = host ?? (await loopbackAddress());
    const socket = await bindSocket(address);
    try {
      return new TestConsumer(socket, await bindSocket(options.unicastHost ?? address));
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  /** Where the consumer receives domain traffic: give it to a relay as a retransmit destination. */
  get address(): UdpPeer {
    return { ...this.domainPeer };
  }

  /**
   * Where the consumer receives unicast copies: pass it as a gap's `requester`
   * (`client.enqueue({ ...gap, requester: consumer.requester })`), or send NACKs from it
   * (`nack(relay, gap, { from: 'unicast' })`) to a relay that passes its NACK socket's
   * `rinfo` as the requester. Datagrams arriving here have `via: 'unicast'`.
   */
  get requester(): UdpPeer {
    return { ...this.unicastPeer };
  }

  /** Sends a NACK for `gap` to `to`, from the domain socket unless `options.from` says otherwise. */
  nack(to: UdpPeer, gap: Nack, options?: ConsumerSendOptions): void {
    this.send(to, encodeNack(gap), options);
  }

  /** Sends raw bytes to `to` (e.g. a malformed NACK), from the domain socket by default. */
  send(to: UdpPeer, bytes: Uint8Array, options: ConsumerSendOptions = {}): void {
    if (this.closed) return;
    const socket = options.from === 'unicast' ? this.unicastSocket : this.socket;
    socket.send(bytes, to.port, to.address);
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

  /** Closes both sockets and rejects pending waits. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('consumer is closed'));
    }
    this.waiters.clear();
    await Promise.all(
      [this.socket, this.unicastSocket].map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      ),
    );
  }

  private onMessage(
    msg: Buffer,
    rinfo: { address: string; port: number },
    via: ConsumerPath,
  ): void {
    const d = classify(msg, { address: rinfo.address, port: rinfo.port }, via);
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

function classify(msg: Buffer, from: UdpPeer, via: ConsumerPath): ConsumerDatagram {
  try {
    if (msg.length === RESPONSE_SIZE)
      return { kind: 'response', response: decodeResponse(msg), from, via };
    const h = decodeFrameHeader(msg);
    return { kind: 'frame', hashKey: h.hashKey, seq: h.seq, frame: msg, from, via };
  } catch {
    return { kind: 'other', bytes: msg, from, via };
  }
}

function peerOf(socket: Socket): UdpPeer {
  const a = socket.address();
  return { address: a.address, port: a.port };
}

/** A UDP socket bound to `address`, port 0. */
function bindSocket(address: string): Promise<Socket> {
  return bindUdp(isIP(address) === 4 ? 4 : 6, address);
}
