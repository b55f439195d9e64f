import { createSocket as createDgramSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { MAGIC, MsgType, PROTO_VER, RESPONSE_SIZE } from '../wire/constants.js';
import { throttleBackoffMs } from '../wire/response.js';
import { frameMismatch, half, splitHalves } from '../wire/fast.js';
import { canonicalIp, parseUpstream } from './address.js';
import { Deadlines, type Timed } from './deadlines.js';
import type { ExchangeOptions, Reply, Transport } from './transport.js';

/** Resolves a host name to one address. */
export type Lookup = (host: string) => Promise<{
  /** An IPv4 or IPv6 address. */
  address: string;
  /** 4 or 6 (the address itself decides when they disagree). */
  family: number;
}>;

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
   * Makes a socket for the pool, for hosts that bring their own (options, instrumentation).
   * The transport binds it (to `bindAddress`, port 0) unless it is already bound, and closes
   * it on `close()`.
   * @default dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' })
   */
  createSocket?: (family: 4 | 6) => Socket;
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
   * After an exchange times out or is aborted, its socket is not used for the same upstream
   * for this long, so a late MISS (which carries no sequence number) is never credited to a
   * later request.
   * @default 2000
   */
  lateReplyGuardMs?: number;
  /**
   * Idle sockets kept open per address family; more are closed once idle.
   * @default 16
   */
  maxIdleSockets?: number;
}

/**
 * Where the library's own client takes a reply when it calls {@link exchangeDirect}
 * instead of `exchange` (no Promise per exchange). Internal: not exported by the package.
 */
export interface ReplySink {
  replied(reply: Reply): void;
}

/**
 * One exchange in flight: no per-exchange closure besides the send callback, and no timer
 * of its own (it waits in the transport's {@link Deadlines} queue).
 */
class Pending implements Timed {
  /** An ACK arrived: keep waiting for the frame. */
  acked = false;
  settled = false;
  /** The exchanges watching the same AbortSignal (one listener per signal, not per exchange). */
  watching: Set<Pending> | undefined = undefined;
  earlier: Timed | undefined = undefined;
  later: Timed | undefined = undefined;
  queued = false;

  constructor(
    /** HashKey and SeqNum asked for, as big-endian int32 halves (compared without bigints). */
    readonly hashKeyHi: number,
    readonly hashKeyLo: number,
    readonly seqHi: number,
    readonly seqLo: number,
    readonly remote: string,
    readonly pooled: PooledSocket,
    /** A Promise's resolve (`exchange`) or the client's sink (`exchangeDirect`). */
    readonly to: ((reply: Reply) => void) | ReplySink,
    readonly deadlineAt: number,
    private readonly timedOut: (p: Pending) => void,
  ) {}

  expire(): void {
    this.timedOut(this);
  }
}

interface PooledSocket {
  readonly socket: Socket;
  readonly family: 4 | 6;
  /** Outstanding request per remote `address|port`: never more than one. */
  /**
   * Outstanding request per remote `address|port`: never more than one. A finished entry is
   * set to undefined rather than deleted, so the small Map never shrinks and regrows.
   */
  readonly busy: Map<string, Pending | undefined>;
  /** Entries of `busy` that hold a request. */
  busyCount: number;
  /** Remote `address|port` → time until which it must not be asked on this socket. */
  readonly guarded: Map<string, number>;
  closed: boolean;
  /** In the idle list of its family. */
  idle: boolean;
}

interface Resolved {
  address: string;
  family: 4 | 6;
  port: number;
  /** `address|port`, the key of `busy` and `guarded`. */
  remote: string;
}

interface ResolveEntry {
  promise: Promise<Resolved>;
  until: number;
  value: Resolved | undefined;
}

const COUNTER_NAMES = [
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
] as const;

/** Datagrams and events counted by {@link UdpTransport}. */
export type UdpTransportStats = Record<(typeof COUNTER_NAMES)[number], number>;

/**
 * Sends proxied NACKs over UDP (node:dgram) and waits for the frame, MISS or THROTTLED.
 *
 * Only datagrams from the asked upstream's address and port count. Because a MISS carries
 * no sequence number, a socket never has two requests outstanding to the same upstream,
 * and a socket whose request timed out is kept away from that upstream for
 * `lateReplyGuardMs`, so a late reply is never credited to a later request. Requests to
 * one upstream run in parallel on several pooled sockets.
 */
export class UdpTransport implements Transport {
  private readonly opts: Required<Omit<UdpTransportOptions, 'bindAddress' | 'createSocket'>> &
    Pick<UdpTransportOptions, 'bindAddress' | 'createSocket'>;
  private readonly pools: Record<4 | 6, PooledSocket[]> = { 4: [], 6: [] };
  /** Pooled sockets with nothing outstanding, most recently released last. */
  private idle: Record<4 | 6, PooledSocket[]> = { 4: [], 6: [] };
  /** Attempt timeouts of the exchanges in flight, on one timer. */
  private readonly deadlines = new Deadlines(() => performance.now());
  /** Exchanges per AbortSignal: one 'abort' listener per signal, however many exchanges. */
  private readonly watched = new WeakMap<AbortSignal, Set<Pending>>();
  /** Per source address seen (bounded): its `address|port` keys, so lookups build no string. */
  private readonly sources = new Map<string, Map<number, string>>();
  private readonly resolved = new Map<string, ResolveEntry>();
  private readonly counters: UdpTransportStats;
  private readonly bindFamily: 0 | 4 | 6;
  private isClosed = false;

  constructor(options: UdpTransportOptions = {}) {
    const bindAddress = options.bindAddress;
    if (bindAddress !== undefined && isIP(bindAddress) === 0) {
      throw new TypeError(
        `nack-proxy: option bindAddress must be an IP address, got ${JSON.stringify(bindAddress)}`,
      );
    }
    this.bindFamily = bindAddress === undefined ? 0 : (isIP(bindAddress) as 4 | 6);
    for (const [name, v] of Object.entries({
      resolveTtlMs: options.resolveTtlMs,
      lateReplyGuardMs: options.lateReplyGuardMs,
      maxIdleSockets: options.maxIdleSockets,
    })) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
        throw new RangeError(
          `nack-proxy: option ${name} must be a non-negative integer, got ${String(v)}`,
        );
      }
    }
    this.opts = {
      bindAddress,
      createSocket: options.createSocket,
      lookup: options.lookup ?? ((host) => dnsLookup(host)),
      resolveTtlMs: options.resolveTtlMs ?? 30_000,
      lateReplyGuardMs: options.lateReplyGuardMs ?? 2000,
      maxIdleSockets: options.maxIdleSockets ?? 16,
    };
    this.counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as UdpTransportStats;
  }

  /** Counters of datagrams ignored by reason, and socket events. */
  stats(): UdpTransportStats {
    return { ...this.counters };
  }

  /** Open sockets, for tests and diagnostics. */
  get socketCount(): number {
    return this.pools[4].length + this.pools[6].length;
  }

  /**
   * Sends one proxied NACK and resolves with the frame, MISS, THROTTLED, a timeout (an ACK
   * alone is not enough) or an error. Never rejects.
   */
  exchange(upstream: string, nack: Uint8Array, options: ExchangeOptions): Promise<Reply> {
    if (this.isClosed) return Promise.resolve({ kind: 'error', code: 'closed' });
    if (options.signal?.aborted === true) {
      return Promise.resolve({ kind: 'error', code: 'aborted' });
    }
    // Fast path: the upstream is resolved and an idle pooled socket can take the request.
    const target = this.readyTarget(upstream);
    if (target !== undefined) {
      const pooled = this.acquireNow(target.family, target.remote);
      if (pooled !== undefined) return this.send(pooled, target, nack, options);
    }
    return this.exchangeSlow(upstream, nack, options);
  }

  /** The resolved address of `upstream` when fresh and reachable from `bindAddress`. */
  private readyTarget(upstream: string): Resolved | undefined {
    const hit = this.resolved.get(upstream);
    const target = hit?.value;
    if (target === undefined || hit === undefined || hit.until <= performance.now())
      return undefined;
    return this.bindFamily === 0 || target.family === this.bindFamily ? target : undefined;
  }

  /** `exchange` without a Promise: the reply goes to `sink` (never synchronously). */
  private exchangeTo(
    upstream: string,
    nack: Uint8Array,
    options: ExchangeOptions,
    sink: ReplySink,
  ): void {
    if (!this.isClosed && options.signal?.aborted !== true) {
      const target = this.readyTarget(upstream);
      if (target !== undefined) {
        const pooled = this.acquireNow(target.family, target.remote);
        if (pooled !== undefined) {
          this.register(pooled, target, nack, options, sink);
          return;
        }
      }
    }
    // Everything else (closed, aborted, first use of an upstream, pool growth) is rare.
    this.exchange(upstream, nack, options).then(
      (reply) => sink.replied(reply),
      (err: unknown) =>
        sink.replied({
          kind: 'error',
          code: 'exception',
          error: err instanceof Error ? err : new Error(String(err)),
        }),
    );
  }

  private async exchangeSlow(
    upstream: string,
    nack: Uint8Array,
    options: ExchangeOptions,
  ): Promise<Reply> {
    const started = performance.now();
    let target: Resolved;
    try {
      // A lookup that hangs must not hold the exchange past its timeout or its abort.
      target = await bounded(this.resolve(upstream), options.timeoutMs, options.signal);
    } catch (err) {
      if (options.signal?.aborted === true) return { kind: 'error', code: 'aborted' };
      return {
        kind: 'error',
        code: 'resolve',
        error: err instanceof Error ? err : new Error(String(err)),
      };
    }
    if (this.isClosed) return { kind: 'error', code: 'closed' };
    if (this.bindFamily !== 0 && target.family !== this.bindFamily) {
      return {
        kind: 'error',
        code: 'family',
        error: new Error(
          `upstream ${upstream} is IPv${target.family}, bindAddress is IPv${this.bindFamily}`,
        ),
      };
    }
    let pooled: PooledSocket;
    try {
      pooled = this.acquireNow(target.family, target.remote) ?? (await this.open(target.family));
    } catch (err) {
      if (this.isClosed) return { kind: 'error', code: 'closed' };
      return {
        kind: 'error',
        code: 'socket',
        error: err instanceof Error ? err : new Error(String(err)),
      };
    }
    if (this.isClosed) return { kind: 'error', code: 'closed' };
    if (options.signal?.aborted === true) {
      this.release(pooled);
      return { kind: 'error', code: 'aborted' };
    }
    // The lookup and socket set-up spent part of the attempt's time.
    const left = Math.max(1, options.timeoutMs - (performance.now() - started));
    return this.send(pooled, target, nack, { ...options, timeoutMs: left });
  }

  /** Registers the exchange on `pooled` and sends the NACK. */
  private send(
    pooled: PooledSocket,
    target: Resolved,
    nack: Uint8Array,
    options: ExchangeOptions,
  ): Promise<Reply> {
    return new Promise<Reply>((resolve) => this.register(pooled, target, nack, options, resolve));
  }

  /** Registers the exchange on `pooled` and sends the NACK; the reply goes to `to`. */
  private register(
    pooled: PooledSocket,
    target: Resolved,
    nack: Uint8Array,
    options: ExchangeOptions,
    to: ((reply: Reply) => void) | ReplySink,
  ): void {
    splitHalves(options.hashKey, options.seq);
    const p = new Pending(
      half(0),
      half(1),
      half(2),
      half(3),
      target.remote,
      pooled,
      to,
      performance.now() + options.timeoutMs,
      this.onTimeout,
    );
    this.deadlines.add(p);
    if (options.signal !== undefined) this.watch(options.signal, p);
    pooled.busy.set(target.remote, p);
    pooled.busyCount++;
    this.counters.sent++;
    try {
      pooled.socket.send(nack, target.port, target.address, (err) => {
        if (err) this.finish(p, { kind: 'error', code: 'send', error: err });
      });
    } catch (err) {
      // e.g. a host's socket closed under us: a send error, reported after this call returns.
      const error = err instanceof Error ? err : new Error(String(err));
      queueMicrotask(() => this.finish(p, { kind: 'error', code: 'send', error }));
    }
  }

  private readonly onTimeout = (p: Pending): void => {
    this.finish(p, { kind: 'timeout', acked: p.acked });
  };

  /** Settles one exchange: frees its slot on the socket, guards it after no answer. */
  private finish(p: Pending, reply: Reply): void {
    if (p.settled) return;
    p.settled = true;
    this.deadlines.remove(p);
    p.watching?.delete(p);
    const pooled = p.pooled;
    if (pooled.busy.get(p.remote) === p) {
      pooled.busy.set(p.remote, undefined);
      pooled.busyCount--;
    }
    const answered = reply.kind === 'frame' || reply.kind === 'miss' || reply.kind === 'throttled';
    if (!answered) pooled.guarded.set(p.remote, performance.now() + this.opts.lateReplyGuardMs);
    this.release(pooled);
    const to = p.to;
    if (typeof to === 'function') to(reply);
    else to.replied(reply);
  }

  /** Aborts every exchange watching `signal` when it aborts, with one listener per signal. */
  private watch(signal: AbortSignal, p: Pending): void {
    let set = this.watched.get(signal);
    if (set === undefined) {
      const exchanges = new Set<Pending>();
      set = exchanges;
      this.watched.set(signal, exchanges);
      signal.addEventListener(
        'abort',
        () => {
          for (const e of [...exchanges]) this.finish(e, { kind: 'error', code: 'aborted' });
        },
        { once: true },
      );
    }
    set.add(p);
    p.watching = set;
  }

  /** Closes every socket; pending exchanges resolve `{ kind: 'error', code: 'closed' }`. */
  close(): Promise<void> {
    this.isClosed = true;
    const all = [...this.pools[4], ...this.pools[6]];
    this.pools[4] = [];
    this.pools[6] = [];
    this.idle = { 4: [], 6: [] };
    for (const p of all)
      for (const pending of [...p.busy.values()].filter((e) => e !== undefined))
        this.finish(pending, { kind: 'error', code: 'closed' });
    return Promise.all(all.map((p) => this.closeSocket(p))).then(() => undefined);
  }

  /** Resolves an upstream once per `resolveTtlMs`; concurrent callers share one lookup. */
  private resolve(upstream: string): Promise<Resolved> {
    const t = performance.now();
    const hit = this.resolved.get(upstream);
    if (hit !== undefined && hit.until > t) return hit.promise;
    const promise = this.lookupUpstream(upstream);
    if (this.resolved.size >= 1024) this.resolved.clear();
    const entry = {
      promise,
      until: t + this.opts.resolveTtlMs,
      value: undefined as Resolved | undefined,
    };
    this.resolved.set(upstream, entry);
    promise.then(
      (value) => {
        entry.value = value;
      },
      () => {
        // A failed lookup is not cached: the next attempt asks again.
        if (this.resolved.get(upstream) === entry) this.resolved.delete(upstream);
      },
    );
    return promise;
  }

  private async lookupUpstream(upstream: string): Promise<Resolved> {
    const parsed = parseUpstream(upstream);
    if (typeof parsed === 'string') throw new Error(parsed);
    let address = parsed.host;
    let family = parsed.family;
    if (family === 0) {
      const found = await this.opts.lookup(parsed.host);
      address = found.address;
      // Trust the address, not the reported family: the socket type must match the address.
      const fam = isIP(address);
      if (fam === 0) throw new Error(`lookup of ${parsed.host} returned ${String(address)}`);
      family = fam === 6 ? 6 : 4;
    }
    const canonical = canonicalIp(address);
    return { address: canonical, family, port: parsed.port, remote: `${canonical}|${parsed.port}` };
  }

  /**
   * A pooled socket with no request outstanding to `remote` and not guarded for it, or
   * undefined when a new one must be opened. Idle sockets are tried first (most recently
   * released first), then sockets busy with other upstreams.
   */
  private acquireNow(family: 4 | 6, remote: string): PooledSocket | undefined {
    const t = performance.now();
    const idle = this.idle[family];
    for (let i = idle.length - 1; i >= 0; i--) {
      const p = idle[i] as PooledSocket;
      if (p.closed || !this.usable(p, remote, t)) continue;
      idle[i] = idle[idle.length - 1] as PooledSocket;
      idle.pop();
      p.idle = false;
      return p;
    }
    for (const p of this.pools[family]) {
      if (p.closed || p.busyCount === 0 || p.busy.get(remote) !== undefined) continue;
      if (this.usable(p, remote, t)) return p;
    }
    return undefined;
  }

  /** False while `p` is guarded against `remote` (a late reply may still come). */
  private usable(p: PooledSocket, remote: string, t: number): boolean {
    if (p.guarded.size === 0) return true;
    const until = p.guarded.get(remote);
    if (until === undefined) return true;
    if (until > t) return false;
    p.guarded.delete(remote);
    return true;
  }

  private async open(family: 4 | 6): Promise<PooledSocket> {
    const socket =
      this.opts.createSocket?.(family) ??
      createDgramSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    const pooled: PooledSocket = {
      socket,
      family,
      busy: new Map(),
      busyCount: 0,
      guarded: new Map(),
      closed: false,
      idle: false,
    };
    socket.on('message', (msg, rinfo) => this.onMessage(pooled, msg, rinfo));
    socket.on('error', () => {
      // Errors on an unconnected UDP socket are transient (e.g. a send error also reported
      // to the send callback); the pending exchanges time out on their own.
      this.counters.socketErrors++;
    });
    if (!isBound(socket)) {
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error): void => reject(err);
          socket.once('error', onError);
          socket.bind({ port: 0, address: this.opts.bindAddress }, () => {
            socket.off('error', onError);
            resolve();
          });
        });
      } catch (err) {
        // Never pooled: close it here or its handle stays open.
        await this.closeSocket(pooled);
        throw err;
      }
    }
    if (this.isClosed) {
      // close() ran while this socket was binding: it was never pooled, so close it here.
      await this.closeSocket(pooled);
      throw new Error('transport closed');
    }
    this.pools[family].push(pooled);
    return pooled;
  }

  /** Called when `pooled` may have become idle: keeps it, or closes it past `maxIdleSockets`. */
  private release(pooled: PooledSocket): void {
    if (pooled.busyCount > 0 || pooled.closed) return;
    const idle = this.idle[pooled.family];
    if (pooled.idle) return;
    if (idle.length >= this.opts.maxIdleSockets) {
      const pool = this.pools[pooled.family];
      const at = pool.indexOf(pooled);
      if (at >= 0) pool.splice(at, 1);
      void this.closeSocket(pooled);
      return;
    }
    pooled.idle = true;
    idle.push(pooled);
  }

  private closeSocket(pooled: PooledSocket): Promise<void> {
    if (pooled.closed) return Promise.resolve();
    pooled.closed = true;
    return new Promise((resolve) => {
      try {
        pooled.socket.close(() => resolve());
      } catch {
        resolve(); // already closed by its owner
      }
    });
  }

  private onMessage(pooled: PooledSocket, msg: Buffer, rinfo: RemoteInfo): void {
    const remote = this.remoteOf(rinfo.address, rinfo.port);
    const pending = pooled.busy.get(remote);
    if (pending === undefined) {
      if (pooled.guarded.has(remote)) this.counters.lateReplies++;
      else if (this.isKnownSource(remote)) this.counters.unsolicited++;
      else this.counters.foreignSource++;
      return;
    }
    if (
      msg.length === RESPONSE_SIZE &&
      msg.readUInt32BE(0) === MAGIC &&
      msg[6] !== undefined &&
      msg[6] >= MsgType.Miss
    ) {
      // What decodeResponse checks, read in place: version, type, then the echoed SeqNum.
      const type = msg[6];
      if (msg.readUInt16BE(4) !== PROTO_VER || type > MsgType.Throttled) {
        this.counters.malformed++;
        return;
      }
      if (type === MsgType.Miss) return this.finish(pending, { kind: 'miss' });
      if (msg.readInt32BE(8) !== pending.seqHi || msg.readInt32BE(12) !== pending.seqLo) {
        this.counters.mismatchedSeq++;
        return;
      }
      if (type === MsgType.Ack) {
        this.counters.acks++;
        pending.acked = true;
        return;
      }
      return this.finish(pending, {
        kind: 'throttled',
        backoffMs: throttleBackoffMs((msg[7] as number) & 0x0f),
      });
    }
    const m = frameMismatch(
      msg,
      pending.hashKeyHi,
      pending.hashKeyLo,
      pending.seqHi,
      pending.seqLo,
    );
    if (m === 'malformed') this.counters.malformed++;
    else if (m === 'legacy') this.counters.legacyFrame++;
    else if (m === 'wrong-gap') this.counters.wrongGap++;
    else this.finish(pending, { kind: 'frame', frame: msg });
  }

  /** `address|port` of a datagram's source, canonical, from a bounded cache. */
  private remoteOf(address: string, port: number): string {
    let ports = this.sources.get(address);
    if (ports === undefined) {
      if (this.sources.size >= 256) this.sources.clear();
      ports = new Map();
      this.sources.set(address, ports);
    }
    let remote = ports.get(port);
    if (remote === undefined) {
      if (ports.size >= 1024) ports.clear();
      remote = `${canonicalIp(address)}|${port}`;
      ports.set(port, remote);
    }
    return remote;
  }

  private isKnownSource(remote: string): boolean {
    for (const { value: r } of this.resolved.values()) {
      if (r !== undefined && r.remote === remote) return true;
    }
    return false;
  }
}

function isBound(socket: Socket): boolean {
  try {
    socket.address();
    return true;
  } catch {
    return false;
  }
}

/**
 * Settles like `promise`, but rejects after `ms` or as soon as `signal` aborts. The
 * underlying work (a host's lookup) is not cancelled, only no longer waited for.
 */
function bounded<T>(promise: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`lookup did not finish within ${ms} ms`));
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        done();
        resolve(v);
      },
      (err: unknown) => {
        done();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * Sends one proxied NACK like `transport.exchange`, handing the reply to `sink` instead of
 * resolving a Promise (never synchronously). Internal: the client uses it for a plain
 * UdpTransport it trusts to settle every exchange; not exported by the package.
 */
export function exchangeDirect(
  transport: UdpTransport,
  upstream: string,
  nack: Uint8Array,
  options: ExchangeOptions,
  sink: ReplySink,
): void {
  transport['exchangeTo'](upstream, nack, options, sink);
}
