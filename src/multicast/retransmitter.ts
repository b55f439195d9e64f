import { optionError } from '../shared/option-check.js';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Requester, Retransmitter } from '../client/components.js';
import { checkOptions, type OptionSpec } from '../shared/option-check.js';
import { resolveGroupOptions } from './options.js';
import { groupAddressFor } from './route.js';
import type { GroupAddressOptions, ResolvedGroupOptions } from './options.js';
import { UnicastSender, unicastSources } from './unicast.js';

/** Stands for "the interface the OS picks" in the socket list. */
const DEFAULT_IFACE = 'default';

/** Where one frame is sent instead of its group (see {@link MulticastRetransmitterOptions.route}). */
export interface Destination {
  /** IP address to send to. */
  address: string;
  /** UDP port to send to. */
  port: number;
}

/** Options of {@link MulticastRetransmitter}. */
export interface MulticastRetransmitterOptions extends GroupAddressOptions {
  /** UDP port of the multicast groups consumers listen on. */
  port: number;
  /**
   * Egress interfaces; each frame is sent once per interface. An entry is an interface name
   * (`'eth1'`) or a scoped address as Node's `setMulticastInterface` takes it (`'::%eth1'`).
   * @default [] (one send, on the interface the OS picks)
   */
  interfaces?: readonly string[];
  /**
   * Multicast hop limit. Raise it when consumers sit behind multicast routers.
   * @default 1 (the local link only)
   */
  hopLimit?: number;
  /** Whether frames are also delivered to listeners on this host. @default true */
  loopback?: boolean;
  /** Local address the sending sockets bind to. @default '::' */
  bindAddress?: string;
  /**
   * Replaces the destination of each frame, e.g. a unicast route to a relay, or `::1` in
   * tests. Receives the group address the frame would have gone to.
   * @default undefined (send to the group)
   * @example (group) => ({ address: '::1', port: 9001 })
   */
  route?: (group: string, frame: Uint8Array) => Destination;
  /**
   * Source address of unicast copies ({@link MulticastRetransmitter.retransmitUnicast}): the
   * local address the unicast socket binds to, as the reference server binds its
   * unicast-retransmit socket to its advertised NACK address (`SetUnicastSource`, set from
   * `BEACON_NACK_ADDR` or the egress interface's address). Set it to the address listeners
   * send their NACKs to, when a firewall or the listener checks where repairs come from. At
   * most one address per family; a requester of a family with no address here is refused.
   * The multicast sockets are unaffected (see `bindAddress`).
   * @default undefined (one socket per family on the wildcard address; the kernel picks the
   * source address per route)
   * @example '2001:db8::20'
   * @example ['2001:db8::20', '192.0.2.20'] // for IPv6 and IPv4 requesters
   */
  unicastSourceAddress?: string | readonly string[];
}

/**
 * A {@link Retransmitter} that sends each recovered frame verbatim to its BRC-129 group
 * (see {@link groupAddressFor}) over IPv6 UDP, once per egress interface, and, for unicast
 * delivery, to one requester ({@link MulticastRetransmitter.retransmitUnicast}).
 *
 * @example
 * ```ts
 * const retransmitter = new MulticastRetransmitter({
 *   port: 9000, scope: 'site', shardBits: 8, interfaces: ['eth1'], hopLimit: 4,
 * });
 * const client = new ProxyClient({ upstreams, cache, retransmitter });
 * // on shutdown, after client.close():
 * await retransmitter.close();
 * ```
 */
export class MulticastRetransmitter implements Retransmitter {
  private readonly options: MulticastRetransmitterOptions;
  private readonly group: ResolvedGroupOptions;
  private readonly interfaces: readonly string[];
  private readonly hopLimit: number;
  private sockets: Promise<Array<{ socket: Socket; iface: string }>> | undefined;
  private readonly unicast: UnicastSender;
  private closed = false;

  /**
   * @throws RangeError when an option is out of range, TypeError when `unicastSourceAddress`
   * is not an IP address (the message names the option).
   */
  constructor(options: MulticastRetransmitterOptions) {
    checkOptions('MulticastRetransmitter', options, {
      port: 'number',
      interfaces: 'array',
      hopLimit: 'number',
      loopback: 'boolean',
      bindAddress: 'string',
      route: 'function',
      scope: 'string',
      groupId: 'number',
      shardBits: 'number',
      beefShardBits: 'number',
      unicastSourceAddress: 'any',
    } satisfies OptionSpec<MulticastRetransmitterOptions>);
    const { port, hopLimit = 1 } = options;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw optionError(
        'ERR_OUT_OF_RANGE',
        `port must be an integer in 1..65535, got ${String(port)}`,
      );
    }
    if (!Number.isInteger(hopLimit) || hopLimit < 0 || hopLimit > 255) {
      throw optionError(
        'ERR_OUT_OF_RANGE',
        `hopLimit must be an integer in 0..255, got ${String(hopLimit)}`,
      );
    }
    this.group = resolveGroupOptions(options);
    this.unicast = new UnicastSender(unicastSources(options.unicastSourceAddress));
    this.options = options;
    this.hopLimit = hopLimit;
    this.interfaces = options.interfaces?.length ? [...options.interfaces] : [DEFAULT_IFACE];
  }

  /** The group address `frame` is sent to with this retransmitter's options. */
  groupAddressFor(frame: Uint8Array): string {
    return groupAddressFor(frame, this.group);
  }

  /**
   * Sends `frame` to its group on every egress interface. Resolves when every send completed;
   * rejects naming the interfaces that failed (the others were still sent).
   */
  async retransmit(frame: Uint8Array, _txId?: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('MulticastRetransmitter is closed');
    const group = this.groupAddressFor(frame);
    const dest = this.options.route?.(group, frame) ?? { address: group, port: this.options.port };
    const sockets = await this.open();
    const results = await Promise.allSettled(
      sockets.map(({ socket }) => send(socket, frame, dest)),
    );
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${sockets[i]!.iface}: ${String(r.reason)}`] : [],
    );
    if (failed.length > 0) {
      throw new Error(
        `retransmit to [${dest.address}]:${dest.port} failed on ${failed.join('; ')}`,
      );
    }
  }

  /**
   * Sends `frame` verbatim by unicast to one listener, `requester.address`:`requester.port`
   * (the source of the NACK that missed), as the reference server's `RetransmitUnicast` does.
   * The frame goes from this retransmitter's unicast socket for the requester's family
   * (IPv4 or IPv6), opened on the first such send and bound to `unicastSourceAddress`; it is
   * neither routed nor sent once per interface. The client calls it once per requester of a
   * recovered gap when its `delivery.unicast` is on.
   *
   * Rejects with a TypeError when `requester` is not `{ address: IP, port: 1..65535 }`, a
   * RangeError when `unicastSourceAddress` has no address of the requester's family, an Error
   * when the send fails or the retransmitter is closed. The client reports a rejection as an
   * `error` event (`component: 'retransmitter'`).
   *
   * @example
   * ```ts
   * const retransmitter = new MulticastRetransmitter({ port: 9001, unicastSourceAddress: '2001:db8::20' });
   * await retransmitter.retransmitUnicast(frame, { address: '2001:db8::77', port: 40123 });
   * ```
   */
  retransmitUnicast(frame: Uint8Array, requester: Requester): Promise<void> {
    if (this.closed) return Promise.reject(new Error('MulticastRetransmitter is closed'));
    return this.unicast.send(frame, requester);
  }

  /** Closes the sockets (multicast and unicast). Later `retransmit` and `retransmitUnicast` calls reject. */
  async close(): Promise<void> {
    this.closed = true;
    const unicast = this.unicast.close();
    const pending = this.sockets;
    this.sockets = undefined;
    if (pending !== undefined) {
      const sockets = await pending.catch(() => []);
      await Promise.all(
        sockets.map(({ socket }) => new Promise<void>((r) => socket.close(() => r()))),
      );
    }
    await unicast;
  }

  private open(): Promise<Array<{ socket: Socket; iface: string }>> {
    this.sockets ??= this.openAll().catch((err: unknown) => {
      this.sockets = undefined; // the next retransmit tries again
      throw err;
    });
    return this.sockets;
  }

  private async openAll(): Promise<Array<{ socket: Socket; iface: string }>> {
    const results = await Promise.allSettled(this.interfaces.map((i) => this.openOne(i)));
    const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = results.find((r) => r.status === 'rejected');
    if (failure === undefined) return opened;
    for (const { socket } of opened) socket.close();
    throw failure.reason;
  }

  private async openOne(iface: string): Promise<{ socket: Socket; iface: string }> {
    const socket = createSocket({ type: 'udp6' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, this.options.bindAddress ?? '::', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      if (iface !== DEFAULT_IFACE) socket.setMulticastInterface(scopedInterface(iface));
      socket.setMulticastTTL(this.hopLimit);
      socket.setMulticastLoopback(this.options.loopback ?? true);
    } catch (err) {
      socket.close();
      throw err;
    }
    // Send errors arrive through callbacks; this keeps a stray 'error' from crashing the host.
    socket.on('error', () => undefined);
    return { socket, iface };
  }
}

/**
 * `eth1` or `::%eth1` as `::%eth1`, after checking the interface exists: Node silently falls
 * back to the default interface for an unknown name.
 */
function scopedInterface(iface: string): string {
  const scoped = iface.includes(':') ? iface : `::%${iface}`;
  const name = scoped.slice(scoped.lastIndexOf('%') + 1);
  if (!scoped.includes('%') || /^\d+$/.test(name)) return scoped;
  if (!Object.hasOwn(networkInterfaces(), name)) {
    throw new Error(`egress interface ${name} not found (interfaces: ${iface})`);
  }
  return scoped;
}

function send(socket: Socket, frame: Uint8Array, dest: Destination): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(frame, dest.port, dest.address, (err) => (err ? reject(err) : resolve()));
  });
}
