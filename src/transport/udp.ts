import { createSocket as createDgramSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { MAGIC, MsgType, RESPONSE_SIZE } from '../wire/constants.js';
import { decodeResponse } from '../wire/response.js';
import { matchFrame } from '../wire/match.js';
import { canonicalIp, parseUpstream } from './address.js';
import type { ExchangeOptions, Reply, Transport } from './transport.js';

/** Resolves a host name to one address. */
export type Lookup = (host: string) => Promise<{ address: string; family: number }>;

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

interface Pending {
  readonly hashKey: bigint;
  readonly seq: bigint;
  readonly finish: (reply: Reply) => void;
  /** An ACK arrived: keep waiting for the frame. */
  readonly ack: () => void;
}

interface PooledSocket {
  readonly socket: Socket;
  readonly family: 4 | 6;
  /** Outstanding request per remote `address|port`: never more than one. */
  readonly busy: Map<string, Pending>;
  /** Remote `address|port` → time until which it must not be asked on this socket. */
  readonly guarded: Map<string, number>;
  closed: boolean;
}

interface Resolved {
  address: string;
  family: 4 | 6;
  port: number;
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

  async exchange(upstream: string, nack: Uint8Array, options: ExchangeOptions): Promise<Reply> {
    if (this.isClosed) return { kind: 'error', code: 'closed' };
    if (options.signal?.aborted === true) return { kind: 'error', code: 'aborted' };
    let target: Resolved;
    try {
      target = await this.resolve(upstream);
    } catch (err) {
      return {
        kind: 'error',
        code: 'resolve',
        error: err instanceof Error ? err : new Error(String(err)),
      };
    }
    if (this.bindFamily !== 0 && target.family !== this.bindFamily) {
      return {
        kind: 'error',
        code: 'family',
        error: new Error(
          `upstream ${upstream} is IPv${target.family}, bindAddress is IPv${this.bindFamily}`,
        ),
      };
    }
    const remote = `${target.address}|${target.port}`;
    let pooled: PooledSocket;
    try {
      pooled = await this.acquire(target.family, remote);
    } catch (err) {
      return {
        kind: 'error',
        code: 'socket',
        error: err instanceof Error ? err : new Error(String(err)),
      };
    }
    if (this.isClosed) return { kind: 'error', code: 'closed' };
    return new Promise<Reply>((resolve) => {
      let settled = false;
      const signal = options.signal;
      const finish = (reply: Reply): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        pooled.busy.delete(remote);
        const answered =
          reply.kind === 'frame' || reply.kind === 'miss' || reply.kind === 'throttled';
        if (!answered) pooled.guarded.set(remote, performance.now() + this.opts.lateReplyGuardMs);
        this.release(pooled);
        resolve(reply);
      };
      const onAbort = (): void => finish({ kind: 'error', code: 'aborted' });
      let acked = false;
      const timer = setTimeout(() => finish({ kind: 'timeout', acked }), options.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      pooled.busy.set(remote, {
        hashKey: options.hashKey,
        seq: options.seq,
        finish,
        ack: () => {
          acked = true;
        },
      });
      this.counters.sent++;
      pooled.socket.send(nack, target.port, target.address, (err) => {
        if (err) finish({ kind: 'error', code: 'send', error: err });
      });
    });
  }

  /** Closes every socket; pending exchanges resolve `{ kind: 'error', code: 'closed' }`. */
  close(): Promise<void> {
    this.isClosed = true;
    const all = [...this.pools[4], ...this.pools[6]];
    this.pools[4] = [];
    this.pools[6] = [];
    for (const p of all)
      for (const pending of [...p.busy.values()]) pending.finish({ kind: 'error', code: 'closed' });
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
      family = found.family === 6 ? 6 : 4;
      if (isIP(address) === 0) throw new Error(`lookup of ${parsed.host} returned ${address}`);
    }
    return { address: canonicalIp(address), family, port: parsed.port };
  }

  private async acquire(family: 4 | 6, remote: string): Promise<PooledSocket> {
    const t = performance.now();
    for (const p of this.pools[family]) {
      if (p.closed || p.busy.has(remote)) continue;
      const until = p.guarded.get(remote);
      if (until !== undefined) {
        if (until > t) continue;
        p.guarded.delete(remote);
      }
      return p;
    }
    return this.open(family);
  }

  private async open(family: 4 | 6): Promise<PooledSocket> {
    const socket =
      this.opts.createSocket?.(family) ??
      createDgramSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    const pooled: PooledSocket = {
      socket,
      family,
      busy: new Map(),
      guarded: new Map(),
      closed: false,
    };
    socket.on('message', (msg, rinfo) => this.onMessage(pooled, msg, rinfo));
    socket.on('error', () => {
      // Errors on an unconnected UDP socket are transient (e.g. a send error also reported
      // to the send callback); the pending exchanges time out on their own.
      this.counters.socketErrors++;
    });
    if (!isBound(socket)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        socket.once('error', onError);
        socket.bind({ port: 0, address: this.opts.bindAddress }, () => {
          socket.off('error', onError);
          resolve();
        });
      });
    }
    if (this.isClosed) {
      // close() ran while this socket was binding: it was never pooled, so close it here.
      await this.closeSocket(pooled);
      throw new Error('transport closed');
    }
    this.pools[family].push(pooled);
    return pooled;
  }

  private release(pooled: PooledSocket): void {
    if (pooled.busy.size > 0 || pooled.closed) return;
    const pool = this.pools[pooled.family];
    const idle = pool.filter((p) => p.busy.size === 0).length;
    if (idle > this.opts.maxIdleSockets) {
      pool.splice(pool.indexOf(pooled), 1);
      void this.closeSocket(pooled);
    }
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
    const remote = `${canonicalIp(rinfo.address)}|${rinfo.port}`;
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
      let res;
      try {
        res = decodeResponse(msg);
      } catch {
        this.counters.malformed++;
        return;
      }
      if (res.kind === 'miss') return pending.finish({ kind: 'miss' });
      if (res.seq !== pending.seq) {
        this.counters.mismatchedSeq++;
        return;
      }
      if (res.kind === 'ack') {
        this.counters.acks++;
        return pending.ack();
      }
      return pending.finish({ kind: 'throttled', backoffMs: res.backoffMs });
    }
    const m = matchFrame(msg, pending.hashKey, pending.seq);
    if (m === 'malformed') this.counters.malformed++;
    else if (m === 'legacy') this.counters.legacyFrame++;
    else if (m === 'wrong-gap') this.counters.wrongGap++;
    else pending.finish({ kind: 'frame', frame: msg });
  }

  private isKnownSource(remote: string): boolean {
    for (const { value: r } of this.resolved.values()) {
      if (r !== undefined && `${r.address}|${r.port}` === remote) return true;
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
