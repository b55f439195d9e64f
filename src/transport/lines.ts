import { createSocket as createDgramSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Target } from './resolver.js';

/**
 * One request at a time to one upstream, over a pair of sockets sharing a local port:
 *
 * - `nack` is connected to the upstream's NACK address and port. It sends the NACKs and
 *   receives the replies from that port (ACK, MISS, THROTTLED) and the ICMP errors of a
 *   closed port (`ECONNREFUSED` at once, where an unconnected socket would see nothing).
 * - `frames` is unconnected, bound to the same port with SO_REUSEADDR. It receives the frame
 *   copy, which the reference server sends from its unicast-retransmit socket (another port).
 *
 * In unconnected mode `nack` is not connected and `frames` is undefined: one socket gets
 * everything, and a closed port is only noticed by timing out.
 */
export interface Line {
  readonly nack: Socket;
  readonly frames: Socket | undefined;
  /** The local port this line picked (see {@link freePort}), until it closes. */
  readonly port: string | undefined;
  readonly target: Target;
  /** `nack` is connected (the kernel filters its sources; ICMP errors reach it). */
  readonly connected: boolean;
  /** The exchange waiting on this line. */
  pending: LineUser | undefined;
  /** Not used again before this time: a late reply to an unanswered NACK may still come. */
  coolUntil: number;
  /**
   * The sequence number of the last frame received here: the reference server sends the
   * frame before its ACK, so that ACK arrives after the exchange ended.
   */
  lastFrameSeq: bigint | undefined;
  closed: boolean;
}

/** What a line reports to whoever is using it. */
export interface LineUser {
  datagram(line: Line, msg: Buffer, rinfo: RemoteInfo, viaNackSocket: boolean): void;
  failed(line: Line, err: Error): void;
  /** The line is being closed under it (the transport is closing). */
  closed(): void;
}

/** How lines are opened. */
export interface LineSettings {
  bindAddress: string | undefined;
  createSocket: ((family: 4 | 6) => Socket) | undefined;
  connected: boolean;
  /** Datagrams that arrive while no exchange waits on the line, and socket errors. */
  stray(line: Line, msg: Buffer | undefined, rinfo: RemoteInfo | undefined, err?: Error): void;
}

/**
 * Opens a line to `target`. Falls back to unconnected mode when the second socket cannot
 * share the port (a host's `createSocket` without `reuseAddr`, or a platform that refuses).
 */
export async function openLine(target: Target, settings: LineSettings): Promise<Line> {
  const make = (): Socket =>
    settings.createSocket?.(target.family) ??
    createDgramSocket({ type: target.family === 6 ? 'udp6' : 'udp4', reuseAddr: true });
  const nack = make();
  let frames: Socket | undefined;
  let port: string | undefined;
  try {
    if (!isBound(nack)) {
      const free = await freePort(target.family, settings.bindAddress);
      port = free.key;
      await bind(nack, free.port, settings.bindAddress);
    }
    if (settings.connected) {
      frames = make();
      try {
        await bind(frames, nack.address().port, settings.bindAddress);
        await connect(nack, target);
      } catch {
        await closeSocket(frames);
        frames = undefined;
      }
    }
  } catch (err) {
    if (port !== undefined) heldPorts.delete(port);
    await closeSocket(nack);
    throw err;
  }
  const line: Line = {
    nack,
    frames,
    port,
    target,
    connected: frames !== undefined,
    pending: undefined,
    coolUntil: 0,
    lastFrameSeq: undefined,
    closed: false,
  };
  // Idle sockets never hold the process open; an exchange in flight holds its timer.
  nack.unref();
  frames?.unref();
  nack.on('message', (msg, rinfo) => {
    const user = line.pending;
    if (user !== undefined) user.datagram(line, msg, rinfo, true);
    else settings.stray(line, msg, rinfo);
  });
  nack.on('error', (err) => {
    const user = line.pending;
    if (user !== undefined) user.failed(line, err);
    else settings.stray(line, undefined, undefined, err);
  });
  frames?.on('message', (msg, rinfo) => {
    const user = line.pending;
    if (user !== undefined) user.datagram(line, msg, rinfo, false);
    else settings.stray(line, msg, rinfo);
  });
  frames?.on('error', (err) => settings.stray(line, undefined, undefined, err));
  return line;
}

/**
 * Closes both sockets. A line closed during its late-reply guard keeps its port from new
 * lines until the guard ends: a new line to the same upstream on that port would otherwise
 * hear the late MISS, which carries no sequence number, as its own answer.
 */
export function closeLine(line: Line, now = performance.now()): Promise<void> {
  line.closed = true;
  if (line.port !== undefined) {
    heldPorts.delete(line.port);
    if (line.coolUntil > now) guardPort(line.port, line.coolUntil, now);
  }
  return Promise.all([closeSocket(line.nack), line.frames && closeSocket(line.frames)]).then(
    () => undefined,
  );
}

/**
 * Local ports (`family:port`) held by lines of this process. Port selection is a
 * process-wide matter: every transport in the process must see every other's ports.
 */
const heldPorts = new Set<string>();

/**
 * Ports of lines closed during their late-reply guard, with the time the guard ends, in
 * the order they were closed (one guard length per transport, so mostly by end time).
 */
const guardedPorts = new Map<string, number>();

function guardPort(key: string, until: number, now: number): void {
  // Forget guards that ended, oldest first: amortised O(1) per closed line.
  for (const [k, end] of guardedPorts) {
    if (end > now) break;
    guardedPorts.delete(k);
  }
  guardedPorts.delete(key); // re-inserted at the end, in closing order
  guardedPorts.set(key, until);
}

/**
 * True when a new line may take port `key` (`family:port`): no line holds it, and no
 * late-reply guard runs on it. Exported for tests.
 */
export function portFree(key: string, now: number): boolean {
  if (heldPorts.has(key)) return false;
  const until = guardedPorts.get(key);
  if (until === undefined) return true;
  if (until > now) return false;
  guardedPorts.delete(key);
  return true;
}

/**
 * A local port for a new line that no socket holds. A bind to port 0 with SO_REUSEADDR may
 * be given a port another SO_REUSEADDR socket already holds (Linux only avoids ports it
 * would conflict with), and the kernel would then hand one line's frame copies to the
 * other. A socket bound without it is given a port nobody holds; it is closed at once and
 * the port taken over, and ports this process picked for its own lines are never picked
 * twice (a concurrent pick could otherwise see the same, just-freed port), nor while the
 * late-reply guard of a line closed on them runs. Against silence those guarded ports may
 * be a good share of the ephemeral range (the kernel picks at random), hence the tries.
 */
async function freePort(
  family: 4 | 6,
  address: string | undefined,
): Promise<{ port: number; key: string }> {
  for (let attempt = 0; ; attempt++) {
    const probe = createDgramSocket(family === 6 ? 'udp6' : 'udp4');
    let port: number;
    try {
      await bind(probe, 0, address);
      port = probe.address().port;
    } finally {
      await closeSocket(probe);
    }
    const key = `${family}:${port}`;
    if (portFree(key, performance.now())) {
      heldPorts.add(key);
      return { port, key };
    }
    if (attempt >= 64) throw new Error('no free local UDP port for a new connection');
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

function bind(socket: Socket, port: number, address: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function connect(socket: Socket, target: Target): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(target.port, target.address, () => {
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
      resolve(); // already closed by its owner
    }
  });
}
