import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { FLAG_PROXIED, UdpTransport } from '../../src/index.js';
import { cacheKeyHex } from '../../src/wire/index.js';
import { UpstreamEmulator, type EmulatorOptions } from '../../src/testing/index.js';
import { harness, type ClientOptions } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { stillOpen } from '../helpers/ports.js';

describe('recovery over loopback UDP', () => {
  const leaks = useLeakCheck();

  async function upstream(options: EmulatorOptions = {}): Promise<UpstreamEmulator> {
    return leaks.closeAfter(await UpstreamEmulator.start(options));
  }

  /** A client over `transport`, or over the UdpTransport it builds itself; closed after the test. */
  function client(options: ClientOptions & { upstreams: string[]; transport?: UdpTransport }) {
    const { transport, ...rest } = options;
    return leaks.closeAfter(harness({ timeoutMs: 150, ...rest, transport: transport ?? 'own' }));
  }

  it.each(['retry-endpoint', 'serve', 'frame-first'] as const)(
    'recovers when the upstream answers as %s (ACK and frame in either order, frame from any port of its host)',
    async (mode) => {
      const up = await upstream({ behaviour: { mode } });
      up.putRange(7n, 100n, 109n);
      const { client: c, cache, retransmitter } = client({ upstreams: [up.endpoint] });
      expect(c.enqueue({ hashKey: 7n, startSeq: 100n, endSeq: 109n })).toBe(true);
      await c.onIdle();
      expect(c.stats()).toMatchObject({ requests: 10, recovered: 10, failedTotal: 0 });
      expect(cache.stored.map((s) => s.key).sort()).toEqual(
        Array.from({ length: 10 }, (_, i) => cacheKeyHex(7n, 100n + BigInt(i))).sort(),
      );
      expect(retransmitter.frames).toHaveLength(10);
      // Every NACK on the wire is a proxied single-frame NACK.
      expect(
        up.received.every(
          (r) => r.nack.flags === FLAG_PROXIED && r.nack.startSeq === r.nack.endSeq,
        ),
      ).toBe(true);
      expect(up.stats()).toMatchObject({ nacks: 10, framesSent: 10 });
      // retry-endpoint sends the frames from its unicast socket, another port of its host.
      if (mode === 'retry-endpoint') expect(up.unicastPort).not.toBe(up.port);
      expect(c.stats().transport).toMatchObject({ foreignSource: 0, wrongGap: 0, malformed: 0 });
    },
  );

  it('moves to the next upstream on MISS without waiting', async () => {
    const a = await upstream();
    const b = await upstream();
    b.putRange(1n, 1n, 1n);
    const { client: c } = client({
      upstreams: [a.endpoint, b.endpoint],
      timeoutMs: 5000,
      gapDeadlineMs: 10_000,
    });
    const ended = new Promise((r) => c.once('recovered', r));
    c.enqueue({ hashKey: 1n, startSeq: 1n });
    await ended;
    expect(a.stats().misses).toBe(1);
    expect(c.stats().upstreams.map((u) => u.replies)).toMatchObject([{ miss: 1 }, { frame: 1 }]);
  });

  it('moves on after a silent upstream times out, and honours maxEndpoints', async () => {
    const silent = await upstream({ behaviour: { mode: 'silent' } });
    const missing = await upstream();
    const serving = await upstream();
    serving.putRange(1n, 1n, 2n);
    const one = client({
      upstreams: [silent.endpoint, missing.endpoint, serving.endpoint],
      timeoutMs: 40,
    });
    one.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await one.client.onIdle();
    expect(one.client.stats().recovered).toBe(1);
    expect([silent.stats().nacks, missing.stats().nacks, serving.stats().nacks]).toEqual([1, 1, 1]);

    const two = client({
      upstreams: [silent.endpoint, missing.endpoint, serving.endpoint],
      timeoutMs: 40,
      maxEndpoints: 2,
    });
    const failed = new Promise((r) => two.client.once('failed', r));
    two.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await expect(failed).resolves.toMatchObject({ reason: 'exhausted', attempts: 2 });
    expect(serving.nacksFor(1n, 2n)).toHaveLength(0);
  });

  it('holds a THROTTLED hint and asks the same upstream again', async () => {
    const up = await upstream({
      behaviour: { mode: 'throttle', throttleBucket: 0, throttleTimes: 2 },
    });
    up.putRange(1n, 5n, 5n);
    const { client: c } = client({ upstreams: [up.endpoint] });
    c.enqueue({ hashKey: 1n, startSeq: 5n });
    await c.onIdle();
    const times = up.received.map((r) => r.at);
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(120); // 125 ms << 0, less timer slack
    expect(c.stats()).toMatchObject({ recovered: 1, throttleHolds: 2 });
  });

  it('ignores a frame for another gap and a frame from another host: nothing cached', async () => {
    const wrong = await upstream({ behaviour: { mode: 'wrong-frame' } });
    wrong.putRange(1n, 1n, 2n);
    // Its frame copy comes from 127.0.0.2: another host, refused without frameSource 'any'.
    const otherHost = await upstream({
      host: '127.0.0.1',
      retryEndpoint: { unicastHost: '127.0.0.2' },
    });
    otherHost.putRange(1n, 1n, 2n);
    const {
      client: c,
      cache,
      retransmitter,
    } = client({ upstreams: [wrong.endpoint, otherHost.endpoint], timeoutMs: 60 });
    c.enqueue({ hashKey: 1n, startSeq: 1n });
    await c.onIdle();
    expect(c.stats().failed.exhausted).toBe(1);
    expect(cache.stored).toHaveLength(0);
    expect(retransmitter.frames).toHaveLength(0);
    expect(otherHost.stats()).toMatchObject({ framesSent: 1, acks: 1 });
    // Each upstream's ACK came from its NACK port while its exchange waited: counted.
    expect(c.stats().transport).toMatchObject({ wrongGap: 1, foreignSource: 1, acks: 2 });
  });

  it('ACK alone is not a recovery: waits for the frame, then times out', async () => {
    const up = await upstream({ behaviour: { mode: 'ack-only' } });
    up.putRange(1n, 1n, 1n);
    const { client: c } = client({ upstreams: [up.endpoint], timeoutMs: 50 });
    c.enqueue({ hashKey: 1n, startSeq: 1n });
    await c.onIdle();
    expect(c.stats()).toMatchObject({
      recovered: 0,
      failed: { exhausted: 1 },
      transport: { acks: 1 },
    });
    expect(c.stats().upstreams[0]?.replies.timeout).toBe(1);
  });

  it('works over IPv4 and with a host name resolved through lookup', async () => {
    const v4 = await upstream({ host: '127.0.0.1' });
    v4.putRange(2n, 1n, 3n);
    const asked: string[] = [];
    const transport = new UdpTransport({
      lookup: (host) => {
        asked.push(host);
        return Promise.resolve({ address: '127.0.0.1', family: 4 });
      },
    });
    const { client: c } = client({ upstreams: [`upstream-a.test:${v4.port}`], transport });
    c.enqueue({ hashKey: 2n, startSeq: 1n, endSeq: 3n });
    await c.onIdle();
    expect(c.stats().recovered).toBe(3);
    expect(asked).toEqual(['upstream-a.test']); // resolved once, then reused
  });

  it('resolves localhost with the system resolver', async () => {
    const v4 = await upstream({ host: '127.0.0.1' });
    const v6 = await upstream({ host: '::1', port: v4.port });
    v4.putRange(2n, 1n, 1n);
    v6.putRange(2n, 1n, 1n);
    const { client: c } = client({ upstreams: [`localhost:${v4.port}`] });
    c.enqueue({ hashKey: 2n, startSeq: 1n });
    await c.onIdle();
    // localhost may resolve to either family; whichever it is, an emulator answers there.
    expect(c.stats().recovered).toBe(1);
    expect(v4.stats().nacks + v6.stats().nacks).toBe(1);
    expect(c.stats().upstreams[0]?.replies.error).toBe(0);
  });

  it('reports an unresolvable host as an error reply and moves on', async () => {
    const up = await upstream();
    up.putRange(2n, 1n, 1n);
    const transport = new UdpTransport({
      lookup: () =>
        Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })),
    });
    const { client: c } = client({
      upstreams: ['no-such-host.invalid:9300', up.endpoint],
      transport,
    });
    c.enqueue({ hashKey: 2n, startSeq: 1n });
    await c.onIdle();
    expect(c.stats().recovered).toBe(1);
    expect(c.stats().upstreams[0]?.replies.error).toBe(1);
  });

  it('source-binds to bindAddress', async () => {
    const up = await upstream({ host: '127.0.0.1' });
    up.putRange(1n, 1n, 1n);
    const transport = new UdpTransport({ bindAddress: '127.0.0.1' });
    const { client: c } = client({ upstreams: [up.endpoint], transport });
    c.enqueue({ hashKey: 1n, startSeq: 1n });
    await c.onIdle();
    expect(up.received[0]?.from.address).toBe('127.0.0.1');
    expect(c.stats().recovered).toBe(1);
  });

  it('never shares a local port with another SO_REUSEADDR socket (frames would go astray)', async () => {
    // Other sockets made with reuseAddr, as a host's multicast listeners or another
    // client's connections are: Linux may hand a bind to port 0 with reuseAddr a port one
    // of them holds, and a frame copy to that port would then reach the wrong socket.
    const occupiers = await Promise.all(
      Array.from({ length: 2000 }, () => {
        const s = createSocket({ type: 'udp6', reuseAddr: true });
        return new Promise<Socket>((resolve) => s.bind(0, '::1', () => resolve(s)));
      }),
    );
    let strays = 0;
    for (const o of occupiers) o.on('message', () => strays++);
    leaks.defer(() =>
      Promise.all(occupiers.map((o) => new Promise<void>((r) => o.close(() => r())))),
    );
    const taken = new Set(occupiers.map((o) => o.address().port));
    // 64 lines at once: no pacing, no rate limits.
    const up = await upstream({ retryEndpoint: { limits: false } });
    up.putRange(3n, 1n, 64n);
    const { client: c } = client({
      upstreams: [up.endpoint],
      workers: 64,
      timeoutMs: 2000,
      nackRate: false,
    });
    for (let s = 1n; s <= 64n; s++) c.enqueue({ hashKey: 3n, startSeq: s });
    await c.onIdle();
    expect(c.stats()).toMatchObject({ recovered: 64, failedTotal: 0 });
    expect(strays).toBe(0);
    const ports = new Set(up.received.map((r) => r.from.port));
    expect(ports.size).toBeGreaterThan(1);
    expect([...ports].filter((p) => taken.has(p))).toEqual([]);
  });

  it('releases every socket on close()', async () => {
    const up = await UpstreamEmulator.start({ behaviour: { mode: 'silent' } });
    const { client: c } = client({ upstreams: [up.endpoint], workers: 8, timeoutMs: 10_000 });
    for (let s = 0n; s < 20n; s++) c.enqueue({ hashKey: 1n, startSeq: s });
    // One NACK per worker is out, each from its own connection.
    await up.waitForNacks(8);
    const from = up.received.map((r) => r.from);
    expect(new Set(from.map((p) => p.port)).size).toBe(8);
    await c.close();
    await up.close();
    expect(c.stats()).toMatchObject({ requests: 20, failed: { aborted: 20 } });
    // Idle sockets are unref()ed, so the leak check after the test (which counts the open
    // handles) cannot see them: ask the kernel whether any port the client sent from is open.
    expect(await stillOpen(from)).toEqual([]);
  });
});
