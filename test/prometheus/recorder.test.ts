import { Counter, Gauge, Registry, register } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrometheusRecorder } from '../../src/prometheus/index.js';
import { MemoryCache } from '../../src/store/memory-cache.js';
import { UpstreamEmulator } from '../../src/testing/emulator.js';
import { harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { EXPORTED, types, value } from './exposition.js';

// Without a `registry` option the recorder registers on prom-client's default registry.
beforeEach(() => register.clear());
afterEach(() => register.clear());

describe('PrometheusRecorder', () => {
  it('exposes the five dashboard counters, starting at 0', async () => {
    const r = new PrometheusRecorder();
    const text = await r.registry.metrics();
    for (const name of [
      'bre_proxy_requests_total',
      'bre_proxy_recovered_total',
      'bre_proxy_inflight_dedup_total',
      'bre_proxy_queue_dropped_total',
    ]) {
      expect(value(text, name)).toBe(0);
      expect(text).toContain(`# TYPE ${name} counter`);
    }
    for (const reason of ['exhausted', 'aborted', 'deadline', 'recent-failure']) {
      expect(value(text, 'bre_proxy_failed_total', { reason })).toBe(0);
    }
    expect(text).toContain('# TYPE bre_proxy_failed_total counter');
    expect(text).toContain('# TYPE bre_proxy_recovery_seconds histogram');
    expect(text).toContain('# TYPE bre_proxy_queue_depth gauge');
    expect(text).toContain('# TYPE bre_proxy_upstream_replies_total counter');
    expect(text).toContain('# TYPE bre_proxy_dropped_total counter');
  });

  it('counts every hook under its metric and labels', async () => {
    const r = new PrometheusRecorder();
    for (let i = 0; i < 5; i++) r.proxyRequest();
    r.proxyRecovered();
    r.proxyRecovered();
    r.proxyFailed('exhausted');
    r.proxyFailed('aborted');
    r.proxyFailed('exhausted');
    r.proxyInflightDedup();
    r.proxyQueueDropped();
    r.proxyDropped('queue-full');
    r.proxyDropped('proxied');
    r.proxyDropped('proxied');
    r.queueDepth(17);
    r.queueDepth(3);
    r.upstreamReply('[::1]:9300', 'frame');
    r.upstreamReply('[::1]:9300', 'frame');
    r.upstreamReply('[::1]:9300', 'miss');
    r.upstreamReply('10.0.0.2:9300', 'timeout');
    r.paced('[::1]:9300', 'ip');
    r.paced('[::1]:9300', 'flow');
    r.paced('[::1]:9300', 'ip');
    r.invalidFrame('txid-mismatch');
    const t = await r.registry.metrics();
    expect(value(t, 'bre_proxy_requests_total')).toBe(5);
    expect(value(t, 'bre_proxy_recovered_total')).toBe(2);
    expect(value(t, 'bre_proxy_failed_total', { reason: 'exhausted' })).toBe(2);
    expect(value(t, 'bre_proxy_failed_total', { reason: 'aborted' })).toBe(1);
    expect(value(t, 'bre_proxy_failed_total', { reason: 'deadline' })).toBe(0);
    expect(value(t, 'bre_proxy_inflight_dedup_total')).toBe(1);
    expect(value(t, 'bre_proxy_queue_dropped_total')).toBe(1);
    expect(value(t, 'bre_proxy_dropped_total', { reason: 'queue-full' })).toBe(1);
    expect(value(t, 'bre_proxy_dropped_total', { reason: 'proxied' })).toBe(2);
    expect(value(t, 'bre_proxy_dropped_total', { reason: 'closed' })).toBe(0);
    expect(value(t, 'bre_proxy_queue_depth')).toBe(3);
    const replies = (upstream: string, kind: string) =>
      value(t, 'bre_proxy_upstream_replies_total', { upstream, kind });
    expect(replies('[::1]:9300', 'frame')).toBe(2);
    expect(replies('[::1]:9300', 'miss')).toBe(1);
    expect(replies('10.0.0.2:9300', 'timeout')).toBe(1);
    const paced = (tier: string) =>
      value(t, 'bre_proxy_paced_total', { upstream: '[::1]:9300', tier });
    expect(paced('ip')).toBe(2);
    expect(paced('flow')).toBe(1);
    expect(value(t, 'bre_proxy_invalid_frames_total', { reason: 'txid-mismatch' })).toBe(1);
  });

  it('observes recovery latency in seconds into the histogram buckets', async () => {
    const r = new PrometheusRecorder({ latencyBuckets: [0.01, 0.1, 1] });
    r.recoveryLatency(5); // 0.005 s
    r.recoveryLatency(50);
    r.recoveryLatency(500);
    r.recoveryLatency(5_000);
    r.recoveryLatency(-1); // ignored
    r.recoveryLatency(Number.NaN); // ignored
    const t = await r.registry.metrics();
    const bucket = (le: string) => value(t, 'bre_proxy_recovery_seconds_bucket', { le });
    expect(bucket('0.01')).toBe(1);
    expect(bucket('0.1')).toBe(2);
    expect(bucket('1')).toBe(3);
    expect(bucket('+Inf')).toBe(4);
    expect(value(t, 'bre_proxy_recovery_seconds_count')).toBe(4);
    expect(value(t, 'bre_proxy_recovery_seconds_sum')).toBeCloseTo(5.555, 6);
  });

  it('registers in an injected registry, with an optional prefix', async () => {
    const registry = new Registry();
    const a = new PrometheusRecorder({ registry });
    const b = new PrometheusRecorder({ registry, prefix: 'edge_b_' });
    expect(a.registry).toBe(registry);
    a.proxyRequest();
    b.proxyRequest();
    b.proxyRequest();
    const t = await registry.metrics();
    expect(value(t, 'bre_proxy_requests_total')).toBe(1);
    expect(value(t, 'edge_b_requests_total')).toBe(2);
    expect(await register.metrics()).not.toContain('bre_proxy_');
  });

  it('registers on the default registry without the option', () => {
    const r = new PrometheusRecorder();
    expect(r.registry).toBe(register);
    expect(register.getSingleMetric('bre_proxy_requests_total')).toBeDefined();
  });

  it('a second recorder on the same registry reuses its metrics', async () => {
    const a = new PrometheusRecorder();
    a.proxyRequest();
    a.upstreamState('[::1]:9300', 'demoted');
    const b = new PrometheusRecorder();
    b.proxyRequest();
    b.proxyFailed('deadline');
    const t = await register.metrics();
    expect(value(t, 'bre_proxy_requests_total')).toBe(2);
    expect(value(t, 'bre_proxy_failed_total', { reason: 'deadline' })).toBe(1);
    expect(value(t, 'bre_proxy_upstream_healthy', { upstream: '[::1]:9300' })).toBe(0);
    expect(t.match(/^# TYPE bre_proxy_requests_total /gm)).toHaveLength(1);
  });

  it('refuses a metric of the same name with another type, labels or buckets', () => {
    const registry = new Registry();
    new PrometheusRecorder({ registry, latencyBuckets: [0.1, 1] });
    expect(() => new PrometheusRecorder({ registry, latencyBuckets: [0.5] })).toThrow(
      /bre_proxy_recovery_seconds as a histogram with no labels, buckets 0\.1, 1, not a histogram with no labels, buckets 0\.5; give this recorder another 'prefix' or 'registry'/,
    );
    const other = new Registry();
    new Gauge({ name: 'bre_proxy_hedges_total', help: 'x', registers: [other] });
    expect(() => new PrometheusRecorder({ registry: other })).toThrow(
      /already holds bre_proxy_hedges_total as a gauge with no labels, not a counter with no labels/,
    );
    const labels = new Registry();
    new Counter({
      name: 'bre_proxy_paced_total',
      help: 'an older shape',
      labelNames: ['upstream'],
      registers: [labels],
    });
    expect(() => new PrometheusRecorder({ registry: labels })).toThrow(
      /bre_proxy_paced_total as a counter with labels upstream, not a counter with labels upstream, tier/,
    );
    // The refused recorder leaves nothing behind but what was there.
    expect(labels.getMetricsAsArray().map((m) => m.name)).toEqual(['bre_proxy_paced_total']);
    expect(() => new PrometheusRecorder({ registry: labels, prefix: 'b_' })).not.toThrow();
  });
});

describe("PrometheusRecorder on prom-client's default registry", () => {
  it('register.metrics() holds every bre_proxy_* metric, its labels and values', async () => {
    const r = new PrometheusRecorder();
    const a = '[2001:db8::10]:9300';
    const b = 'upstream-b.example:9300';
    r.upstreamReply(a, 'frame');
    r.upstreamReply(b, 'timeout');
    r.upstreamState(b, 'demoted');
    r.upstreamState(b, 'probing');
    r.upstreamState(a, 'demoted');
    r.upstreamState(a, 'healthy');
    r.upstreamState('c.example:9300', 'probing');
    r.componentError('cache');
    r.componentError('cache');
    r.componentError('retransmitter');
    r.hedge();
    r.hedge();
    r.hedge();
    r.inflight(12);
    r.inflight(4);
    r.paced(a, 'ip');
    r.paced(a, 'ip');
    r.paced(b, 'flow');
    r.unicastRetransmit();
    r.unicastRetransmit();
    r.proxyRequest();
    r.proxyRecovered();
    r.recoveryLatency(20);
    r.queueDepth(9);

    const t = await register.metrics();
    const found = new Map([...types(t)].filter(([name]) => name.startsWith('bre_proxy_')));
    expect(Object.fromEntries(found)).toEqual(EXPORTED);

    expect(value(t, 'bre_proxy_upstream_healthy', { upstream: a })).toBe(1);
    expect(value(t, 'bre_proxy_upstream_healthy', { upstream: b })).toBe(0);
    expect(value(t, 'bre_proxy_upstream_healthy', { upstream: 'c.example:9300' })).toBe(0);
    const errors = (component: string) =>
      value(t, 'bre_proxy_component_errors_total', { component });
    expect(errors('cache')).toBe(2);
    expect(errors('retransmitter')).toBe(1);
    for (const c of ['deduper', 'recorder', 'transport', 'listener']) expect(errors(c)).toBe(0);
    expect(value(t, 'bre_proxy_hedges_total')).toBe(3);
    expect(value(t, 'bre_proxy_inflight')).toBe(4);
    expect(value(t, 'bre_proxy_paced_total', { upstream: a, tier: 'ip' })).toBe(2);
    expect(value(t, 'bre_proxy_paced_total', { upstream: b, tier: 'flow' })).toBe(1);
    expect(() => value(t, 'bre_proxy_paced_total', { upstream: b, tier: 'ip' })).toThrow();
    expect(value(t, 'bre_proxy_unicast_retransmits_total')).toBe(2);
    expect(value(t, 'bre_proxy_requests_total')).toBe(1);
    expect(value(t, 'bre_proxy_recovered_total')).toBe(1);
    expect(value(t, 'bre_proxy_recovery_seconds_count')).toBe(1);
    expect(value(t, 'bre_proxy_queue_depth')).toBe(9);
    expect(value(t, 'bre_proxy_upstream_replies_total', { upstream: b, kind: 'timeout' })).toBe(1);
  });

  it('an upstream gets a health series at its first reply, and a state change wins', async () => {
    const r = new PrometheusRecorder();
    r.upstreamState('a:1', 'demoted');
    r.upstreamReply('a:1', 'timeout'); // demoted already: the reply does not make it healthy
    r.upstreamReply('b:1', 'miss');
    r.upstreamReply('b:1', 'frame');
    const t = await register.metrics();
    expect(value(t, 'bre_proxy_upstream_healthy', { upstream: 'a:1' })).toBe(0);
    expect(value(t, 'bre_proxy_upstream_healthy', { upstream: 'b:1' })).toBe(1);
  });

  it('a pacing wait without a tier counts as ip, and non-finite gauge values are ignored', async () => {
    const r = new PrometheusRecorder();
    r.paced('a:1');
    r.inflight(3);
    r.inflight(Number.NaN);
    const t = await register.metrics();
    expect(value(t, 'bre_proxy_paced_total', { upstream: 'a:1', tier: 'ip' })).toBe(1);
    expect(value(t, 'bre_proxy_inflight')).toBe(3);
  });
});

describe('PrometheusRecorder on a ProxyClient (loopback upstream emulator)', () => {
  const leaks = useLeakCheck();

  it('reflects recoveries, failures and upstream replies of a real client', async () => {
    const upstream = leaks.closeAfter(await UpstreamEmulator.start());
    upstream.putRange(7n, 1n, 3n);
    const { client, recorder } = leaks.closeAfter(
      harness({
        transport: 'own',
        upstreams: [upstream.endpoint],
        cache: new MemoryCache(),
        recorder: new PrometheusRecorder(),
        timeoutMs: 500,
      }),
    );
    for (const seq of [1n, 2n, 3n, 4n])
      expect(client.enqueue({ hashKey: 7n, startSeq: seq })).toBe(true);
    expect(client.enqueue({ hashKey: 7n, startSeq: 9n, flags: 0x01 })).toBe(false);
    await client.onIdle();

    const t = await recorder.registry.metrics();
    expect(value(t, 'bre_proxy_requests_total')).toBe(4);
    expect(value(t, 'bre_proxy_recovered_total')).toBe(3);
    expect(value(t, 'bre_proxy_failed_total', { reason: 'exhausted' })).toBe(1); // seq 4: MISS
    expect(value(t, 'bre_proxy_dropped_total', { reason: 'proxied' })).toBe(1);
    const replies = (kind: string) =>
      value(t, 'bre_proxy_upstream_replies_total', { upstream: upstream.endpoint, kind });
    expect(replies('frame')).toBe(3);
    expect(replies('miss')).toBe(1);
    expect(value(t, 'bre_proxy_recovery_seconds_count')).toBe(3);
  });
});
