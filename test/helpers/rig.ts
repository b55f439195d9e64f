import { createSocket } from 'node:dgram';
import { ProxyClient, UdpTransport, type ProxyClientOptions } from '../../src/index.js';
import type {
  DedupedEvent,
  DroppedEvent,
  ComponentError,
  FailedEvent,
  RecoveredEvent,
} from '../../src/client/events.js';
import type { UdpTransportOptions, UdpTransportStats } from '../../src/transport/udp.js';
import { RecordingCache, RecordingRetransmitter } from '../../src/testing/index.js';

const IGNORE_COUNTERS = [
  'foreignSource',
  'unsolicited',
  'malformed',
  'wrongGap',
  'legacyFrame',
  'mismatchedSeq',
  'acks',
  'lateReplies',
  'trailingAcks',
  'rejectedFrames',
] as const;

/** Every event a client emitted, by name. */
export interface Events {
  recovered: RecoveredEvent[];
  failed: FailedEvent[];
  deduped: DedupedEvent[];
  dropped: DroppedEvent[];
  error: ComponentError[];
}

/** Subscribes to every outcome event of `client`. */
export function collect(client: ProxyClient): Events {
  const e: Events = { recovered: [], failed: [], deduped: [], dropped: [], error: [] };
  client.on('recovered', (x) => e.recovered.push(x));
  client.on('failed', (x) => e.failed.push(x));
  client.on('deduped', (x) => e.deduped.push(x));
  client.on('dropped', (x) => e.dropped.push(x));
  client.on('error', (x) => e.error.push(x));
  return e;
}

/** A UdpTransport whose sockets have a 4 MiB receive buffer, so test floods are not lost. */
export function roomyTransport(options: UdpTransportOptions = {}): UdpTransport {
  return new UdpTransport({
    createSocket: (family) =>
      createSocket({
        type: family === 6 ? 'udp6' : 'udp4',
        recvBufferSize: 4 * 1024 * 1024,
        reuseAddr: true,
      }),
    ...options,
  });
}

/** A client over a real UdpTransport with recording components. */
export interface Rig {
  client: ProxyClient;
  transport: UdpTransport;
  cache: RecordingCache;
  retransmitter: RecordingRetransmitter;
  events: Events;
  /**
   * Sum of the transport counters for ignored datagrams (not `sent`, `socketErrors`,
   * `unreachable` or `unconnectedLines`, which count events rather than datagrams).
   */
  ignored(): number;
  /** The transport's counters. */
  counters(): UdpTransportStats;
  close(): Promise<void>;
}

/** Builds a {@link Rig}; the caller closes it. */
export function rig(
  options: Omit<ProxyClientOptions, 'cache' | 'retransmitter' | 'transport'>,
  transportOptions: UdpTransportOptions = {},
): Rig {
  const transport = roomyTransport(transportOptions);
  const cache = new RecordingCache();
  const retransmitter = new RecordingRetransmitter();
  const client = new ProxyClient({ ...options, cache, retransmitter, transport });
  const events = collect(client);
  return {
    client,
    transport,
    cache,
    retransmitter,
    events,
    counters: () => transport.stats(),
    ignored: () => {
      const s = transport.stats();
      return IGNORE_COUNTERS.reduce((n, k) => n + s[k], 0);
    },
    close: async () => {
      await client.close();
      await transport.close();
    },
  };
}

/** Every ignore counter: the given ones, all others zero (to compare with `ignoreCounters`). */
export function counts(expected: Partial<UdpTransportStats>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of IGNORE_COUNTERS) out[n] = expected[n] ?? 0;
  return out;
}

/** Picks the ignore counters out of `stats` (same keys as {@link counts}). */
export function ignoreCounters(stats: UdpTransportStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of IGNORE_COUNTERS) out[n] = stats[n];
  return out;
}
