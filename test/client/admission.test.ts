/**
 * Upstream admission in an outage, over real loopback UDP against the testing kit's
 * `retry-endpoint` emulator at the reference server's default limits (per-IP bucket 100/s
 * burst 10, chain window 500 per minute, all answering with silence). The durations here
 * are set by those limits (seconds), not by the machine's speed.
 */
import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../../src/index.js';
import { UpstreamEmulator, type EmulatorOptions } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { harness, type ClientOptions } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';

const leaks = useLeakCheck();
const NO_LIMIT_HIT = { ip: 0, sequence: 0, chain: 0, group: 0 };

async function upstream(options: EmulatorOptions = {}): Promise<UpstreamEmulator> {
  return leaks.closeAfter(await UpstreamEmulator.start(options));
}

function client(upstreams: string[], extra: ClientOptions = {}) {
  return leaks.closeAfter(
    harness({ upstreams, cache: new MemoryCache(), transport: 'own', ...extra }),
  );
}

/** Flow `f` of a burst: its HashKey. */
const flowKey = (f: number): bigint => 0xf10_0000n + BigInt(f);

/** Enqueues `perFlow` gaps of each of `flows` flows, interleaved; resolves with the drain time. */
async function burst(
  h: ReturnType<typeof client>,
  flows: number,
  perFlow: number,
): Promise<number> {
  const start = performance.now();
  for (let s = 0; s < perFlow; s++) {
    for (let f = 0; f < flows; f++) {
      expect(h.client.enqueue({ hashKey: flowKey(f), startSeq: BigInt(s) })).toBe(true);
    }
  }
  await h.client.onIdle();
  return performance.now() - start;
}

describe('admission against default-limited upstreams', () => {
  it('spreads a burst over both upstreams: 360 gaps over 12 flows drain in at most 0.6 of one upstream’s time, 0 NACKs dropped', async () => {
    const ups = [await upstream(), await upstream(), await upstream()];
    for (const up of ups) for (let f = 0; f < 12; f++) up.putRange(flowKey(f), 0n, 29n);
    const one = client([ups[0]!.endpoint]);
    const oneMs = await burst(one, 12, 30);
    expect(one.client.stats()).toMatchObject({ recovered: 360, failedTotal: 0 });
    const two = client([ups[1]!.endpoint, ups[2]!.endpoint]);
    const twoMs = await burst(two, 12, 30);
    const s = two.client.stats();
    expect(s).toMatchObject({ recovered: 360, failedTotal: 0 });
    expectAccounting(s, two.events);
    for (const up of ups) expect(up.stats().rateLimited).toEqual(NO_LIMIT_HIT);
    const shares = [ups[1]!.stats().nacks / 360, ups[2]!.stats().nacks / 360];
    for (const share of shares) expect(share).toBeGreaterThanOrEqual(0.3);
    expect(twoMs / oneMs).toBeLessThanOrEqual(0.6);
    // The waits were the upstreams' buckets, and were counted per upstream and tier.
    expect(s.upstreams.every((u) => u.admissionWaits.ip > 0 && u.state === 'healthy')).toBe(true);
  }, 20_000);

  it('a busy flow stays within the flow window; the gaps past it end as deadline unsent, and another flow is served within a second', async () => {
    const up = await upstream();
    const BUSY = flowKey(1);
    const OTHER = flowKey(2);
    up.putRange(BUSY, 0n, 599n);
    up.putRange(OTHER, 0n, 9n);
    const h = client([up.endpoint], { gapDeadlineMs: 8000 });
    for (let s = 0n; s < 600n; s++) h.client.enqueue({ hashKey: BUSY, startSeq: s });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (let s = 0n; s < 10n; s++) h.client.enqueue({ hashKey: OTHER, startSeq: s });
    await h.client.onIdle();
    const s = h.client.stats();
    expect(up.stats().rateLimited).toEqual(NO_LIMIT_HIT);
    const other = h.events.recovered.filter((e) => e.hashKey === OTHER);
    expect(other).toHaveLength(10);
    for (const e of other) expect(e.latencyMs).toBeLessThan(1000);
    // 480 per minute: the default margin under the server's 500.
    expect(h.events.recovered.filter((e) => e.hashKey === BUSY)).toHaveLength(480);
    const failed = h.events.failed;
    expect(failed).toHaveLength(120);
    expect(failed.every((e) => e.reason === 'deadline' && e.attempts === 0)).toBe(true);
    expect(s.upstreams[0]).toMatchObject({ state: 'healthy', demotions: 0 });
    expect(s.upstreams[0]?.replies.timeout).toBe(0);
    expect(s.upstreams[0]?.admissionWaits.flow).toBeGreaterThan(0);
    expect(up.stats().nacks).toBe(490);
    expectAccounting(s, h.events);
  }, 20_000);
});

describe('partitions', () => {
  const PARTITION: ClientOptions = {
    timeoutMs: 100,
    demoteAfter: 2,
    demoteCooldownMs: 500,
    gapDeadlineMs: 2000,
    nackRate: false,
  };

  it('three silent upstreams: 300 gaps end within their deadline plus one attempt, with at most 60 NACKs sent', async () => {
    const silent = [await upstream(), await upstream(), await upstream()];
    for (const up of silent) up.setBehaviour({ mode: 'silent' });
    const h = client(
      silent.map((u) => u.endpoint),
      PARTITION,
    );
    for (let s = 0n; s < 300n; s++) h.client.enqueue({ hashKey: 7n, startSeq: s });
    await h.client.onIdle();
    const s = h.client.stats();
    expect(s.failedTotal).toBe(300);
    for (const e of h.events.failed) expect(e.latencyMs).toBeLessThanOrEqual(2000 + 100 + 50);
    const sent = silent.reduce((n, up) => n + up.stats().nacks, 0);
    expect(sent).toBe(s.attempts);
    expect(sent).toBeLessThanOrEqual(60);
    expect(s.upstreams.every((u) => u.state !== 'healthy' && u.demotedFor === 'timeouts')).toBe(
      true,
    );
    // Every demotion was told, with its cause.
    expect(
      h.events.upstream.filter((e) => e.state === 'demoted' && e.previous === 'healthy'),
    ).toHaveLength(3);
    expectAccounting(s, h.events);
  }, 20_000);

  it('gaps that arrive during a partition are recovered within one cooldown of an upstream answering again', async () => {
    // Pacing is off here, so the upstreams' own limits are too: 30 gaps leave at once.
    const unlimited = { retryEndpoint: { limits: false as const } };
    const ups = [await upstream(unlimited), await upstream(unlimited), await upstream(unlimited)];
    for (const up of ups) {
      up.setBehaviour({ mode: 'silent' });
      up.putRange(8n, 0n, 99n);
    }
    const h = client(
      ups.map((u) => u.endpoint),
      { ...PARTITION, gapDeadlineMs: 4000 },
    );
    // Four gaps find the partition and demote every upstream.
    for (let s = 0n; s < 4n; s++) h.client.enqueue({ hashKey: 8n, startSeq: s });
    await h.client.onIdle();
    expect(h.client.stats().upstreams.every((u) => u.state === 'demoted')).toBe(true);
    const before = h.client.stats().attempts;
    // Gaps during the partition wait without sending (the probes aside).
    for (let s = 10n; s < 40n; s++) h.client.enqueue({ hashKey: 8n, startSeq: s });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.client.stats()).toMatchObject({ waiting: 30, inFlight: 0 });
    expect(h.client.stats().attempts - before).toBeLessThanOrEqual(3);
    // One upstream comes back: its next probe is answered and releases every waiting gap.
    const back = performance.now();
    ups[1]!.setBehaviour({ mode: 'retry-endpoint' });
    await h.client.onIdle();
    const recovered = h.events.recovered.filter((e) => e.seq >= 10n);
    expect(recovered).toHaveLength(30);
    expect(performance.now() - back).toBeLessThan(500 + 250);
    expect(recovered.every((e) => e.upstream === ups[1]!.endpoint)).toBe(true);
    expect(h.events.upstream).toContainEqual({
      upstream: ups[1]!.endpoint,
      state: 'healthy',
      previous: 'probing',
      cause: 'probe-answered',
    });
    expectAccounting(h.client.stats(), h.events);
  }, 20_000);
});
