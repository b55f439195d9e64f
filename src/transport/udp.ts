import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { MAGIC, MsgType, PROTO_VER, RESPONSE_SIZE } from '../wire/constants.js';
import { decodeResponse } from '../wire/response.js';
import { matchFrame } from '../wire/match.js';
import { MAX_TIMER_MS, toError, within } from '../shared/within.js';
import { canonicalIp } from './address.js';
import { LinePool, closeLine, openLine, type Line, type LineUser } from './lines.js';
import { Resolver, type Lookup, type Target } from './resolver.js';
import type { ExchangeOptions, Reply, Transport } from './transport.js';

export type { Lookup } from './resolver.js';

/**
 * Options of {@link UdpTransport}.
 *
 * @example
 * ```ts
 * // Source-bind NACKs to the address upstreams know this endpoint by.
 * const transport = new UdpTransport({ bindAddress: '2001:db8::20' });
 * ```
 */
export interface UdpTransportOptions {
  /**
   * Local address NACKs are sent from (the advertised NACK address). Its family decides
   * which upstreams are reachable; without it, IPv6 and IPv4 sockets are made as needed.
   * @default undefined (any address, ephemeral port)
   */
  bindAddress?: string;
  /**
   * Makes a socket, for hosts that bring their own (options, instrumentation). The
   * transport binds it (to `bindAddress`, port 0) unless it is already bound, and closes it
   * on `close()`. Create it with `reuseAddr: true`: each connection to an upstream is a
   * pair of sockets sharing one local port (see {@link UdpTransportOptions.connected});
   * without it the transport falls back to unconnected sockets.
   * @default dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: true })
   */
  createSocket?: (family: 4 | 6) => Socket;
  /**
   * Connect a socket to each upstream, so a closed port (ICMP port unreachable) ends an
   * exchange at once instead of after its timeout. A second, unconnected socket on the
   * same local port receives the frame copy, which the reference server sends from
   * another port. Linux delivers datagrams to such a pair as needed (measured); elsewhere
   * the default is unconnected sockets.
   * @default process.platform === 'linux'
   */
  connected?: boolean;
  /**
   * Where a frame may come from. `'host'`: the asked upstream's address, any port (the
   * reference server sends it from its unicast-retransmit socket). `'any'`: any address,
   * for upstreams whose unicast source address differs from their NACK address.
   * ACK, MISS and THROTTLED count only from the asked address and port either way.
   * @default 'host'
   */
  frameSource?: 'host' | 'any';
  /**
   * Resolves upstream host names.
   * @default dns.promises.lookup
   */
  lookup?: Lookup;
  /**
   * How long a resolved host name is reused, in ms.
   * @default 30000
   */
  resolveTtlMs?: number;
  /**
   * After an exchange times out or is aborted, its connection is not used again for this
   * long, so a late MISS (which carries no sequence number) is never credited to a later
   * request.
   * @default 2000
   */
  lateReplyGuardMs?: number;
  /**
   * Idle connections (socket pairs) kept open per upstream; more are closed once idle.
   * @default 16
   */
  maxIdleSockets?: number;
}

const COUNTERS = [
  'sent',
  'foreignSource',
  'unsolicited',
  'malformed',
  'wrongGap',
  'legacyFrame',
  'mismatchedSeq',
  'acks',
  'lateReplies',
  'socketErrors',
  'unreachable',
  'rejectedFrames',
  'unconnectedLines',
  'trailingAcks',
] as const;

/**
 * Counters of {@link UdpTransport}: datagrams ignored by reason, and socket events.
 * - `sent`: NACKs sent
 * - `foreignSource`: datagrams from a source that may not answer (another host, or a
 *   16-byte response from another port)
 * - `unsolicited`: from the upstream, while nothing was asked on that connection
 * - `malformed`, `legacyFrame`, `wrongGap`, `mismatchedSeq`: not the requested frame or reply
 * - `acks`: ACKs received (the frame is a separate datagram)
 * - `lateReplies`: replies to an exchange that had already timed out or been aborted
 * - `socketErrors`: socket errors outside an exchange
 * - `unreachable`: exchanges ended by ICMP unreachable (a closed port)
 * - `rejectedFrames`: matching frames the client's content check refused
 * - `unconnectedLines`: connections opened unconnected (fallback or by option)
 * - `trailingAcks`: ACKs for a frame already received (the reference server sends the
 *   frame first): expected, and ignored
 */
export type UdpTransportStats = Record<(typeof COUNTERS)[number], number>;

/** The ICMP errors a connected UDP socket reports for an upstream that cannot be reached. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/**
 * Sends proxied NACKs over UDP (node:dgram) and waits for the frame, MISS or THROTTLED.
 *
 * Each upstream gets a small pool of connections, one exchange outstanding per connection
 * (a MISS carries no sequence number, so two requests on one connection could not be told
 * apart). A connection that timed out rests for `lateReplyGuardMs` before it is reused.
 * Frames are accepted from the asked host on any port (or any source with
 * `frameSource: 'any'`) when they carry the requested HashKey and SeqNum and are exactly
 * their header plus payload length; everything else is counted in {@link stats} and ignored.
 * Idle sockets do not keep the process alive.
 */
export class UdpTransport implements Transport {
  private readonly resolver: Resolver;
  private readonly pools = new Map<string, LinePool>();
  /** Every open line, busy or not. */
  private readonly lines = new Set<Line>();
  private readonly counters = Object.fromEntries(COUNTERS.map((n) => [n, 0])) as UdpTransportStats;
  private readonly bindAddress: string | undefined;
  private readonly bindFamily: 0 | 4 | 6;
  private readonly createSocket: ((family: 4 | 6) => Socket) | undefined;
  private readonly connected: boolean;
  private readonly anySource: boolean;
  private readonly lateReplyGuardMs: number;
  private readonly maxIdle: number;
  private isClosed = false;

  /** @throws TypeError or RangeError naming the option and the value. */
  constructor(options: UdpTransportOptions = {}) {
    const { bindAddress, frameSource = 'host' } = options;
    if (bindAddress !== undefined && isIP(bindAddress) === 0) {
      throw new TypeError(
        `nack-proxy: option bindAddress must be an IP address, got ${JSON.stringify(bindAddress)}`,
      );
    }
    if (frameSource !== 'host' && frameSource !== 'any') {
      throw new TypeError(
        `nack-proxy: option frameSource must be 'host' or 'any', got ${JSON.stringify(frameSource)}`,
      );
    }
    for (const name of ['connected'] as const) {
      const v = options[name];
      if (v !== undefined && typeof v !== 'boolean') {
        throw new TypeError(`nack-proxy: option ${name} must be a boolean, got ${String(v)}`);
      }
    }
    this.bindAddress = bindAddress;
    this.bindFamily = bindAddress === undefined ? 0 : (isIP(bindAddress) as 4 | 6);
    this.createSocket = options.createSocket;
    this.connected = options.connected ?? process.platform === 'linux';
    this.anySource = frameSource === 'any';
    this.lateReplyGuardMs = whole('lateReplyGuardMs', options.lateReplyGuardMs, 2000);
    this.maxIdle = whole('maxIdleSockets', options.maxIdleSockets, 16);
    this.resolver = new Resolver(
      options.lookup ?? ((host) => dnsLookup(host)),
      whole('resolveTtlMs', options.resolveTtlMs, 30_000),
    );
  }

  /** Counters of datagrams ignored by reason, and socket events. */
  stats(): UdpTransportStats {
    return { ...this.counters };
  }

  /** Open sockets (two per connection, one in unconnected mode), for tests and diagnostics. */
  get socketCount(): number {
    let n = 0;
    for (const line of this.lines) n += line.frames === undefined ? 1 : 2;
    return n;
  }

  /**
   * Sends one proxied NACK and resolves with the frame, MISS, THROTTLED, a timeout (an ACK
   * alone is not enough) or an error (`unreachable` for a closed port). Never rejects.
   */
  exchange(upstream: string, nack: Uint8Array, options: ExchangeOptions): Promise<Reply> {
    if (this.isClosed) return Promise.resolve({ kind: 'error', code: 'closed' });
    if (options.signal?.aborted === true) {
      return Promise.resolve({ kind: 'error', code: 'aborted' });
    }
    const now = performance.now();
    const target = this.resolver.cached(upstream, now);
    if (target !== undefined && this.reachable(target)) {
      const line = this.poolOf(target).take(now);
      if (line !== undefined) return this.send(line, nack, options, options.timeoutMs);
    }
    return this.exchangeSlow(upstream, nack, options, now);
  }

  /** Closes every socket; exchanges in flight resolve `{ kind: 'error', code: 'closed' }`. */
  async close(): Promise<void> {
    this.isClosed = true;
    const all = [...this.lines];
    this.lines.clear();
    this.pools.clear();
    for (const line of all) line.pending?.closed();
    await Promise.all(all.map(closeLine));
  }

  /** First use of an upstream, a stale name, or no idle connection: resolve and open. */
  private async exchangeSlow(
    upstream: string,
    nack: Uint8Array,
    options: ExchangeOptions,
    started: number,
  ): Promise<Reply> {
    // A lookup that hangs must not hold the exchange past its timeout or its abort.
    const found = await within(
      this.resolver.resolve(upstream, started),
      options.timeoutMs,
      options.signal,
    );
    if (found.status === 'aborted') return { kind: 'error', code: 'aborted' };
    if (found.status !== 'ok') {
      const error =
        found.status === 'error'
          ? found.error
          : new Error(`lookup of ${upstream} did not finish within ${options.timeoutMs} ms`);
      return { kind: 'error', code: 'resolve', error };
    }
    const target = found.value;
    if (!this.reachable(target)) {
      return {
        kind: 'error',
        code: 'family',
        error: new Error(
          `upstream ${upstream} is IPv${target.family}, bindAddress is IPv${this.bindFamily}`,
        ),
      };
    }
    let line = this.isClosed ? undefined : this.poolOf(target).take(performance.now());
    if (line === undefined && !this.isClosed) {
      try {
        line = await this.open(target);
      } catch (err) {
        if (!this.isClosed) return { kind: 'error', code: 'socket', error: toError(err) };
      }
    }
    if (line === undefined) return { kind: 'error', code: 'closed' };
    if (options.signal?.aborted === true) {
      this.release(line);
      return { kind: 'error', code: 'aborted' };
    }
    // The lookup and socket set-up spent part of the attempt's time.
    const left = Math.max(1, options.timeoutMs - (performance.now() - started));
    return this.send(line, nack, options, left);
  }

  private reachable(target: Target): boolean {
    return this.bindFamily === 0 || target.family === this.bindFamily;
  }

  private poolOf(target: Target): LinePool {
    let pool = this.pools.get(target.key);
    if (pool === undefined) {
      pool = new LinePool(this.maxIdle);
      this.pools.set(target.key, pool);
    }
    return pool;
  }

  private async open(target: Target): Promise<Line> {
    const line = await openLine(target, {
      bindAddress: this.bindAddress,
      createSocket: this.createSocket,
      connected: this.connected,
      stray: (l, msg, rinfo, err) => this.stray(l, msg, rinfo, err),
    });
    if (this.isClosed) {
      await closeLine(line);
      throw new Error('transport closed');
    }
    if (!line.connected) this.counters.unconnectedLines++;
    this.lines.add(line);
    this.poolOf(target).added();
    return line;
  }

  /** Sends the NACK on `line` and waits for the reply. */
  private send(
    line: Line,
    nack: Uint8Array,
    options: ExchangeOptions,
    timeoutMs: number,
  ): Promise<Reply> {
    return new Promise<Reply>((resolve) => {
      const exchange = new Exchange(this, line, options, resolve);
      line.pending = exchange;
      exchange.start(timeoutMs);
      this.counters.sent++;
      const sent = (err: Error | null): void => {
        if (err) exchange.failed(line, err);
      };
      try {
        if (line.connected) line.nack.send(nack, sent);
        else line.nack.send(nack, line.target.port, line.target.address, sent);
      } catch (err) {
        // e.g. a host's socket closed under us: reported after this call returns
        queueMicrotask(() => exchange.failed(line, toError(err)));
      }
    });
  }

  /** @internal An exchange ended: the line rests if a late reply may come, then is reused. */
  ended(line: Line, answered: boolean): void {
    line.pending = undefined;
    const now = performance.now();
    if (!answered) line.coolUntil = now + this.lateReplyGuardMs;
    const pool = this.pools.get(line.target.key);
    const surplus = pool === undefined ? line : pool.give(line, now);
    if (surplus !== undefined) this.release(surplus);
  }

  /** Closes a line nobody will use again. */
  private release(line: Line): void {
    if (line.closed) return;
    this.lines.delete(line);
    void closeLine(line);
  }

  /** @internal */
  count(name: keyof UdpTransportStats): void {
    this.counters[name]++;
  }

  /** @internal True when a frame from `address` may answer an exchange with `target`. */
  frameSourceOk(address: string, target: Target): boolean {
    return this.anySource || sameHost(address, target.address);
  }

  /** A datagram or error on a line nobody is waiting on. */
  private stray(line: Line, msg: Buffer | undefined, rinfo: RemoteInfo | undefined, err?: Error) {
    if (err !== undefined || msg === undefined || rinfo === undefined) {
      this.counters.socketErrors++;
      return;
    }
    if (!sameHost(rinfo.address, line.target.address)) this.counters.foreignSource++;
    else if (isTrailingAck(msg, line)) this.counters.trailingAcks++;
    else if (line.coolUntil > performance.now()) this.counters.lateReplies++;
    else this.counters.unsolicited++;
  }
}

/** One NACK waiting for its reply on one line. */
class Exchange implements LineUser {
  private settled = false;
  private acked = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: UdpTransport,
    private readonly line: Line,
    private readonly options: ExchangeOptions,
    private readonly resolve: (reply: Reply) => void,
  ) {}

  start(timeoutMs: number): void {
    this.timer = setTimeout(timedOut, Math.min(timeoutMs, MAX_TIMER_MS), this);
    // An object listener: no closure per exchange.
    this.options.signal?.addEventListener('abort', this, { once: true });
  }

  /** The signal aborted. */
  handleEvent(): void {
    this.end({ kind: 'error', code: 'aborted' });
  }

  closed(): void {
    this.end({ kind: 'error', code: 'closed' });
  }

  timeout(): void {
    this.end({ kind: 'timeout', acked: this.acked });
  }

  failed(line: Line, err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && UNREACHABLE.has(code)) {
      this.transport.count('unreachable');
      this.end({ kind: 'error', code: 'unreachable', error: err });
    } else {
      this.end({ kind: 'error', code: line.closed ? 'closed' : 'send', error: err });
    }
  }

  datagram(line: Line, msg: Buffer, rinfo: RemoteInfo, viaNackSocket: boolean): void {
    const t = this.transport;
    const target = line.target;
    // A connected socket only hears its peer; an unconnected one must check.
    const fromPeer =
      viaNackSocket &&
      (line.connected || (rinfo.port === target.port && sameHost(rinfo.address, target.address)));
    if (msg.length === RESPONSE_SIZE) {
      if (!fromPeer) t.count('foreignSource');
      else if (isTrailingAck(msg, line)) t.count('trailingAcks');
      else this.response(msg);
      return;
    }
    if (!fromPeer && !t.frameSourceOk(rinfo.address, target)) {
      t.count('foreignSource');
      return;
    }
    const o = this.options;
    const m = matchFrame(msg, o.hashKey, o.seq);
    if (m === 'malformed') t.count('malformed');
    else if (m === 'legacy') t.count('legacyFrame');
    else if (m === 'wrong-gap') t.count('wrongGap');
    else if (o.accept !== undefined && !o.accept(msg)) t.count('rejectedFrames');
    else {
      line.lastFrameSeq = o.seq;
      this.end({ kind: 'frame', frame: msg });
    }
  }

  private response(msg: Buffer): void {
    const t = this.transport;
    let r;
    try {
      r = decodeResponse(msg);
    } catch {
      t.count('malformed');
      return;
    }
    if (r.kind === 'miss') {
      this.end({ kind: 'miss' });
    } else if (r.seq !== this.options.seq) {
      t.count('mismatchedSeq');
    } else if (r.kind === 'ack') {
      t.count('acks');
      this.acked = true;
    } else {
      this.end({ kind: 'throttled', backoffMs: r.backoffMs });
    }
  }

  /** @internal Settles the exchange once. */
  end(reply: Reply): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this);
    // A timeout or an abort leaves a NACK unanswered: its reply may still come.
    const answered =
      reply.kind !== 'timeout' && !(reply.kind === 'error' && reply.code === 'aborted');
    this.transport.ended(this.line, answered);
    this.resolve(reply);
  }
}

/**
 * An ACK for the frame the line received last (bytes read in place: a 16-byte reply with
 * this protocol's magic and version, so junk that only looks like one is not taken for it).
 */
function isTrailingAck(msg: Buffer, line: Line): boolean {
  return (
    line.lastFrameSeq !== undefined &&
    msg.length === RESPONSE_SIZE &&
    msg[6] === MsgType.Ack &&
    msg.readUInt32BE(0) === MAGIC &&
    msg.readUInt16BE(4) === PROTO_VER &&
    msg.readBigUInt64BE(8) === line.lastFrameSeq
  );
}

function timedOut(exchange: Exchange): void {
  exchange.timeout();
}

/** True when two IP addresses name the same host (`a` as a socket reported it). */
function sameHost(a: string, canonical: string): boolean {
  return a === canonical || (a.includes(':') && canonicalIp(a) === canonical);
}

function whole(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(
      `nack-proxy: option ${name} must be an integer in 0..${MAX_TIMER_MS}, got ${String(value)}`,
    );
  }
  return value;
}
