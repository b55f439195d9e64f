/**
 * The unicast path of the retransmitter: one UDP socket per address family, opened on first
 * use, that sends a recovered frame to the listener that asked for it.
 * @module
 */
import { optionError } from '../shared/option-check.js';
import { bindUdp } from '../shared/bind.js';
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Requester } from '../client/components.js';

type Family = 4 | 6;

/** An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`), as a dual-stack socket reports IPv4 peers. */
const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * Reads and checks `unicastSourceAddress`: at most one address per family.
 * @throws TypeError naming the option when an entry is not an IP address, or two share a family.
 */
export function unicastSources(
  value: string | readonly string[] | undefined,
): ReadonlyMap<Family, string> {
  const sources = new Map<Family, string>();
  if (value === undefined) return sources;
  const list: readonly unknown[] = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) {
    throw optionError(
      'ERR_INVALID_ARG_VALUE',
      `unicastSourceAddress must be an IP address or a list of them, got ${typeof value}`,
    );
  }
  for (const address of list) {
    const family = typeof address === 'string' ? isIP(address) : 0;
    if (family === 0) {
      throw optionError(
        'ERR_INVALID_ARG_VALUE',
        `unicastSourceAddress must be an IP address or a list of them, got ${JSON.stringify(address)}`,
      );
    }
    const f = family as Family;
    if (sources.has(f)) {
      throw optionError(
        'ERR_INVALID_ARG_VALUE',
        `unicastSourceAddress has two IPv${f} addresses (${String(sources.get(f))}, ` +
          `${String(address)}): give at most one per family`,
      );
    }
    sources.set(f, address as string);
  }
  return sources;
}

/** Why `requester` cannot be sent to, or undefined when it can. */
function requesterProblem(requester: unknown): string | undefined {
  if (typeof requester !== 'object' || requester === null) {
    return `requester must be an object { address, port }, got ${requester === null ? 'null' : typeof requester}`;
  }
  const { address, port } = requester as Record<string, unknown>;
  if (typeof address !== 'string' || isIP(address) === 0) {
    return `requester.address must be an IP address, got ${JSON.stringify(address) ?? 'undefined'}`;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    return `requester.port must be an integer in 1..65535, got ${String(port)}`;
  }
  return undefined;
}

/** `[v6]` or `v4`, for messages. */
function bracket(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/**
 * Sends frames by unicast from one socket per family (IPv4, IPv6), each opened on first use
 * and bound to the configured source address of its family, else to the wildcard address
 * (the kernel picks the source per route).
 */
export class UnicastSender {
  private readonly sockets = new Map<Family, Promise<Socket>>();
  private closed = false;

  constructor(private readonly sources: ReadonlyMap<Family, string>) {}

  /**
   * Sends `frame` to `requester`. Rejects with a TypeError or RangeError for a requester that
   * is not `{ address: IP, port: 1..65535 }`, or one this sender has no source for; with the
   * socket's error when the send fails.
   */
  async send(frame: Uint8Array, requester: Requester): Promise<void> {
    if (this.closed) throw new Error('MulticastRetransmitter is closed');
    const problem = requesterProblem(requester);
    if (problem !== undefined) throw new TypeError(`retransmitUnicast: ${problem}`);
    if (!(frame instanceof Uint8Array) || frame.length === 0) {
      throw new TypeError('retransmitUnicast: frame must be non-empty bytes');
    }
    const { family, address } = this.route(requester.address);
    const socket = await this.open(family);
    const port = requester.port;
    await new Promise<void>((resolve, reject) => {
      socket.send(frame, port, address, (err) =>
        err
          ? reject(
              new Error(
                `unicast retransmit to ${bracket(address)}:${port} failed: ${err.message}`,
                {
                  cause: err,
                },
              ),
            )
          : resolve(),
      );
    });
  }

  /** Closes the sockets; later sends reject. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.sockets.values()];
    this.sockets.clear();
    const sockets = await Promise.all(pending.map((p) => p.catch(() => undefined)));
    const open = sockets.filter((s): s is Socket => s !== undefined);
    await Promise.all(open.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  /**
   * The family and address to send to. An IPv4-mapped IPv6 requester is sent to as IPv4 when
   * only an IPv4 source is configured (a specific IPv4 source cannot reach it through IPv6).
   */
  private route(address: string): { family: Family; address: string } {
    const family = isIP(address) as Family;
    const mapped = MAPPED_V4.exec(address)?.[1];
    if (mapped !== undefined && this.sources.has(4) && !this.sources.has(6)) {
      return { family: 4, address: mapped };
    }
    if (this.sources.size > 0 && !this.sources.has(family)) {
      const configured = [...this.sources.values()].join(', ');
      throw new RangeError(
        `retransmitUnicast: requester ${address} is IPv${family}, ` +
          `but unicastSourceAddress (${configured}) has no IPv${family} address`,
      );
    }
    return { family, address };
  }

  private open(family: Family): Promise<Socket> {
    let socket = this.sockets.get(family);
    if (socket === undefined) {
      socket = this.bind(family);
      this.sockets.set(family, socket);
      // A failed bind is not kept: the next send tries again.
      socket.catch(() => {
        if (this.sockets.get(family) === socket) this.sockets.delete(family);
      });
    }
    return socket;
  }

  private async bind(family: Family): Promise<Socket> {
    const address = this.sources.get(family) ?? (family === 4 ? '0.0.0.0' : '::');
    let socket: Socket;
    try {
      socket = await bindUdp(family, address);
    } catch (err) {
      throw new Error(
        `unicast retransmit socket: cannot bind ${bracket(address)}: ${String(err)}`,
        { cause: err },
      );
    }
    // Send errors arrive through callbacks; this keeps a stray 'error' from crashing the host.
    socket.on('error', () => undefined);
    return socket;
  }
}
