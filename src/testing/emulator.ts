import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { decodeNack, type DecodedNack } from '../wire/nack.js';
import { encodeResponse } from '../wire/response.js';
import { decodeFrameHeader } from '../wire/frame.js';
import { cacheKeyHex } from '../wire/key.js';
import { buildFrame, malformedFrame, type FrameSpec } from './frames.js';
import { formatEndpoint } from './loopback.js';

/**
 * How the emulator answers a NACK.
 * - `serve`: ACK, then the frame by unicast (MISS when it does not hold the frame)
 * - `frame-first`: the frame, then the ACK
 * - `ack-only`: an ACK but never the frame
 * - `miss`: MISS whatever it holds
 * - `silent`: nothing at all
 * - `throttle`: THROTTLED (`throttleTimes` per gap, then serves)
 * - `wrong-frame`: ACK plus a valid frame for the next sequence number
 * - `corrupt`: ACK plus the frame with a broken magic number
 * - `other-port`: ACK and frame, but sent from another port
 *
 * Every mode except `miss` and `silent` answers MISS for a frame the emulator does not hold.
 */
export type EmulatorMode =
  | 'serve'
  | 'frame-first'
  | 'ack-only'
  | 'miss'
  | 'silent'
  | 'throttle'
  | 'wrong-frame'
  | 'corrupt'
  | 'other-port';

/**
 * Behaviour of an {@link UpstreamEmulator}, for all gaps or one.
 *
 * @example
 * ```ts
 * upstream.setBehaviour({ mode: 'serve', delayMs: 50, dropRate: 0.2 }); // slow and lossy
 * upstream.setGapBehaviour(1n, 42n, { mode: 'throttle', throttleTimes: 2 });
 * ```
 */
export interface EmulatorBehaviour {
  /** How NACKs are answered. @default 'serve' */
  mode?: EmulatorMode;
  /** Hold before answering, in ms. @default 0 */
  delayMs?: number;
  /** Share of NACKs left unanswered, 0..1 (deterministic for a given `seed`). @default 0 */
  dropRate?: number;
  /** THROTTLED backoff bucket (hold = 125 ms << bucket). @default 0 */
  throttleBucket?: number;
  /** THROTTLED replies per gap before serving. @default Infinity */
  throttleTimes?: number;
}

/** Options of {@link UpstreamEmulator.start}. */
export interface EmulatorOptions {
  /**
   * Loopback address to listen on; `loopbackAddress()` picks one this host supports.
   * @default '::1'
   */
  host?: string;
  /** UDP port; 0 picks a free one. @default 0 */
  port?: number;
  /** Frames held from the start. @default [] */
  frames?: Iterable<Uint8Array>;
  /** Initial behaviour. @default { mode: 'serve' } */
  behaviour?: EmulatorBehaviour;
  /** Seed of the reply-dropping generator. @default 1 */
  seed?: number;
  /** Most NACKs kept in `received` (counters keep counting). @default 100000 */
  recordLimit?: number;
}

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

/** Counters of an {@link UpstreamEmulator}. */
export interface EmulatorStats {
  /** Well-formed NACKs received. */
  nacks: number;
  /** Datagrams that did not decode as a NACK (ignored). */
  malformed: number;
  /** Frames sent (including wrong and corrupt ones). */
  framesSent: number;
  /** ACKs sent. */
  acks: number;
  /** MISS responses sent. */
  misses: number;
  /** THROTTLED responses sent. */
  throttled: number;
  /** NACKs left unanswered (`silent`, or dropped by `dropRate`). */
  unanswered: number;
}

interface NackWaiter {
  readonly count: number;
  readonly resolve: (received: ReceivedNack[]) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A real BRC-126 upstream retry endpoint on loopback UDP: holds frames, answers NACKs with
 * ACK plus a unicast frame, MISS or THROTTLED, can be told to misbehave, and records what it
 * received.
 *
 * @example
 * ```ts
 * const upstream = await UpstreamEmulator.start({ frames: [buildFrame({ hashKey: 1n, seq: 5n })] });
 * const client = new ProxyClient({ upstreams: [upstream.endpoint], cache, retransmitter });
 * client.enqueue({ hashKey: 1n, startSeq: 5n });
 * await client.onIdle();
 * expect(upstream.received).toHaveLength(1);
 * await upstream.close();
 * ```
 */
export class UpstreamEmulator {
  /** NACKs received, oldest first (at most `recordLimit`). */
  readonly received: ReceivedNack[] = [];
  private readonly counters: EmulatorStats = {
    nacks: 0,
    malformed: 0,
    framesSent: 0,
    acks: 0,
    misses: 0,
    throttled: 0,
    unanswered: 0,
  };
  private readonly frames = new Map<string, Uint8Array>();
  private readonly perGap = new Map<string, EmulatorBehaviour>();
  private readonly throttleCounts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Set<NackWaiter>();
  private behaviour: EmulatorBehaviour;
  private rng: number;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly otherSocket: Socket,
    /** Address the emulator listens on. */
    readonly host: string,
    /** UDP port the emulator listens on. */
    readonly port: number,
    private readonly options: EmulatorOptions,
  ) {
    this.behaviour = { mode: 'serve', ...options.behaviour };
    this.rng = (options.seed ?? 1) >>> 0 || 1;
    for (const f of options.frames ?? []) this.put(f);
    socket.on('message', (msg, rinfo) => this.onNack(msg, rinfo));
    // A send to a vanished client can surface as a socket error; it must not crash tests.
    socket.on('error', () => undefined);
    otherSocket.on('error', () => undefined);
  }

  /**
   * Starts an emulator listening on loopback.
   * @throws TypeError when `host` is not an IP address; the bind error when the port is taken.
   */
  static async start(options: EmulatorOptions = {}): Promise<UpstreamEmulator> {
    const host = options.host ?? '::1';
    const family = isIP(host);
    if (family === 0) throw new TypeError(`emulator host must be an IP address, got ${host}`);
    const type = family === 6 ? 'udp6' : 'udp4';
    const main = createSocket({ type });
    const other = createSocket({ type });
    try {
      await bind(main, host, options.port ?? 0);
      await bind(other, host, 0);
    } catch (err) {
      // Leave no socket open behind a failed start.
      await Promise.all([closeSocket(main), closeSocket(other)]);
      throw err;
    }
    return new UpstreamEmulator(main, other, host, main.address().port, options);
  }

  /** `host:port` (`[v6]:port`) to put in `upstreams`. */
  get endpoint(): string {
    return formatEndpoint(this.host, this.port);
  }

  /** Counters of what the emulator received and sent. */
  get stats(): EmulatorStats {
    return { ...this.counters };
  }

  /** Frames held. */
  get size(): number {
    return this.frames.size;
  }

  /**
   * Holds `frame` (a full data frame) so NACKs for it are served.
   * @throws WireError when the frame does not decode (legacy frames cannot be NACKed).
   */
  put(frame: Uint8Array): void {
    const h = decodeFrameHeader(frame);
    this.frames.set(cacheKeyHex(h.hashKey, h.seq), frame);
  }

  /** Builds (with {@link buildFrame}) and holds frames for `hashKey` and every seq in `first..last`. */
  putRange(
    hashKey: bigint,
    first: bigint,
    last: bigint,
    rest: Omit<FrameSpec, 'hashKey' | 'seq'> = {},
  ): void {
    for (let s = first; s <= last; s++) this.put(buildFrame({ ...rest, hashKey, seq: s }));
  }

  /** True when the emulator holds the frame for this gap. */
  has(hashKey: bigint, seq: bigint): boolean {
    return this.frames.has(cacheKeyHex(hashKey, seq));
  }

  /** Forgets a held frame. */
  remove(hashKey: bigint, seq: bigint): void {
    this.frames.delete(cacheKeyHex(hashKey, seq));
  }

  /** Changes the behaviour for every gap without its own. */
  setBehaviour(behaviour: EmulatorBehaviour): void {
    this.behaviour = { mode: 'serve', ...behaviour };
  }

  /** Gives one gap its own behaviour. */
  setGapBehaviour(hashKey: bigint, seq: bigint, behaviour: EmulatorBehaviour): void {
    this.perGap.set(cacheKeyHex(hashKey, seq), { mode: 'serve', ...behaviour });
  }

  /** NACKs received for one gap. */
  nacksFor(hashKey: bigint, seq: bigint): ReceivedNack[] {
    return this.received.filter((r) => r.nack.hashKey === hashKey && r.nack.startSeq === seq);
  }

  /**
   * Resolves with {@link UpstreamEmulator.received} once at least `count` NACKs arrived in
   * total; rejects after `timeoutMs` or when the emulator closes. UDP is asynchronous, so
   * tests that send NACKs themselves wait with this instead of sleeping.
   *
   * @param timeoutMs - how long to wait. @default 2000
   * @example
   * ```ts
   * socket.send(encodeNack({ hashKey: 1n, startSeq: 5n }), upstream.port, upstream.host);
   * const [first] = await upstream.waitForNacks(1);
   * ```
   */
  waitForNacks(count: number, timeoutMs = 2000): Promise<ReceivedNack[]> {
    if (this.counters.nacks >= count) return Promise.resolve(this.received);
    if (this.closed) return Promise.reject(new Error('emulator is closed'));
    return new Promise((resolve, reject) => {
      const waiter: NackWaiter = {
        count,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new Error(`emulator got ${this.counters.nacks} of ${count} NACKs in ${timeoutMs} ms`),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Stops listening, cancels pending replies and rejects pending waits. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('emulator is closed'));
    }
    this.waiters.clear();
    await Promise.all([closeSocket(this.socket), closeSocket(this.otherSocket)]);
  }

  private onNack(msg: Buffer, rinfo: RemoteInfo): void {
    let nack: DecodedNack;
    try {
      nack = decodeNack(msg);
    } catch {
      this.counters.malformed++;
      return;
    }
    this.counters.nacks++;
    if (this.received.length < (this.options.recordLimit ?? 100_000)) {
      const from = { address: rinfo.address, port: rinfo.port };
      this.received.push({ nack, from, at: performance.now() });
    }
    this.wakeWaiters();
    const key = cacheKeyHex(nack.hashKey, nack.startSeq);
    const b = this.perGap.get(key) ?? this.behaviour;
    if ((b.dropRate ?? 0) > 0 && this.random() < (b.dropRate ?? 0)) {
      this.counters.unanswered++;
      return;
    }
    const delay = b.delayMs ?? 0;
    if (delay > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.answer(nack, key, b, rinfo);
      }, delay);
      this.timers.add(t);
    } else {
      this.answer(nack, key, b, rinfo);
    }
  }

  private answer(nack: DecodedNack, key: string, b: EmulatorBehaviour, to: RemoteInfo): void {
    if (this.closed) return;
    const seq = nack.startSeq;
    const frame = this.frames.get(key);
    const ack = encodeResponse({ kind: 'ack', seq, unicastSent: true });
    const mode = b.mode ?? 'serve';
    if (mode === 'silent') {
      this.counters.unanswered++;
      return;
    }
    if (mode === 'throttle') {
      const n = this.throttleCounts.get(key) ?? 0;
      if (n < (b.throttleTimes ?? Infinity)) {
        this.throttleCounts.set(key, n + 1);
        this.counters.throttled++;
        this.send(
          this.socket,
          encodeResponse({ kind: 'throttled', seq, bucket: b.throttleBucket ?? 0 }),
          to,
        );
        return;
      }
    }
    if (mode === 'miss' || frame === undefined) {
      this.counters.misses++;
      this.send(this.socket, encodeResponse({ kind: 'miss' }), to);
      return;
    }
    switch (mode) {
      case 'ack-only':
        this.counters.acks++;
        this.send(this.socket, ack, to);
        return;
      case 'frame-first':
        this.sendFrame(this.socket, frame, to);
        this.counters.acks++;
        this.send(this.socket, ack, to);
        return;
      case 'wrong-frame':
        this.counters.acks++;
        this.send(this.socket, ack, to);
        this.sendFrame(this.socket, buildFrame({ hashKey: nack.hashKey, seq: seq + 1n }), to);
        return;
      case 'corrupt':
        this.counters.acks++;
        this.send(this.socket, ack, to);
        this.sendFrame(
          this.socket,
          malformedFrame('bad-magic', { hashKey: nack.hashKey, seq }),
          to,
        );
        return;
      case 'other-port':
        this.counters.acks++;
        this.send(this.otherSocket, ack, to);
        this.sendFrame(this.otherSocket, frame, to);
        return;
      default:
        this.counters.acks++;
        this.send(this.socket, ack, to);
        this.sendFrame(this.socket, frame, to);
    }
  }

  private wakeWaiters(): void {
    for (const w of this.waiters) {
      if (this.counters.nacks < w.count) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(this.received);
    }
  }

  private sendFrame(socket: Socket, frame: Uint8Array, to: RemoteInfo): void {
    this.counters.framesSent++;
    this.send(socket, frame, to);
  }

  private send(socket: Socket, bytes: Uint8Array, to: RemoteInfo): void {
    if (this.closed) return;
    socket.send(bytes, to.port, to.address, () => undefined);
  }

  /** xorshift32: reproducible reply dropping. */
  private random(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 0x1_0000_0000;
  }
}

function bind(socket: Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
