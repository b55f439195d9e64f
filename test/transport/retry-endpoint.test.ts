/**
 * A default-options ProxyClient (its own default UdpTransport) against the emulator's
 * default `retry-endpoint` behaviour, which answers as the reference retry-endpoint server
 * does: the frame copy first, from its unicast-retransmit socket on another port, then the
 * ACK from the NACK port; silent rate limits with the server's defaults; range NACKs
 * dropped. Real UDP on loopback.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { FrameVer, MemoryCache, UdpTransport, cacheKey, type Cache } from '../../src/index.js';
import {
  UpstreamEmulator,
  buildFrame,
  formatEndpoint,
  type EmulatorOptions,
} from '../../src/testing/index.js';
import { harness, type ClientOptions } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';

const NO_LIMIT_HIT = { ip: 0, sequence: 0, chain: 0, group: 0 };

const leaks = useLeakCheck();

async function upstream(options: EmulatorOptions = {}): Promise<UpstreamEmulator> {
  return leaks.closeAfter(await UpstreamEmulator.start(options));
}

/**
 * A client with default options but for `extra`, a MemoryCache and its own UdpTransport
 * unless `transport` is given; closed after the test.
 */
function client(upstreams: string[], extra: ClientOptions & { transport?: UdpTransport } = {}) {
  const { transport, ...rest } = extra;
  const h = leaks.closeAfter(
    harness({ upstreams, cache: new MemoryCache(), transport: transport ?? 'own', ...rest }),
  );
  return { ...h, recovered: h.events.recovered };
}

/**
 * Frames of every kind but legacy, with payloads of many sizes: BRC-142 bundles (with and
 * without TxIDs) and block headers (80 bytes) built as their layouts require.
 */
function frames(hashKey: bigint, first: bigint, count: number): Buffer[] {
  const kinds = [
    FrameVer.Tx,
    FrameVer.Fragment,
    FrameVer.Block,
    FrameVer.Subtree,
    FrameVer.Anchor,
    FrameVer.Beef,
    FrameVer.Bundle,
    FrameVer.BlockHeader,
  ];
  return Array.from({ length: count }, (_, i) => {
    const seq = first + BigInt(i);
    const frameVer = kinds[i % kinds.length] as number;
    if (frameVer === FrameVer.Bundle) {
      const members = Array.from({ length: 1 + (i % 5) }, (_, m) => Buffer.alloc(60 + m * 40, m));
      return buildFrame({ hashKey, seq, frameVer, members, txIdsPresent: i % 2 === 0 });
    }
    const size = frameVer === FrameVer.BlockHeader ? 80 : (i * 37) % 1400;
    return buildFrame({ hashKey, seq, frameVer, payload: Buffer.alloc(size, i & 0xff) });
  });
}

/** A loopback UDP port nothing listens on: bound, noted, closed. */
async function closedPort(host: string): Promise<number> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('against the reference server behaviour (emulator default)', () => {
  it('recovers 200 of 200 gaps, none waiting for a timeout, every frame byte-identical', async () => {
    const H = 0xa11n;
    const sent = frames(H, 1000n, 200);
    const up = await upstream();
    for (const f of sent) up.put(f);
    const { client: c, cache, retransmitter } = client([up.endpoint]);
    for (let s = 1000n; s < 1200n; s++) expect(c.enqueue({ hashKey: H, startSeq: s })).toBe(true);
    await c.onIdle();

    const stats = c.stats();
    expect(stats).toMatchObject({ requests: 200, recovered: 200, failedTotal: 0 });
    expect(stats.upstreams[0]?.replies).toMatchObject({ frame: 200, timeout: 0, error: 0 });
    for (const f of sent) {
      const got = cache.retrieve(cacheKey(H, f.readBigUInt64BE(48)));
      expect(got !== undefined && Buffer.from(got).equals(f)).toBe(true);
    }
    expect(retransmitter.frames).toHaveLength(200);
    // Every frame came from the unicast socket, another port, and was taken from there.
    expect(up.unicastPort).not.toBe(up.port);
    expect(up.stats()).toMatchObject({ nacks: 200, framesSent: 200, unanswered: 0 });
    expect(up.stats().rateLimited).toEqual(NO_LIMIT_HIT);
    expect(stats.transport).toMatchObject({ foreignSource: 0, malformed: 0, wrongGap: 0 });
  });

  it('recovers bundles byte-identical, re-cached with the transaction TTL', async () => {
    const H = 0xb11dn;
    const up = await upstream();
    const sent = frames(H, 0n, 24).filter((f) => f[6] === FrameVer.Bundle);
    expect(sent.length).toBe(3);
    for (const f of sent) up.put(f);
    const stored: { frame: Uint8Array; ttlMs: number }[] = [];
    const cache: Cache = { store: (_key, frame, ttlMs) => void stored.push({ frame, ttlMs }) };
    const { client: c, retransmitter } = leaks.closeAfter(
      harness({ upstreams: [up.endpoint], cache, transport: 'own' }),
    );
    for (const f of sent) c.enqueue({ hashKey: H, startSeq: f.readBigUInt64BE(48) });
    await c.onIdle();
    expect(c.stats()).toMatchObject({ recovered: 3, failedTotal: 0 });
    expect(stored.map((x) => Buffer.from(x.frame).toString('hex')).sort()).toEqual(
      sent.map((f) => f.toString('hex')).sort(),
    );
    expect(stored.every((x) => x.ttlMs === 60_000)).toBe(true);
    expect(retransmitter.frames).toHaveLength(3);
  });

  it('paces from the moment a NACK leaves: a slow first lookup does not bunch NACKs', async () => {
    // NACKs held up by a 200 ms lookup all leave together when it ends; pacing counts them
    // then, so the upstream's silent per-IP bucket (burst 10) never overflows.
    const H = 0x51c0n;
    const up = await upstream();
    up.putRange(H, 1n, 30n);
    const transport = new UdpTransport({
      lookup: () =>
        new Promise((resolve) => setTimeout(() => resolve({ address: '::1', family: 6 }), 200)),
    });
    const { client: c } = client([`upstream.test:${up.port}`], { transport });
    for (let s = 1n; s <= 30n; s++) c.enqueue({ hashKey: H, startSeq: s });
    await c.onIdle();
    expect(up.stats().rateLimited).toEqual(NO_LIMIT_HIT);
    expect(c.stats()).toMatchObject({ recovered: 30, failedTotal: 0 });
  });

  it('recovers a 100-gap burst in full against the silent default limits (paced)', async () => {
    const H = 0xb0b5n;
    const up = await upstream();
    up.putRange(H, 1n, 100n);
    const { client: c } = client([up.endpoint]);
    for (let s = 1n; s <= 100n; s++) c.enqueue({ hashKey: H, startSeq: s });
    await c.onIdle();

    expect(c.stats()).toMatchObject({ recovered: 100, failedTotal: 0 });
    expect(c.stats().pacedWaits).toBeGreaterThan(0);
    expect(c.stats().upstreams[0]?.replies.timeout).toBe(0);
    expect(up.stats().rateLimited).toEqual(NO_LIMIT_HIT);
    expect(up.stats().nacks).toBe(100);
  });

  it('without pacing the same burst loses gaps to the silent limit', async () => {
    const H = 0xb0b5n;
    const up = await upstream();
    up.putRange(H, 1n, 100n);
    const { client: c } = client([up.endpoint], { nackRate: false });
    for (let s = 1n; s <= 100n; s++) c.enqueue({ hashKey: H, startSeq: s });
    await c.onIdle();

    const stats = c.stats();
    expect(stats.pacedWaits).toBe(0);
    expect(up.stats().rateLimited.ip).toBeGreaterThan(0);
    expect(stats.failedTotal).toBeGreaterThan(0);
    expect(stats.recovered + stats.failedTotal).toBe(100);
    // Each silenced NACK cost its gap a full timeout.
    expect(stats.upstreams[0]?.replies.timeout).toBe(up.stats().rateLimited.ip);
  });

  it('recovers a range gap: 8 frames, asked one by one (the server drops range NACKs)', async () => {
    const H = 0x7a9en;
    const up = await upstream();
    const sent = frames(H, 500n, 8);
    for (const f of sent) up.put(f);
    const { client: c, cache } = client([up.endpoint]);
    expect(c.enqueue({ hashKey: H, startSeq: 500n, endSeq: 507n })).toBe(true);
    await c.onIdle();

    expect(c.stats()).toMatchObject({ requests: 8, recovered: 8, failedTotal: 0 });
    for (const f of sent) {
      const got = cache.retrieve(cacheKey(H, f.readBigUInt64BE(48)));
      expect(got !== undefined && Buffer.from(got).equals(f)).toBe(true);
    }
    expect(up.stats()).toMatchObject({ nacks: 8, rangeDropped: 0, framesSent: 8 });
    expect(up.received.every((r) => r.nack.endSeq === r.nack.startSeq)).toBe(true);
  });

  describe('a frame from another host (unicast source 127.0.0.2)', () => {
    const H = 0xf00dn;
    const frame = buildFrame({ hashKey: H, seq: 9n });

    async function otherHost(): Promise<UpstreamEmulator> {
      const up = await upstream({ host: '127.0.0.1', retryEndpoint: { unicastHost: '127.0.0.2' } });
      up.put(frame);
      return up;
    }

    it('is ignored by default: counted as foreign, the gap fails, nothing cached', async () => {
      const up = await otherHost();
      const { client: c, cache, retransmitter } = client([up.endpoint]);
      c.enqueue({ hashKey: H, startSeq: 9n });
      await c.onIdle();

      expect(up.stats()).toMatchObject({ framesSent: 1, acks: 1 });
      expect(c.stats()).toMatchObject({ recovered: 0, failed: { exhausted: 1 } });
      // The ACK came from the asked port while the exchange waited; the frame did not count.
      expect(c.stats().transport).toMatchObject({ foreignSource: 1, acks: 1 });
      expect(cache.retrieve(cacheKey(H, 9n))).toBeUndefined();
      expect(retransmitter.frames).toHaveLength(0);
    });

    it("is accepted with frameSource 'any'", async () => {
      const up = await otherHost();
      const transport = new UdpTransport({ frameSource: 'any' });
      const { client: c, cache, retransmitter } = client([up.endpoint], { transport });
      c.enqueue({ hashKey: H, startSeq: 9n });
      await c.onIdle();

      expect(c.stats()).toMatchObject({ recovered: 1, failedTotal: 0 });
      expect(transport.stats()).toMatchObject({ foreignSource: 0 });
      const got = cache.retrieve(cacheKey(H, 9n));
      expect(got !== undefined && Buffer.from(got).equals(frame)).toBe(true);
      expect(retransmitter.frames).toHaveLength(1);
    });
  });

  it.each(['::1', '127.0.0.1'])(
    'a closed-port first upstream (%s) costs no gap a timeout',
    async (host) => {
      const H = 0xdeadn;
      const dead = formatEndpoint(host, await closedPort(host));
      const live = await upstream({ host });
      live.putRange(H, 1n, 50n);
      const { client: c, recovered } = client([dead, live.endpoint]);
      for (let s = 1n; s <= 50n; s++) {
        c.enqueue({ hashKey: H, startSeq: s });
        await c.onIdle();
      }

      const stats = c.stats();
      expect(stats).toMatchObject({ recovered: 50, failedTotal: 0 });
      expect(recovered.every((e) => e.upstream === live.endpoint && e.attempts <= 2)).toBe(true);
      // Nobody waited for a hedge either: the second upstream was asked as the next in line.
      expect(recovered.every((e) => !e.hedged)).toBe(true);
      const [deadStats, liveStats] = stats.upstreams;
      // The port refused at once (ICMP port unreachable): an error, never a timeout (nor an
      // attempt left waiting until a hedge overtook it).
      expect(deadStats?.replies).toMatchObject({ timeout: 0, overtaken: 0, frame: 0 });
      expect(deadStats?.replies.error).toBeGreaterThan(0);
      expect(liveStats?.replies).toMatchObject({ timeout: 0, frame: 50 });
      expect(stats.transport.unreachable).toBeGreaterThan(0);
      expect(stats.transport.unreachable).toBe(deadStats?.replies.error);
    },
  );
});
