/**
 * Issue 19: two relay processes sharing a real redis-server, unicast delivery only. Each is
 * asked for the same gaps by its own listener; the fleet sends one upstream NACK per gap, and
 * both listeners get every frame (the claim's loser waits for the winner's frame in Redis).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TestConsumer, UpstreamEmulator, buildFrame } from '../../src/testing/index.js';
import { cacheKey } from '../../src/wire/index.js';
import type { RelayReport } from '../fixtures/unicast-relay.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { describeRedis, useRedisServer } from '../helpers/redis-server.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { waitFor } from '../helpers/wait.js';

const HASH = 0xfeed_0000_0000_0b19n;
const GAPS = 20;
/** Source address of each relay's NACKs: two "hosts", so each has its own per-IP budget upstream. */
const RELAY_ADDRESSES = ['127.0.0.2', '127.0.0.3'];
/** Bounds for a loaded 2-core machine: tsx start-up alone can take seconds. */
const START_MS = 20_000;
const RUN_MS = 15_000;

describeRedis('two relay processes sharing one Redis, unicast delivery', () => {
  useLeakCheck();
  const db = useRedisServer();
  let upstream: UpstreamEmulator;
  let listeners: TestConsumer[] = [];
  let relays: RelayProcess[] = [];

  beforeEach(async () => {
    upstream = await UpstreamEmulator.start({ host: '127.0.0.1' }); // the server's limits
    upstream.putRange(HASH, 1n, BigInt(GAPS));
    // One listener per relay, one per address family; the domain socket of each stands for
    // its relay's multicast group, which must stay silent.
    listeners = [
      await TestConsumer.open('::1', { unicastHost: '127.0.0.1' }),
      await TestConsumer.open('::1'),
    ];
  });
  afterEach(async () => {
    for (const r of relays) await r.kill();
    relays = [];
    for (const l of listeners) await l.close();
    await upstream.close();
  });

  /** Frames that arrived at `listener`'s requester socket, by seq. */
  function unicastFrames(listener: TestConsumer): Map<number, Buffer[]> {
    const bySeq = new Map<number, Buffer[]>();
    for (const d of listener.received) {
      if (d.kind !== 'frame' || d.via !== 'unicast') continue;
      bySeq.set(Number(d.seq), [...(bySeq.get(Number(d.seq)) ?? []), d.frame]);
    }
    return bySeq;
  }

  it(
    `${GAPS} gaps asked of both: one upstream NACK per gap, both requesters get every frame`,
    async () => {
      relays = listeners.map((listener, i) =>
        RelayProcess.start({
          redisUrl: db.server.url,
          upstream: upstream.endpoint,
          bindAddress: RELAY_ADDRESSES[i]!,
          hashKey: String(HASH),
          first: 1,
          last: GAPS,
          requester: listener.requester,
          multicastSink: listener.address,
          timeoutMs: START_MS + RUN_MS,
        }),
      );
      await Promise.all(relays.map((r) => r.ready(START_MS)));
      for (const r of relays) r.go(); // together, so that the claims race
      const reports: RelayReport[] = await Promise.all(relays.map((r) => r.report(RUN_MS)));

      // Upstream: exactly one proxied NACK per gap across the fleet, none throttled.
      const nacks = upstream.received.map((r) => Number(r.nack.startSeq)).sort((a, b) => a - b);
      expect(nacks).toEqual(Array.from({ length: GAPS }, (_, i) => i + 1));
      expect(upstream.received.every((r) => r.nack.flags === 0x01)).toBe(true);
      expect(upstream.received.every((r) => RELAY_ADDRESSES.includes(r.from.address))).toBe(true);
      expect(upstream.stats().rateLimited).toEqual({ ip: 0, sequence: 0, chain: 0, group: 0 });

      // Each gap ended once in each relay: recovered by one, claim lost by the other.
      for (const report of reports) {
        expect(report.outcomes.map((o) => o.seq).sort((a, b) => a - b)).toEqual(
          Array.from({ length: GAPS }, (_, i) => i + 1),
        );
        expect(report).toMatchObject({ requests: GAPS, failed: 0, unicastDeliveries: GAPS });
        expect(report.errors).toEqual([]);
      }
      for (let seq = 1; seq <= GAPS; seq++) {
        const ends = reports.map((r) => r.outcomes.find((o) => o.seq === seq)?.outcome).sort();
        expect(ends, `outcomes of seq ${seq}`).toEqual(['claim-lost', 'recovered']);
      }
      expect(reports[0]!.recovered + reports[1]!.recovered).toBe(GAPS);

      // Both listeners got every frame by unicast, byte for byte what the upstream serves,
      // once each; nothing reached the multicast stand-ins.
      for (const listener of listeners) {
        await waitFor(
          () => unicastFrames(listener).size === GAPS,
          `${GAPS} unicast frames at ${listener.requester.address}`,
          5_000,
        );
        const frames = unicastFrames(listener);
        for (let seq = 1; seq <= GAPS; seq++) {
          const copies = frames.get(seq) ?? [];
          expect(copies.length, `copies of seq ${seq}`).toBe(1);
          expect(copies[0]!.equals(buildFrame({ hashKey: HASH, seq: BigInt(seq) }))).toBe(true);
        }
        expect(listener.received.filter((d) => d.via === 'domain')).toEqual([]);
      }

      // The shared store holds each frame under its cache key, and one claim per gap.
      for (let seq = 1; seq <= GAPS; seq++) {
        const key = Buffer.concat([Buffer.from('bre:frame:'), cacheKey(HASH, BigInt(seq))]);
        const stored = await db.raw.getBuffer(key);
        expect(stored?.equals(buildFrame({ hashKey: HASH, seq: BigInt(seq) }))).toBe(true);
      }
      expect((await db.raw.keysBuffer('bre:proxy:*')).length).toBe(GAPS);
    },
    START_MS + RUN_MS + 10_000,
  );
});
