import type { Socket } from 'node:dgram';
import type { OptionSpec } from '../shared/option-check.js';
import type { Lookup } from './resolver.js';

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
   * How long a resolved host name is used before it is looked up again, in ms. The lookup
   * runs in the background and the last address is used meanwhile (and kept if it fails),
   * so no exchange waits for a refresh.
   * @default 30000
   */
  resolveTtlMs?: number;
  /**
   * After an exchange times out or is aborted, its connection is not used again for this
   * long (or is closed, see {@link UdpTransportOptions.maxIdleSockets}), so a late MISS
   * (which carries no sequence number) is never credited to a later request.
   * @default 2000
   */
  lateReplyGuardMs?: number;
  /**
   * Connections (socket pairs) kept open while no exchange uses them, counted across every
   * upstream of this transport (not per upstream): idle ones, and those resting out
   * `lateReplyGuardMs` after a timeout. Past it the least recently used is closed, and a
   * connection whose exchange timed out is closed instead of rested (a late reply to a
   * closed socket is dropped, and its port is not reused before the guard ends). So the
   * transport holds at most 2 × (exchanges in flight + `maxIdleSockets`) sockets (one per
   * connection in unconnected mode), however many upstreams are silent. The default keeps up
   * to 32 sockets beyond those in use: enough for the client's default 4 workers, and their
   * hedges, to reuse connections to a few upstreams; with many more workers, connections
   * that come back together past it are closed and reopened. `0` closes each connection
   * when its exchange ends.
   * @default 16
   */
  maxIdleSockets?: number;
}

/** Every option of {@link UdpTransportOptions} and the kind of its value. */
export const UDP_TRANSPORT_OPTIONS: OptionSpec<UdpTransportOptions> = {
  bindAddress: 'string',
  createSocket: 'function',
  connected: 'boolean',
  frameSource: 'string',
  lookup: 'function',
  resolveTtlMs: 'number',
  lateReplyGuardMs: 'number',
  maxIdleSockets: 'number',
};

/** Counters of {@link UdpTransport}: datagrams ignored by reason, and socket events. */
export type UdpTransportStats = {
  /** NACKs sent. */
  sent: number;
  /**
   * Datagrams from a source that may not answer: another host, or a 16-byte response from
   * another port than the asked one.
   */
  foreignSource: number;
  /** Datagrams from the upstream while nothing was asked on that connection. */
  unsolicited: number;
  /** Frames or responses that do not decode. */
  malformed: number;
  /** Well-formed frames for another gap. */
  wrongGap: number;
  /** Legacy frames (no HashKey/SeqNum): never a recovered frame. */
  legacyFrame: number;
  /** ACK or THROTTLED for another sequence number. */
  mismatchedSeq: number;
  /** ACKs received (the frame is a separate datagram). */
  acks: number;
  /** Replies to an exchange that had already timed out or been aborted. */
  lateReplies: number;
  /** Socket errors outside an exchange. */
  socketErrors: number;
  /** Exchanges ended by ICMP unreachable (a closed port): asked again elsewhere at once. */
  unreachable: number;
  /** Frames for the gap that the client's content check refused. */
  rejectedFrames: number;
  /** Connections opened unconnected (fallback, or `connected: false`). */
  unconnectedLines: number;
  /** ACKs for a frame already received (the reference server sends the frame first). */
  trailingAcks: number;
};

export const COUNTERS: readonly (keyof UdpTransportStats)[] = [
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
];
