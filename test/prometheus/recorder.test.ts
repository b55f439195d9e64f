import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PrometheusRecorder } from '../../src/prometheus/index.js';
import { MemoryCache } from '../../src/store/memory-cache.js';
import { UpstreamEmulator } from '../../src/testing/emulator.js';
import { harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition into samples (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of one sample; fails the test when it is missing. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = parse(text).filter(
    (s) =>
      s.name === name &&
      Object.keys(labels).length === Object.keys(s.labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}: ${text}`);
  return found[0]!.value;
}

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
    r.paced('[::1]:9300');
    r.paced('[::1]:9300');
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
    expect(value(t, 'bre_proxy_paced_total', { upstream: '[::1]:9300' })).toBe(2);
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
    expect(() => new PrometheusRecorder({ registry })).toThrow(/already been registered/);
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
