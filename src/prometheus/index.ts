/**
 * Prometheus metrics (`nack-proxy/prometheus`): a {@link Recorder} on prom-client with the
 * metric names existing retry-endpoint dashboards read. Needs the optional peer dependency
 * `prom-client` (v15).
 * @module nack-proxy/prometheus
 */
import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DropReason, FailReason, Recorder } from '../client/components.js';
import { loadOptionalPeer } from '../optional-peer.js';
import { checkOptions, type OptionSpec } from '../shared/option-check.js';

const prom = loadOptionalPeer<typeof PromClient>('prom-client', 'nack-proxy/prometheus');

/** Options of {@link PrometheusRecorder}. */
export interface PrometheusRecorderOptions {
  /**
   * Registry the metrics are registered in. Registering two recorders in one registry throws
   * (the names collide) unless their `prefix` differs.
   * @default a new `Registry`
   */
  registry?: Registry;
  /**
   * Prefix of every metric name. Dashboards of existing endpoints expect the default.
   * @default 'bre_proxy_'
   */
  prefix?: string;
  /**
   * Buckets of the recovery-latency histogram, in seconds.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  latencyBuckets?: number[];
}

/** Every option of {@link PrometheusRecorderOptions}, for the constructor's check. */
const PROMETHEUS_RECORDER_OPTIONS: OptionSpec<PrometheusRecorderOptions> = {
  registry: 'object',
  prefix: 'string',
  latencyBuckets: 'array',
};

/** Default recovery-latency buckets, in seconds. */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const FAIL_REASONS: readonly FailReason[] = ['exhausted', 'aborted', 'deadline', 'recent-failure'];
const DROP_REASONS: readonly DropReason[] = [
  'queue-full',
  'closed',
  'proxied',
  'invalid',
  'range-too-large',
];

/**
 * Records the client's counters as Prometheus metrics (names with the default prefix):
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `bre_proxy_requests_total` | counter | |
 * | `bre_proxy_recovered_total` | counter | |
 * | `bre_proxy_failed_total` | counter | `reason` |
 * | `bre_proxy_inflight_dedup_total` | counter | |
 * | `bre_proxy_queue_dropped_total` | counter | |
 * | `bre_proxy_dropped_total` | counter | `reason` |
 * | `bre_proxy_recovery_seconds` | histogram | |
 * | `bre_proxy_queue_depth` | gauge | |
 * | `bre_proxy_upstream_replies_total` | counter | `upstream`, `kind` |
 * | `bre_proxy_paced_total` | counter | `upstream` |
 * | `bre_proxy_invalid_frames_total` | counter | `reason` |
 *
 * Known `reason` values start at 0 so that rate queries see the series before the first event.
 *
 * @example
 * ```ts
 * const recorder = new PrometheusRecorder();
 * const client = new ProxyClient({ upstreams, cache, retransmitter, recorder });
 * http.createServer(async (_req, res) => {
 *   res.setHeader('content-type', recorder.registry.contentType);
 *   res.end(await recorder.registry.metrics());
 * }).listen(9464);
 * ```
 */
export class PrometheusRecorder implements Recorder {
  /** The registry holding the metrics; serve `await registry.metrics()` to Prometheus. */
  readonly registry: Registry;
  private readonly requests: Counter;
  private readonly recovered: Counter;
  private readonly failed: Counter<'reason'>;
  private readonly inflightDedup: Counter;
  private readonly queueDropped: Counter;
  private readonly dropped: Counter<'reason'>;
  private readonly latency: Histogram;
  private readonly depth: Gauge;
  private readonly replies: Counter<'upstream' | 'kind'>;
  private readonly pacedNacks: Counter<'upstream'>;
  private readonly invalid: Counter<'reason'>;

  /** @param options - registry, name prefix and histogram buckets */
  constructor(options: PrometheusRecorderOptions = {}) {
    checkOptions('PrometheusRecorder', options, PROMETHEUS_RECORDER_OPTIONS);
    const p = options.prefix ?? 'bre_proxy_';
    this.registry = options.registry ?? new prom.Registry();
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new prom.Counter<L>({ name: p + name, help, labelNames, registers });

    this.requests = counter('requests_total', 'Gaps accepted for proxied recovery.');
    this.recovered = counter('recovered_total', 'Gaps recovered from an upstream endpoint.');
    this.failed = counter('failed_total', 'Gaps that ended without a frame.', ['reason']);
    this.inflightDedup = counter(
      'inflight_dedup_total',
      'Gaps not fetched because a fetch for them was already claimed or running.',
    );
    this.queueDropped = counter('queue_dropped_total', 'Gaps refused because the queue was full.');
    this.dropped = counter('dropped_total', 'Gaps refused at enqueue, by reason.', ['reason']);
    this.replies = counter('upstream_replies_total', 'Replies from upstream endpoints.', [
      'upstream',
      'kind',
    ]);
    this.pacedNacks = counter(
      'paced_total',
      'NACKs that waited for the per-upstream pacing budget (nackRate).',
      ['upstream'],
    );
    this.invalid = counter(
      'invalid_frames_total',
      'Frames for the asked gap that were refused (layout, or the verifyContent check).',
      ['reason'],
    );
    this.latency = new prom.Histogram({
      name: p + 'recovery_seconds',
      help: 'Time from enqueue to recovered frame, in seconds.',
      buckets: [...(options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS)],
      registers,
    });
    this.depth = new prom.Gauge({
      name: p + 'queue_depth',
      help: 'Gaps waiting in the recovery queue.',
      registers,
    });
    for (const reason of FAIL_REASONS) this.failed.inc({ reason }, 0);
    for (const reason of DROP_REASONS) this.dropped.inc({ reason }, 0);
  }

  /** Counts `bre_proxy_requests_total`. */
  proxyRequest(): void {
    this.requests.inc();
  }

  /** Counts `bre_proxy_recovered_total`. */
  proxyRecovered(): void {
    this.recovered.inc();
  }

  /** Counts `bre_proxy_failed_total{reason}`. */
  proxyFailed(reason: string): void {
    this.failed.inc({ reason });
  }

  /** Counts `bre_proxy_inflight_dedup_total`. */
  proxyInflightDedup(): void {
    this.inflightDedup.inc();
  }

  /** Counts `bre_proxy_queue_dropped_total`. */
  proxyQueueDropped(): void {
    this.queueDropped.inc();
  }

  /** Counts `bre_proxy_dropped_total{reason}`. */
  proxyDropped(reason: string): void {
    this.dropped.inc({ reason });
  }

  /** Observes `bre_proxy_recovery_seconds`; negative or non-finite values are ignored. */
  recoveryLatency(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.latency.observe(ms / 1000);
  }

  /** Sets `bre_proxy_queue_depth`. */
  queueDepth(depth: number): void {
    if (Number.isFinite(depth)) this.depth.set(depth);
  }

  /** Counts `bre_proxy_upstream_replies_total{upstream,kind}`. */
  upstreamReply(upstream: string, kind: string): void {
    this.replies.inc({ upstream, kind });
  }

  /** Counts `bre_proxy_paced_total{upstream}`. */
  paced(upstream: string): void {
    this.pacedNacks.inc({ upstream });
  }

  /** Counts `bre_proxy_invalid_frames_total{reason}`. */
  invalidFrame(reason: string): void {
    this.invalid.inc({ reason });
  }
}
