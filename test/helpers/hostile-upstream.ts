import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { decodeNack, type DecodedNack } from '../../src/wire/nack.js';

/**
 * Where a hostile datagram is sent from:
 * - `self`: the socket the NACK was sent to (the asked address and port)
 * - `other-port`: same address, another port
 * - `other-address`: another address of this host (127.0.0.2 for an IPv4 upstream; for an
 *   IPv6 one, 127.0.0.1, which reaches a dual-stack socket as `::ffff:127.0.0.1`)
 */
export type Source = 'self' | 'other-port' | 'other-address';

/** What a script gets for each NACK the hostile upstream receives. */
export interface HostileTurn {
  /** The decoded NACK. */
  nack: DecodedNack;
  /** 0 for the first NACK received, 1 for the second, ... */
  index: number;
  /** Where the NACK came from (the client's socket). */
  from: { address: string; port: number };
  /** Sends `bytes` to the client's socket; resolves once the send completed. */
  send(bytes: Uint8Array, source?: Source): Promise<void>;
}

/** Decides what the hostile upstream does with one NACK. */
export type Script = (turn: HostileTurn) => void | Promise<void>;

/** Options of {@link HostileUpstream.start}. */
export interface HostileOptions {
  /** Loopback address to listen on. @default '127.0.0.1' */
  host?: '127.0.0.1' | '::1';
  /** What to do with each NACK. @default nothing (silent) */
  script?: Script;
}

/**
 * A raw-dgram upstream for hardening tests: it answers NACKs with whatever its script
 * sends — junk, spoofed sources, floods — from the asked socket or from others.
 * Lives only on loopback.
 */
export class HostileUpstream {
  /** NACKs received, in order. */
  readonly nacks: DecodedNack[] = [];
  /** Datagrams received that were not NACKs. */
  notNacks = 0;
  /** Errors thrown by the script (a test bug; checked by `close`). */
  readonly scriptErrors: unknown[] = [];
  /** Replaceable at any time. */
  script: Script;
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  private constructor(
    private readonly main: Socket,
    private readonly otherPort: Socket,
    private readonly otherAddress: Socket,
    readonly host: string,
    readonly port: number,
    script: Script | undefined,
  ) {
    this.script = script ?? (() => undefined);
    for (const s of [main, otherPort, otherAddress]) s.on('error', () => undefined);
    main.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  /** Starts listening on loopback. */
  static async start(options: HostileOptions = {}): Promise<HostileUpstream> {
    const host = options.host ?? '127.0.0.1';
    const v6 = isIP(host) === 6;
    const main = createSocket({ type: v6 ? 'udp6' : 'udp4' });
    const otherPort = createSocket({ type: v6 ? 'udp6' : 'udp4' });
    const otherAddress = createSocket({ type: 'udp4' });
    await bind(main, host);
    await bind(otherPort, host);
    await bind(otherAddress, v6 ? '127.0.0.1' : '127.0.0.2');
    return new HostileUpstream(
      main,
      otherPort,
      otherAddress,
      host,
      main.address().port,
      options.script,
    );
  }

  /** `host:port` or `[v6]:port`, for `upstreams`. */
  get endpoint(): string {
    return isIP(this.host) === 6 ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Resolves once every script started so far has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /**
   * Sends `bytes` to `port` on `address` from one of this upstream's sockets, unprompted
   * (e.g. a frame nobody asked for).
   */
  sendTo(address: string, port: number, bytes: Uint8Array, source: Source = 'self'): Promise<void> {
    return this.sendFrom(source, bytes, address, port);
  }

  /** Stops listening; throws if a script failed (a broken test, not a finding). */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.idle().catch(() => undefined);
      await Promise.all([this.main, this.otherPort, this.otherAddress].map(closeSocket));
    }
    if (this.scriptErrors.length > 0) {
      throw new Error(`hostile script failed: ${String(this.scriptErrors[0])}`);
    }
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    let nack: DecodedNack;
    try {
      nack = decodeNack(msg);
    } catch {
      this.notNacks++;
      return;
    }
    const index = this.nacks.length;
    this.nacks.push(nack);
    const from = { address: rinfo.address, port: rinfo.port };
    const turn: HostileTurn = {
      nack,
      index,
      from,
      send: (bytes, source = 'self') => this.sendFrom(source, bytes, from.address, from.port),
    };
    const run = (async () => {
      try {
        await this.script(turn);
      } catch (err) {
        this.scriptErrors.push(err);
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private sendFrom(
    source: Source,
    bytes: Uint8Array,
    address: string,
    port: number,
  ): Promise<void> {
    if (this.closed) return Promise.resolve();
    let socket = this.main;
    let to = address;
    if (source === 'other-port') socket = this.otherPort;
    else if (source === 'other-address') {
      socket = this.otherAddress;
      // From the IPv4 socket, a client on ::1 is reached through its dual-stack socket.
      if (isIP(address) === 6) to = '127.0.0.1';
    }
    return new Promise((resolve, reject) => {
      socket.send(bytes, port, to, (err) => (err ? reject(err) : resolve()));
    });
  }
}

function bind(socket: Socket, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => {
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
