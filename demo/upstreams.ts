import { createSocket } from 'node:dgram';
import { UpstreamEmulator, formatEndpoint } from '../src/testing/index.js';
import type { Stream } from './stream.js';

/** The upstream domain's retry endpoints, as the relay is configured with them. */
export interface Upstreams {
  /** Every endpoint, in the relay's order of preference (the dead one first, if any). */
  endpoints: string[];
  /** The endpoints that answer. */
  live: UpstreamEmulator[];
  /** The endpoint nothing listens on, if `--dead-upstream`. */
  dead: string | undefined;
  /** True when at least one live upstream holds the frame. */
  holds(hashKey: bigint, seq: bigint): boolean;
  close(): Promise<void>;
}

/**
 * Starts `count` upstream emulators on `host`; each holds every frame of the stream except a
 * random `missShare` of them (upstreams have their own losses). With `dead`, the first
 * endpoint is a port nothing listens on: the kernel answers ICMP port unreachable, which the
 * client's connected socket hears at once (an `error` reply), so no NACK waits for a timeout.
 */
export async function startUpstreams(
  host: string,
  count: number,
  dead: boolean,
  missShare: number,
  stream: Stream,
  random: () => number,
): Promise<Upstreams> {
  const live: UpstreamEmulator[] = [];
  const endpoints: string[] = [];
  let deadEndpoint: string | undefined;
  if (dead) {
    deadEndpoint = formatEndpoint(host, await unusedPort(host));
    endpoints.push(deadEndpoint);
  }
  while (endpoints.length < count) {
    const upstream = await UpstreamEmulator.start({ host });
    for (const f of stream.frames) if (random() >= missShare) upstream.put(f.frame);
    live.push(upstream);
    endpoints.push(upstream.endpoint);
  }
  return {
    endpoints,
    live,
    dead: deadEndpoint,
    holds: (hashKey, seq) => live.some((u) => u.has(hashKey, seq)),
    close: () => Promise.all(live.map((u) => u.close())).then(() => undefined),
  };
}

/**
 * A loopback port nothing listens on: bound then released. Another process could take it in
 * between, but on loopback within a demo run that is vanishingly unlikely.
 */
function unusedPort(host: string): Promise<number> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
