import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { decodeNack, type DecodedNack } from '../../wire/nack.js';
import { cacheKeyHex } from '../../wire/key.js';
import { buildFrame, type FrameSpec } from '../frames.js';
import { formatEndpoint } from '../loopback.js';
import { checkEmulatorOptions, resolveRetryEndpoint, type RetryEndpointConfig } from './config.js';
import { answerFault } from './faults.js';
import { frameKey } from './frame-key.js';
import type { EmulatorBehaviour, EmulatorOptions } from './options.js';
import {
  copyStats,
  emptyStats,
  type EmulatorStats,
  type ReceivedNack,
  type UdpPeer,
} from './records.js';
import { RetryEndpointServer, readAsServer } from './retry-endpoint.js';
import { bind, closeSocket } from './sockets.js';
import { NackWaiters } from './waiters.js';

/**
 * A real BRC-126 upstream retry endpoint on loopback UDP. By default it answers as the
 * reference server does (mode `retry-endpoint`: frame copy from a second socket, then the
 * ACK; silent rate limits with the server's defaults); other modes inject faults. It
 * records what it received and counts what it did.
 *
 * @example
 * ```ts
 * const upstream = await UpstreamEmulator.start({ frames: [buildFrame({ hashKey: 1n, seq: 5n })] });
 * const client = new ProxyClient({ upstreams: [upstream.endpoint], cache, retransmitter });
 * client.enqueue({ hashKey: 1n, startSeq: 5n });
 * await client.onIdle();
 * expect(upstream.stats()).toMatchObject({ nacks: 1, framesSent: 1, acks: 1 });
 * await upstream.close();
 * ```
 */
export class UpstreamEmulator {
  /** NACKs received, oldest first (at most `recordLimit`). */
  readonly received: ReceivedNack[] = [];
  /** Address of the unicast-retransmit socket the `retry-endpoint` frame copies come from. */
  readonly unicastHost: string;
  /** Port of that socket (ephemeral, fixed for the emulator's life, as on the server). */
  readonly unicastPort: number;
  private readonly counters = emptyStats();
  private readonly frames = new Map<string, Uint8Array>();
  private readonly perGap = new Map<string, EmulatorBehaviour>();
  private readonly throttleCounts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new NackWaiters();
  private readonly server: RetryEndpointServer;
  private behaviour: EmulatorBehaviour;
  private rng: number;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly unicastSocket: Socket,
    /** Address the emulator listens on. */
    readonly host: string,
    /** UDP port the emulator listens on (its NACK port). */
    readonly port: number,
    config: RetryEndpointConfig,
    private readonly options: EmulatorOptions,
  ) {
    this.unicastHost = config.unicastHost;
    this.unicastPort = unicastSocket.address().port;
    this.behaviour = withMode(options.behaviour);
    this.rng = (options.seed ?? 1) >>> 0 || 1;
    for (const f of options.frames ?? []) this.put(f);
    this.server = new RetryEndpointServer(config, {
      stats: this.counters,
      frame: (hashKey, seq) => this.frames.get(cacheKeyHex(hashKey, seq)),
      reply: (bytes, to) => this.send(this.socket, bytes, to),
      unicast: (bytes, to, done) => this.send(this.unicastSocket, bytes, to, done),
    });
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // A send to a vanished client can surface as a socket error; it must not crash tests.
    socket.on('error', () => undefined);
    unicastSocket.on('error', () => undefined);
  }

  /**
   * Starts an emulator listening on loopback.
   * @throws (rejects with) TypeError / RangeError with a Node-style `code` naming a bad or
   * unknown option (`host` not an IP address, for one); the bind error when a port or
   * address is not available.
   */
  static async start(options: EmulatorOptions = {}): Promise<UpstreamEmulator> {
    const host = checkEmulatorOptions(options);
    const family = isIP(host);
    const config = resolveRetryEndpoint(options.retryEndpoint, host);
    const type = family === 6 ? 'udp6' : 'udp4';
    const main = createSocket({ type });
    const unicast = createSocket({ type });
    try {
      await bind(main, host, options.port ?? 0);
      await bind(unicast, config.unicastHost, 0);
    } catch (err) {
      // Leave no socket open behind a failed start.
      await Promise.all([closeSocket(main), closeSocket(unicast)]);
      throw err;
    }
    return new UpstreamEmulator(main, unicast, host, main.address().port, config, options);
  }

  /** `host:port` (`[v6]:port`) to put in `upstreams`. */
  get endpoint(): string {
    return formatEndpoint(this.host, this.port);
  }

  /** A snapshot of the counters of what the emulator received and sent. */
  stats(): EmulatorStats {
    return copyStats(this.counters);
  }

  /** Frames held. */
  get size(): number {
    return this.frames.size;
  }

  /**
   * Holds `frame` (a full data frame, any FrameVer but legacy, bundles included) so NACKs
   * for it are served byte for byte. Like the server's cache it keeps opaque bytes, keyed
   * by the HashKey at 40 and the SeqNum at 48.
   * @throws WireError when the frame is too short, has a wrong magic or is a legacy frame.
   */
  put(frame: Uint8Array): void {
    const { hashKey, seq } = frameKey(frame);
    this.frames.set(cacheKeyHex(hashKey, seq), frame);
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
    this.behaviour = withMode(behaviour);
  }

  /** Gives one gap its own behaviour. */
  setGapBehaviour(hashKey: bigint, seq: bigint, behaviour: EmulatorBehaviour): void {
    this.perGap.set(cacheKeyHex(hashKey, seq), withMode(behaviour));
  }

  /** NACKs received for one gap. */
  nacksFor(hashKey: bigint, seq: bigint): ReceivedNack[] {
    return this.received.filter((r) => r.nack.hashKey === hashKey && r.nack.startSeq === seq);
  }

  /**
   * Resolves with {@link UpstreamEmulator.received} once at least `count` NACKs arrived in
   * total (without `delayMs`, each one's outcome is counted by then); rejects after
   * `timeoutMs` or when the emulator closes. UDP is asynchronous, so tests that send NACKs
   * themselves wait with this instead of sleeping.
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
    return this.waiters.wait(count, timeoutMs, () => this.counters.nacks, this.received);
  }

  /** Stops listening, cancels pending replies and rejects pending waits. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.waiters.rejectAll(new Error('emulator is closed'));
    await Promise.all([closeSocket(this.socket), closeSocket(this.unicastSocket)]);
  }

  /** Same as {@link UpstreamEmulator.close}, for `await using upstream = await UpstreamEmulator.start()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const read = readAsServer(msg);
    if (read.kind !== 'nack') {
      if (read.kind === 'short') this.counters.badLength++;
      else this.counters.malformed++;
      return;
    }
    const key = cacheKeyHex(read.nack.hashKey, read.nack.startSeq);
    const b = this.perGap.get(key) ?? this.behaviour;
    let nack: DecodedNack = read.nack;
    if (b.mode === 'retry-endpoint') {
      if (read.truncated) this.counters.truncated++;
    } else {
      try {
        nack = decodeNack(msg); // the fault modes keep the codec's strict checks
      } catch {
        this.counters.malformed++;
        return;
      }
    }
    const from = { address: rinfo.address, port: rinfo.port };
    this.counters.nacks++;
    if (this.received.length < (this.options.recordLimit ?? 100_000)) {
      this.received.push({ nack, from, at: performance.now() });
    }
    if ((b.dropRate ?? 0) > 0 && this.random() < (b.dropRate ?? 0)) {
      this.counters.unanswered++;
    } else if ((b.delayMs ?? 0) > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.closed) this.answer(nack, key, b, from);
      }, b.delayMs);
      this.timers.add(t);
    } else {
      this.answer(nack, key, b, from);
    }
    this.waiters.wake(this.counters.nacks);
  }

  private answer(nack: DecodedNack, key: string, b: EmulatorBehaviour, to: UdpPeer): void {
    if (b.mode === 'retry-endpoint') return this.server.handle(nack, to);
    answerFault(
      {
        stats: this.counters,
        send: (bytes, peer) => this.send(this.socket, bytes, peer),
        nextThrottle: (k) => {
          const n = this.throttleCounts.get(k) ?? 0;
          this.throttleCounts.set(k, n + 1);
          return n;
        },
      },
      b,
      nack,
      key,
      this.frames.get(key),
      to,
    );
  }

  private send(
    socket: Socket,
    bytes: Uint8Array,
    to: UdpPeer,
    done?: (sent: boolean) => void,
  ): void {
    if (this.closed) return;
    socket.send(bytes, to.port, to.address, (err) => {
      if (!this.closed) done?.(err === null || err === undefined);
    });
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

function withMode(behaviour: EmulatorBehaviour | undefined): EmulatorBehaviour {
  return { ...behaviour, mode: behaviour?.mode ?? 'retry-endpoint' };
}
