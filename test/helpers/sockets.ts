/**
 * Socket bookkeeping for the socket-bound tests: a silent upstream (a bound UDP socket that
 * never answers) and a sampler of a transport's `socketCount`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { formatEndpoint } from '../../src/testing/index.js';

/** A bound UDP socket that counts what it receives and never answers. */
export interface SilentUpstream {
  readonly endpoint: string;
  /** Datagrams received. */
  readonly received: number;
  /** Source ports the datagrams came from. */
  readonly ports: ReadonlySet<number>;
  readonly socket: Socket;
  close(): Promise<void>;
}

export async function silentUpstream(host = '::1'): Promise<SilentUpstream> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const ports = new Set<number>();
  let received = 0;
  socket.on('message', (_msg, rinfo) => {
    received++;
    ports.add(rinfo.port);
  });
  return {
    endpoint: formatEndpoint(host, socket.address().port),
    get received() {
      return received;
    },
    ports,
    socket,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/**
 * The highest `socketCount` seen: on every {@link SocketPeak.sample} (call it at each
 * exchange's start and end) and on a 1 ms interval in between. `stop()` ends the interval.
 */
export class SocketPeak {
  peak = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly source: { readonly socketCount: number }) {
    this.timer = setInterval(() => this.sample(), 1);
  }

  sample(): void {
    this.samples++;
    const n = this.source.socketCount;
    if (n > this.peak) this.peak = n;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  /** Stops sampling (for a leak check's clean-up after a failed test). */
  close(): void {
    clearInterval(this.timer);
  }
}

/** Runs `task(i)` for i in 0..count-1, at most `concurrency` at a time. */
export async function pooled(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}
