import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { MAX_TIMER_MS, toError, within } from '../shared/within.js';
import { Exchange, isTrailingAck, sameHost, type ExchangeHost } from './exchange.js';
import { LinePool } from './line-pool.js';
import { closeLine, openLine, type Line } from './lines.js';
import { Resolver, type Target } from './resolver.js';
import type { ExchangeOptions, Reply, Transport } from './transport.js';
import { checkOptions } from '../shared/option-check.js';
import {
  COUNTERS,
  UDP_TRANSPORT_OPTIONS,
  type UdpTransportOptions,
  type UdpTransportStats,
} from './udp-options.js';

export type { Lookup } from './resolver.js';
export type { UdpTransportOptions, UdpTransportStats } from './udp-options.js';

/**
 * Sends proxied NACKs over UDP (node:dgram) and waits for the frame, MISS or THROTTLED.
 *
 * A connection is a pair of sockets to one upstream (see
 * {@link UdpTransportOptions.connected}), with one exchange outstanding at a time (a MISS
 * carries no sequence number, so two requests on one connection could not be told apart).
 * A connection whose exchange timed out rests for `lateReplyGuardMs` before it is reused.
 * Sockets stay bounded however many attempts time out and however many upstreams there
 * are: connections no exchange uses (idle or resting) number at most `maxIdleSockets`
 * across all upstreams, the least recently used closed first, and one that timed out past
 * that bound is closed rather than rested. So {@link socketCount} never exceeds
 * 2 × (exchanges in flight + `maxIdleSockets`).
 * Frames are accepted from the asked host on any port (or any source with
 * `frameSource: 'any'`) when they carry the requested HashKey and SeqNum and are exactly
 * their header plus payload length; everything else is counted in {@link stats} and ignored.
 * Idle sockets do not keep the process alive.
 */
export class UdpTransport implements Transport {
  /** Every exchange ends by its own timer, or at once on abort (see {@link Transport.selfTimed}). */
  readonly selfTimed = true;
  private readonly resolver: Resolver;
  /** The lines no exchange uses, across all targets. */
  private readonly pool: LinePool;
  /** Every open line, busy or not. */
  private readonly lines = new Set<Line>();
  /** Sockets of the lines open and being opened (see {@link socketCount}). */
  private sockets = 0;
  /** Lines being opened, so that close() can wait for them. */
  private readonly opening = new Set<Promise<unknown>>();
  private readonly counters = Object.fromEntries(COUNTERS.map((n) => [n, 0])) as UdpTransportStats;
  private readonly bindAddress: string | undefined;
  private readonly bindFamily: 0 | 4 | 6;
  private readonly createSocket: ((family: 4 | 6) => Socket) | undefined;
  private readonly connected: boolean;
  private readonly anySource: boolean;
  private readonly lateReplyGuardMs: number;
  /** Exchanges per AbortSignal: one 'abort' listener per signal, not one per exchange. */
  private readonly watching = new WeakMap<AbortSignal, Set<Exchange>>();
  private isClosed = false;
  /** What the exchanges in flight may ask of this transport (kept off its public surface). */
  private readonly host: ExchangeHost = {
    count: (name) => void this.counters[name]++,
    frameSourceOk: (address, target) => this.frameSourceOk(address, target),
    ended: (line, answered) => this.ended(line, answered),
    watch: (signal, exchange) => this.watch(signal, exchange),
    unwatch: (signal, exchange) => this.unwatch(signal, exchange),
  };

  /**
   * @throws TypeError or RangeError naming the option and the value, with a Node-style
   * `code` (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE`); an unknown
   * option is refused with a "did you mean".
   */
  constructor(options: UdpTransportOptions = {}) {
    const check = checkOptions('UdpTransport', options, UDP_TRANSPORT_OPTIONS);
    const bindAddress = check.string('bindAddress', options.bindAddress, undefined);
    if (bindAddress !== undefined && isIP(bindAddress) === 0) {
      check.fail(
        'ERR_INVALID_ARG_VALUE',
        `option bindAddress must be an IP address, got ${JSON.stringify(bindAddress)}`,
      );
    }
    const frameSource = check.oneOf('frameSource', options.frameSource, ['host', 'any'], 'host');
    const ms = (name: keyof UdpTransportOptions, value: unknown, fallback: number): number =>
      check.whole(name, value, fallback, 0, MAX_TIMER_MS);
    const maxIdle = check.whole('maxIdleSockets', options.maxIdleSockets, 16, 0, 1_000_000);
    this.bindAddress = bindAddress;
    this.bindFamily = bindAddress === undefined ? 0 : (isIP(bindAddress) as 4 | 6);
    this.createSocket = options.createSocket;
    this.connected = check.bool('connected', options.connected, process.platform === 'linux');
    this.anySource = frameSource === 'any';
    this.lateReplyGuardMs = ms('lateReplyGuardMs', options.lateReplyGuardMs, 2000);
    this.pool = new LinePool(maxIdle);
    this.resolver = new Resolver(
      options.lookup ?? ((host) => dnsLookup(host)),
      ms('resolveTtlMs', options.resolveTtlMs, 30_000),
    );
  }

  /** Same as {@link UdpTransport.close}, for `await using transport = new UdpTransport()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Counters of datagrams ignored by reason, and socket events. */
  stats(): UdpTransportStats {
    return { ...this.counters };
  }

  /**
   * Open sockets (two per connection, one in unconnected mode; a connection being opened
   * counts as what it will hold), for tests and diagnostics. At most
   * 2 × (exchanges in flight + `maxIdleSockets`).
   */
  get socketCount(): number {
    return this.sockets;
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
      const line = this.pool.take(target.key, now);
      if (line !== undefined) return this.send(line, nack, options, options.timeoutMs);
    }
    return this.exchangeSlow(upstream, nack, options, now);
  }

  /**
   * Closes every socket, those being opened included; exchanges in flight resolve
   * `{ kind: 'error', code: 'closed' }`.
   */
  async close(): Promise<void> {
    this.isClosed = true;
    const all = [...this.lines];
    this.lines.clear();
    this.pool.clear();
    for (const line of all) this.sockets -= socketsOf(line);
    // Closed before their exchanges end, so that no line goes back to the pool.
    const closing = all.map((line) => closeLine(line));
    for (const line of all) line.pending?.closed();
    // A line that finishes opening now sees isClosed and closes itself.
    await Promise.all([...closing, ...this.opening]);
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
    let line = this.isClosed ? undefined : this.pool.take(target.key, performance.now());
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

  /**
   * Opens a line for an exchange in flight. Its sockets count from the start (as many as
   * it will hold), so {@link socketCount} never misses sockets being set up.
   */
  private async open(target: Target): Promise<Line> {
    const reserved = this.connected ? 2 : 1;
    this.sockets += reserved;
    const opened = openLine(target, {
      bindAddress: this.bindAddress,
      createSocket: this.createSocket,
      connected: this.connected,
      stray: (l, msg, rinfo, err) => this.stray(l, msg, rinfo, err),
    }).then(async (line) => {
      if (!this.isClosed) return line;
      await closeLine(line);
      throw new Error('transport closed');
    });
    const settled = opened.then(
      () => undefined,
      () => undefined,
    );
    this.opening.add(settled);
    try {
      const line = await opened;
      if (!line.connected) this.counters.unconnectedLines++;
      this.lines.add(line);
      this.sockets += socketsOf(line);
      return line;
    } finally {
      this.sockets -= reserved;
      this.opening.delete(settled);
    }
  }

  /** Sends the NACK on `line` and waits for the reply. */
  private send(
    line: Line,
    nack: Uint8Array,
    options: ExchangeOptions,
    timeoutMs: number,
  ): Promise<Reply> {
    return new Promise<Reply>((resolve) => {
      const exchange = new Exchange(this.host, line, options, resolve);
      line.pending = exchange;
      exchange.start(timeoutMs);
      this.counters.sent++;
      options.onSent?.();
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

  /** Ends `exchange` when `signal` aborts. */
  private watch(signal: AbortSignal, exchange: Exchange): void {
    let set = this.watching.get(signal);
    if (set === undefined) {
      const exchanges = new Set<Exchange>();
      set = exchanges;
      this.watching.set(signal, exchanges);
      signal.addEventListener(
        'abort',
        () => {
          for (const e of [...exchanges]) e.aborted();
        },
        { once: true },
      );
    }
    set.add(exchange);
  }

  private unwatch(signal: AbortSignal, exchange: Exchange): void {
    this.watching.get(signal)?.delete(exchange);
  }

  /**
   * An exchange ended: the line goes back to the pool (resting first if a late reply may
   * come), or is closed when the pool is full.
   */
  private ended(line: Line, answered: boolean): void {
    line.pending = undefined;
    const now = performance.now();
    if (!answered) line.coolUntil = now + this.lateReplyGuardMs;
    // After close() the line is closed already (give() refuses closed lines).
    const surplus = this.pool.give(line, now);
    if (surplus !== undefined) this.release(surplus, now);
  }

  /** Closes a line nobody will use again. */
  private release(line: Line, now = performance.now()): void {
    if (line.closed) return;
    this.lines.delete(line);
    this.sockets -= socketsOf(line);
    void closeLine(line, now);
  }

  /** True when a frame from `address` may answer an exchange with `target`. */
  private frameSourceOk(address: string, target: Target): boolean {
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

function socketsOf(line: Line): number {
  return line.frames === undefined ? 1 : 2;
}
