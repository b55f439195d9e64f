import { afterEach, beforeEach, expect, it } from 'vitest';
import { UdpTransport } from '../../src/transport/udp.js';
import type { ComponentError } from '../../src/client/events.js';
import { RedisCache, RedisDeduper } from '../../src/redis/index.js';
import { UpstreamEmulator } from '../../src/testing/emulator.js';
import { buildFrame } from '../../src/testing/frames.js';
import { cacheKey } from '../../src/wire/index.js';
import { harness, type Harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { describeRedis, useRedisServer } from '../helpers/redis-server.js';
import { eventually, waitFor, within } from '../helpers/wait.js';

const HASH = 0xfeed_0000_0000_00a1n;
const GAPS = 1_000;

/**
 * One downstream endpoint of the fleet: its client and its own adapters on the shared Redis,
 * over its own transport when it has a source address of its own.
 */
interface Endpoint extends Harness<UdpTransport | undefined, RedisCache> {
  deduper: RedisDeduper;
  /** The `error` events of its client. */
  errors: ComponentError[];
}

describeRedis('a fleet of ProxyClients sharing one Redis', () => {
  useLeakCheck();
  const db = useRedisServer();
  let upstream: UpstreamEmulator;
  let fleet: Endpoint[] = [];
  let redisDown = false;

  async function stopRedis(): Promise<void> {
    redisDown = true;
    await db.server.stop();
  }
  async function startRedis(): Promise<void> {
    await db.server.start();
    redisDown = false;
  }

  beforeEach(async () => {
    // Both endpoints send from one loopback address here, so they would share the upstream's
    // per-IP bucket (a real fleet does not), and 1,000 NACKs of one flow would exceed its
    // per-chain window (500 a minute): these tests are about the shared claim, so the
    // upstream's limits and the clients' pacing are off. The last test keeps both, with an
    // address per endpoint.
    upstream = await UpstreamEmulator.start({ host: '::1', retryEndpoint: { limits: false } });
    upstream.putRange(HASH, 1n, BigInt(2 * GAPS));
    fleet = [endpoint(), endpoint()];
  });
  afterEach(async () => {
    // A test that failed with Redis stopped must not fail the ones after it.
    if (redisDown) await startRedis();
    for (const e of fleet) {
      await e.close();
      await e.cache.close();
      await e.deduper.close();
    }
    await upstream.close();
  });

  /** An endpoint; with `bindAddress`, it sends from that address with the default pacing. */
  function endpoint(bindAddress?: string): Endpoint {
    const deduper = new RedisDeduper({ url: db.server.url });
    const transport = bindAddress === undefined ? 'own' : new UdpTransport({ bindAddress });
    const h = harness({
      upstreams: [upstream.endpoint],
      cache: new RedisCache({ url: db.server.url }),
      deduper,
      transport,
      workers: 16,
      timeoutMs: 2_000,
      componentTimeoutMs: 2_000,
      ...(transport === 'own' ? { nackRate: false as const } : {}),
    });
    return { ...h, deduper, errors: h.events.error };
  }

  /** Both endpoints miss the same frames: each gap is enqueued on both. */
  async function recoverOnBoth(first: number, last: number): Promise<void> {
    for (let s = first; s <= last; s++) {
      for (const e of fleet)
        expect(e.client.enqueue({ hashKey: HASH, startSeq: BigInt(s) })).toBe(true);
    }
    await Promise.all(fleet.map((e) => e.client.onIdle()));
  }

  function nacksPerGap(first: number, last: number): number[] {
    const counts = new Map<bigint, number>();
    for (const r of upstream.received)
      counts.set(r.nack.startSeq, (counts.get(r.nack.startSeq) ?? 0) + 1);
    const out: number[] = [];
    for (let s = first; s <= last; s++) out.push(counts.get(BigInt(s)) ?? 0);
    return out;
  }

  it('recovers 1,000 gaps with exactly one upstream fetch per gap', async () => {
    await recoverOnBoth(1, GAPS);

    expect(upstream.received.length).toBe(GAPS);
    expect(nacksPerGap(1, GAPS).every((n) => n === 1)).toBe(true);
    expect(upstream.received.every((r) => r.nack.flags === 0x01)).toBe(true);

    const [a, b] = fleet.map((e) => e.client.stats());
    expect(a!.requests + b!.requests).toBe(2 * GAPS);
    expect(a!.recovered + b!.recovered).toBe(GAPS);
    expect(a!.deduped['claim-lost'] + b!.deduped['claim-lost']).toBe(GAPS);
    expect(a!.failedTotal + b!.failedTotal).toBe(0);
    expect(fleet.flatMap((e) => e.errors)).toEqual([]);
    const retransmitted = fleet.flatMap((e) => e.retransmitter.frames.map((f) => f.seq));
    expect(new Set(retransmitted).size).toBe(GAPS);
    expect(retransmitted.length).toBe(GAPS);

    // The shared store holds every frame and claim in the layout existing endpoints read.
    const frameKeys = await db.raw.keysBuffer('bre:frame:*');
    const claimKeys = await db.raw.keysBuffer('bre:proxy:*');
    expect(frameKeys.length).toBe(GAPS);
    expect(claimKeys.length).toBe(GAPS);
    for (const seq of [1n, 500n, BigInt(GAPS)]) {
      const key = cacheKey(HASH, seq);
      const frame = await db.raw.getBuffer(Buffer.concat([Buffer.from('bre:frame:'), key]));
      expect(frame?.equals(buildFrame({ hashKey: HASH, seq }))).toBe(true);
      const frameTtl = await db.raw.pttl(Buffer.concat([Buffer.from('bre:frame:'), key]));
      expect(frameTtl).toBeGreaterThan(50_000); // tx class: 60 s
      expect(frameTtl).toBeLessThanOrEqual(60_000);
      const claim = Buffer.concat([Buffer.from('bre:proxy:'), key]);
      expect((await db.raw.getBuffer(claim))?.toString()).toBe('1');
      expect(await db.raw.pttl(claim)).toBeGreaterThan(50_000); // dedup window: 60 s
    }
  });

  it('keeps recovering while Redis is down, reports the errors, and dedups again once it is back', async () => {
    await stopRedis();
    await within(recoverOnBoth(1, 50), 'recovery while Redis is down', 10_000);

    // Without the shared claim both endpoints fetch: availability over strictness.
    const [a, b] = fleet.map((e) => e.client.stats());
    expect(a!.recovered + b!.recovered).toBe(100);
    expect(a!.failedTotal + b!.failedTotal).toBe(0);
    const errors = fleet.flatMap((e) => e.errors);
    expect(errors.filter((e) => e.component === 'deduper').length).toBe(100);
    expect(errors.filter((e) => e.component === 'cache').length).toBe(100);
    expect(errors.every((e) => e.component === 'deduper' || e.component === 'cache')).toBe(true);
    expect(fleet.flatMap((e) => e.retransmitter.frames).length).toBe(100);
    expect(nacksPerGap(1, 50).every((n) => n === 2)).toBe(true);

    await startRedis();
    await eventually(async () => {
      expect(await fleet[0]!.deduper.setNX(cacheKey(HASH, 0n), '1', 1_000)).toBe(true);
      expect(await fleet[1]!.deduper.setNX(cacheKey(HASH, 0n), '1', 1_000)).toBe(false);
      await fleet[0]!.cache.store(
        cacheKey(HASH, 0n),
        buildFrame({ hashKey: HASH, seq: 0n }),
        1_000,
      );
      await fleet[1]!.cache.store(
        cacheKey(HASH, 0n),
        buildFrame({ hashKey: HASH, seq: 0n }),
        1_000,
      );
    }, 5_000);
    const errorsBefore = fleet.map((e) => e.errors.length);

    await recoverOnBoth(51, 250);
    expect(nacksPerGap(51, 250).every((n) => n === 1)).toBe(true);
    expect(fleet.map((e) => e.errors.length)).toEqual(errorsBefore);
    expect((await db.raw.keysBuffer('bre:proxy:*')).length).toBe(200 + 1);
    expect((await db.raw.keysBuffer('bre:frame:*')).length).toBe(200 + 1);
  });
  it('loses Redis in the middle of a run: every gap still ends, nothing hangs', async () => {
    upstream.setBehaviour({ mode: 'serve', delayMs: 20 }); // keeps the run going while Redis stops
    for (let s = 1; s <= 100; s++) {
      for (const e of fleet) e.client.enqueue({ hashKey: HASH, startSeq: BigInt(s) });
    }
    // Redis goes away once the run is under way; gaps still queued or in flight then, and
    // the ones that follow, meet it down (however long stopping it takes).
    await waitFor(
      () => fleet.some((e) => e.client.stats().recovered > 0),
      'the first recovery',
      10_000,
    );
    await stopRedis();
    for (let s = 101; s <= 120; s++) {
      for (const e of fleet) e.client.enqueue({ hashKey: HASH, startSeq: BigInt(s) });
    }
    await within(
      Promise.all(fleet.map((e) => e.client.onIdle())),
      'every gap to end while Redis stops',
      10_000,
    );

    const stats = fleet.map((e) => e.client.stats());
    const sum = (f: (x: (typeof stats)[number]) => number) => stats.reduce((n, x) => n + f(x), 0);
    expect(sum((x) => x.requests)).toBe(240);
    expect(sum((x) => x.failedTotal)).toBe(0);
    expect(sum((x) => x.recovered + x.dedupedTotal)).toBe(240);
    // Every gap reached the domain; none was fetched more than once per endpoint.
    const retransmitted = new Set(fleet.flatMap((e) => e.retransmitter.frames.map((f) => f.seq)));
    expect(retransmitted.size).toBe(120);
    expect(nacksPerGap(1, 120).every((n) => n === 1 || n === 2)).toBe(true);
    const errors = fleet.flatMap((e) => e.errors);
    expect(errors.filter((e) => e.component === 'deduper').length).toBeGreaterThan(0);
    expect(errors.every((e) => e.component === 'deduper' || e.component === 'cache')).toBe(true);
  });

  it('endpoints on their own addresses, with default pacing, stay within the default limits', async () => {
    await upstream.close();
    upstream = await UpstreamEmulator.start({ host: '127.0.0.1' }); // the server's limits
    const gaps = 200;
    upstream.putRange(HASH, 1n, BigInt(gaps));
    for (const e of fleet) {
      await e.close();
      await e.cache.close();
      await e.deduper.close();
    }
    fleet = [endpoint('127.0.0.2'), endpoint('127.0.0.3')];
    await recoverOnBoth(1, gaps);

    expect(nacksPerGap(1, gaps).every((n) => n === 1)).toBe(true);
    const [a, b] = fleet.map((e) => e.client.stats());
    expect(a!.recovered + b!.recovered).toBe(gaps);
    expect(a!.failedTotal + b!.failedTotal).toBe(0);
    expect(upstream.stats().rateLimited).toEqual({ ip: 0, sequence: 0, chain: 0, group: 0 });
    expect(new Set(upstream.received.map((r) => r.from.address))).toEqual(
      new Set(['127.0.0.2', '127.0.0.3']),
    );
    expect(fleet.flatMap((e) => e.errors)).toEqual([]);
  });
});
