import { createSocket } from 'node:dgram';
import { UdpTransport, type UdpTransportOptions, type UdpTransportStats } from '../../src/index.js';

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

/**
 * The transport counters of ignored datagrams (not `sent`, `socketErrors`, `unreachable` or
 * `unconnectedLines`, which count events rather than datagrams).
 */
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

/** How many datagrams `transport` has ignored so far, for any reason. */
export function ignoredTotal(transport: UdpTransport): number {
  const s = transport.stats();
  return IGNORE_COUNTERS.reduce((n, k) => n + s[k], 0);
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
