/**
 * Faults below the client, over real loopback sockets: DNS lookups that fail, hang or
 * answer nonsense, and ICMP port-unreachable from a closed port. The next upstream serves,
 * the transport keeps working, and every gap still ends in exactly one outcome.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { Lookup, UdpTransport } from '../../src/index.js';
import {
  RecordingDeduper,
  UpstreamEmulator,
  buildFrame,
  type RecordingCache,
  type RecordingRecorder,
} from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { harness, type HarnessOptions } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { roomyTransport } from '../helpers/udp.js';
import { within } from '../helpers/wait.js';

const leaks = useLeakCheck();

/**
 * A harness over `transport` with a RecordingDeduper, short component timeouts and no
 * failure memory; closed (with its transport) after the test.
 */
function udpClient(
  transport: UdpTransport,
  extra: Omit<HarnessOptions<UdpTransport, RecordingCache, RecordingRecorder>, 'transport'>,
) {
  return leaks.closeAfter(
    harness({
      deduper: new RecordingDeduper(),
      componentTimeoutMs: 50,
      failureMemoryMs: 0,
      ...extra,
      transport,
    }),
  );
}

describe('DNS failures (UdpTransport lookup)', () => {
  async function emulator(): Promise<UpstreamEmulator> {
    return leaks.closeAfter(await UpstreamEmulator.start({ host: '::1' }));
  }

  const lookups: [string, Lookup][] = [
    [
      'rejects',
      () =>
        Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })),
    ],
    [
      'throws synchronously',
      () => {
        throw new Error('lookup exploded');
      },
    ],
    ['never answers', () => new Promise(() => undefined)],
    [
      'answers a name, not an address',
      () => Promise.resolve({ address: 'upstream.example', family: 4 }),
    ],
    ['answers null', () => Promise.resolve(null as never)],
    ['answers an address nobody listens on', () => Promise.resolve({ address: '::1', family: 6 })],
  ];

  it.each(lookups)('a lookup that %s: the next upstream serves', async (_, lookup) => {
    const emu = await emulator();
    emu.put(buildFrame({ hashKey: 3n, seq: 1n }));
    emu.put(buildFrame({ hashKey: 3n, seq: 2n }));
    const transport = roomyTransport({ lookup });
    const h = udpClient(transport, {
      upstreams: ['upstream.example:9', emu.endpoint],
      timeoutMs: 200,
      gapDeadlineMs: 20_000,
    });
    h.client.enqueue({ hashKey: 3n, startSeq: 1n });
    h.client.enqueue({ hashKey: 3n, startSeq: 2n });
    await within(h.client.onIdle(), 'onIdle with a failing lookup');
    const s = h.client.stats();
    expect(s).toMatchObject({ recovered: 2, failedTotal: 0 });
    expect(h.events.recovered.every((e) => e.upstream === emu.endpoint)).toBe(true);
    expect(s.upstreams[0]?.replies.frame).toBe(0);
    expectAccounting(s, h.events);
  });

  it('a lookup that misreports the family still reaches the upstream', async () => {
    const emu = await emulator();
    emu.put(buildFrame({ hashKey: 3n, seq: 1n }));
    const transport = roomyTransport({
      lookup: () => Promise.resolve({ address: '::1', family: 4 }),
    });
    const h = udpClient(transport, {
      upstreams: [`upstream.example:${emu.port}`],
      timeoutMs: 2000,
    });
    h.client.enqueue({ hashKey: 3n, startSeq: 1n });
    await h.client.onIdle();
    expect(h.client.stats()).toMatchObject({ recovered: 1 });
  });

  it('a lookup that fails once is asked again next time', async () => {
    const emu = await emulator();
    emu.putRange(3n, 1n, 2n);
    let calls = 0;
    const lookup: Lookup = () =>
      calls++ === 0
        ? Promise.reject(new Error('SERVFAIL'))
        : Promise.resolve({ address: '::1', family: 6 });
    const transport = roomyTransport({ lookup });
    const h = udpClient(transport, {
      upstreams: [`upstream.example:${emu.port}`],
      timeoutMs: 2000,
    });
    h.client.enqueue({ hashKey: 3n, startSeq: 1n });
    await h.client.onIdle();
    h.client.enqueue({ hashKey: 3n, startSeq: 2n });
    await h.client.onIdle();
    expect(h.client.stats()).toMatchObject({ recovered: 1, failed: { exhausted: 1 } });
    expect(h.events.recovered[0]?.seq).toBe(2n);
  });
});

describe('ICMP port unreachable (NACK to a closed loopback port)', () => {
  async function closedPort(host: string): Promise<number> {
    const s = createSocket(host === '::1' ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => s.bind(0, host, resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }

  it.each(['127.0.0.1', '::1'])(
    'on %s: the next upstream serves, the socket keeps working',
    async (host) => {
      const emu = leaks.closeAfter(await UpstreamEmulator.start({ host }));
      emu.putRange(4n, 0n, 9n);
      const port = await closedPort(host);
      const dead = host === '::1' ? `[::1]:${port}` : `127.0.0.1:${port}`;
      const transport = roomyTransport();
      const h = udpClient(transport, {
        upstreams: [dead, emu.endpoint],
        timeoutMs: 5000,
        demoteAfter: 2,
      });
      for (let s = 0; s < 10; s++) h.client.enqueue({ hashKey: 4n, startSeq: BigInt(s) });
      await within(h.client.onIdle(), 'onIdle with an unreachable upstream');
      const s = h.client.stats();
      expect(s).toMatchObject({ recovered: 10, failedTotal: 0, hedges: 0 });
      expect(h.events.recovered.every((e) => e.upstream === emu.endpoint)).toBe(true);
      // The connected socket heard the ICMP error: each attempt ended at once as an error,
      // never as a timeout (5 s here) and never hedged past.
      const deadStats = s.upstreams.find((u) => u.upstream === dead);
      expect(deadStats?.replies).toMatchObject({ frame: 0, timeout: 0, overtaken: 0 });
      expect(deadStats?.replies.error).toBeGreaterThan(0);
      expect(deadStats?.state).toBe('demoted');
      expect(transport.stats().unreachable).toBe(deadStats?.replies.error);
      expect(s.errors.transport).toBe(0);
    },
  );
});
