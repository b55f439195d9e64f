/**
 * Prometheus metrics (`nack-proxy/prometheus`): a {@link Recorder} on prom-client with the
 * metric names existing retry-endpoint dashboards read. Needs the optional peer dependency
 * `prom-client` (v15). Every metric, with example alert rules and a Grafana dashboard, is
 * described in `docs/metrics.md`.
 * @module nack-proxy/prometheus
 */
import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type {
  AdmissionTier,
  Component,
  DropReason,
  FailReason,
  Recorder,
  UpstreamState,
} from '../client/components.js';
import { loadOptionalPeer } from '../optional-peer.js';
import { checkOptions, type OptionSpec } from '../shared/option-check.js';

const prom = loadOptionalPeer<typeof PromClient>('prom-client', 'nack-proxy/prometheus');

/** Options of {@link PrometheusRecorder}. */
export interface PrometheusRecorderOptions {
  /**
   * Registry the metrics are registered in. When it already holds a metric of the same name
   * (a second recorder with the same `prefix`), the recorder reuses it: both recorders then
   * count into the same series. A metric of that name with another type, other labels or
   * other buckets is refused with an error naming it.
   * @default prom-client's default registry (`register`), the one `register.metrics()` serves
   * @example
   * ```ts
   * import { Registry } from 'prom-client';
   * const registry = new Registry();
   * const recorder = new PrometheusRecorder({ registry });
   * ```
   */
  registry?: Registry;
  /**
   * Prefix of every metric name. Dashboards of existing endpoints expect the default; give
   * two clients in one process different prefixes (or registries) so that their gauges do not
   * overwrite each other.
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
/** Every {@link Component}, so that each error series starts at 0 (and a new one is not missed). */
const COMPONENTS = Object.keys({
  cache: true,
  deduper: true,
  retransmitter: true,
  recorder: true,
  transport: true,
  listener: true,
} satisfies Record<Component, true>);

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b).join();

/** The runtime fields of a prom-client metric that tell whether it can be reused. */
interface MetricShape {
  type?: unknown;
  labelNames?: unknown;
  upperBounds?: unknown;
}

function describeShape(type: unknown, labels: readonly string[], buckets?: readonly number[]) {
  const l = labels.length === 0 ? 'no labels' : `labels ${labels.join(', ')}`;
  return `a ${String(type)} with ${l}${buckets === undefined ? '' : `, buckets ${buckets.join(', ')}`}`;
}

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
 * | `bre_proxy_inflight` | gauge | |
 * | `bre_proxy_upstream_replies_total` | counter | `upstream`, `kind` |
 * | `bre_proxy_upstream_healthy` | gauge | `upstream` |
 * | `bre_proxy_paced_total` | counter | `upstream`, `tier` |
 * | `bre_proxy_hedges_total` | counter | |
 * | `bre_proxy_unicast_retransmits_total` | counter | |
 * | `bre_proxy_component_errors_total` | counter | `component` |
 * | `bre_proxy_invalid_frames_total` | counter | `reason` |
 *
 * Known `reason` and `component` values start at 0 so that rate queries see the series
 * before the first event. The metrics go to prom-client's default registry unless
 * `registry` is given; constructing a second recorder on the same registry (and prefix)
 * reuses the metrics already there.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * const recorder = new PrometheusRecorder();
 * const client = new ProxyClient({ upstreams, cache, retransmitter, recorder });
 * http.createServer(async (_req, res) => {
 *   res.setHeader('content-type', register.contentType);
 *   res.end(await register.metrics());
 * }).listen(9464);
 * ```
 */
export class PrometheusRecorder implements Recorder {
  /**
   * The registry holding the metrics (prom-client's default `register` unless `registry` was
   * given); serve `await registry.metrics()` to Prometheus.
   */
  readonly registry: Registry;
  private readonly requests: Counter;
  private readonly recovered: Counter;
  private readonly failed: Counter<'reason'>;
  private readonly inflightDedup: Counter;
  private readonly queueDropped: Counter;
  private readonly dropped: Counter<'reason'>;
  private readonly latency: Histogram;
  private readonly depth: Gauge;
  private readonly inflightGauge: Gauge;
  private readonly replies: Counter<'upstream' | 'kind'>;
  private readonly healthy: Gauge<'upstream'>;
  private readonly pacedNacks: Counter<'upstream' | 'tier'>;
  private readonly hedges: Counter;
  private readonly unicast: Counter;
  private readonly errors: Counter<'component'>;
  private readonly invalid: Counter<'reason'>;
  /** Upstreams whose health this recorder has set (by a state change or a first reply). */
  private readonly known = new Set<string>();

  /** @param options - registry, name prefix and histogram buckets */
  constructor(options: PrometheusRecorderOptions = {}) {
    checkOptions('PrometheusRecorder', options, PROMETHEUS_RECORDER_OPTIONS);
    const p = options.prefix ?? 'bre_proxy_';
    const registry = options.registry ?? prom.register;
    this.registry = registry;
    const registers = [registry];

    /** The metric already in the registry under `name`, when it has the same shape. */
    const existing = <M>(
      name: string,
      type: string,
      labelNames: readonly string[],
      buckets?: readonly number[],
    ): M | undefined => {
      const found = registry.getSingleMetric(name);
      if (found === undefined) return undefined;
      const shape = found as unknown as MetricShape;
      const labels = Array.isArray(shape.labelNames) ? (shape.labelNames as string[]) : [];
      const bounds = Array.isArray(shape.upperBounds) ? (shape.upperBounds as number[]) : [];
      const same =
        shape.type === type &&
        [...labels].sort().join() === [...labelNames].sort().join() &&
        (buckets === undefined || sorted(bounds) === sorted(buckets));
      if (!same) {
        throw new Error(
          `PrometheusRecorder: the registry already holds ${name} as ` +
            `${describeShape(shape.type, labels, buckets && bounds)}, not ` +
            `${describeShape(type, labelNames, buckets)}; give this recorder another ` +
            "'prefix' or 'registry'",
        );
      }
      return found as M;
    };
    /** Metrics this constructor registered, removed again when a later one is refused. */
    const created: string[] = [];
    const make = <M>(name: string, create: () => M): M => {
      created.push(name);
      return create();
    };
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      existing<Counter<L>>(p + name, 'counter', labelNames) ??
      make(p + name, () => new prom.Counter<L>({ name: p + name, help, labelNames, registers }));
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      existing<Gauge<L>>(p + name, 'gauge', labelNames) ??
      make(p + name, () => new prom.Gauge<L>({ name: p + name, help, labelNames, registers }));

    try {
      this.requests = counter('requests_total', 'Gaps accepted for proxied recovery.');
      this.recovered = counter('recovered_total', 'Gaps recovered from an upstream endpoint.');
      this.failed = counter('failed_total', 'Gaps that ended without a frame.', ['reason']);
      this.inflightDedup = counter(
        'inflight_dedup_total',
        'Gaps not fetched because a fetch for them was already claimed or running.',
      );
      this.queueDropped = counter(
        'queue_dropped_total',
        'Gaps refused because the queue was full.',
      );
      this.dropped = counter('dropped_total', 'Gaps refused at enqueue, by reason.', ['reason']);
      this.replies = counter('upstream_replies_total', 'Replies from upstream endpoints.', [
        'upstream',
        'kind',
      ]);
      this.healthy = gauge(
        'upstream_healthy',
        'Whether an upstream endpoint is healthy (1) or demoted or probing (0).',
        ['upstream'],
      );
      this.pacedNacks = counter(
        'paced_total',
        "NACKs that waited for an upstream's admission limit (nackRate), by tier (ip, flow).",
        ['upstream', 'tier'],
      );
      this.hedges = counter(
        'hedges_total',
        'Hedged NACKs: the next upstream asked while the first was still silent.',
      );
      this.unicast = counter(
        'unicast_retransmits_total',
        'Recovered frames sent by unicast to a listener that asked for them.',
      );
      this.errors = counter(
        'component_errors_total',
        'Injected components that threw, rejected or hung, by component.',
        ['component'],
      );
      this.invalid = counter(
        'invalid_frames_total',
        'Frames for the asked gap that were refused (layout, or the verifyContent check).',
        ['reason'],
      );
      const buckets = [...(options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS)];
      this.latency =
        existing<Histogram>(p + 'recovery_seconds', 'histogram', [], buckets) ??
        make(
          p + 'recovery_seconds',
          () =>
            new prom.Histogram({
              name: p + 'recovery_seconds',
              help: 'Time from enqueue to recovered frame, in seconds.',
              buckets,
              registers,
            }),
        );
      this.depth = gauge('queue_depth', 'Gaps waiting in the recovery queue.');
      this.inflightGauge = gauge(
        'inflight',
        'Gaps in flight: a NACK out to an upstream, or the frame being stored and delivered.',
      );
    } catch (err) {
      for (const name of created) registry.removeSingleMetric(name);
      throw err;
    }
    for (const reason of FAIL_REASONS) this.failed.inc({ reason }, 0);
    for (const reason of DROP_REASONS) this.dropped.inc({ reason }, 0);
    for (const component of COMPONENTS) this.errors.inc({ component }, 0);
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

  /**
   * Counts `bre_proxy_upstream_replies_total{upstream,kind}`. The first reply of an upstream
   * whose health was never reported also sets `bre_proxy_upstream_healthy{upstream}` to 1
   * (the client starts every upstream healthy), so every upstream in use has a health series.
   */
  upstreamReply(upstream: string, kind: string): void {
    this.replies.inc({ upstream, kind });
    if (!this.known.has(upstream)) {
      this.known.add(upstream);
      this.healthy.set({ upstream }, 1);
    }
  }

  /** Sets `bre_proxy_upstream_healthy{upstream}`: 1 when `healthy`, 0 when demoted or probing. */
  upstreamState(upstream: string, state: UpstreamState): void {
    this.known.add(upstream);
    this.healthy.set({ upstream }, state === 'healthy' ? 1 : 0);
  }

  /**
   * Counts `bre_proxy_paced_total{upstream,tier}`. A client that does not say the tier is
   * counted as `ip` (its per-upstream bucket).
   */
  paced(upstream: string, tier: AdmissionTier = 'ip'): void {
    this.pacedNacks.inc({ upstream, tier });
  }

  /** Counts `bre_proxy_hedges_total`. */
  hedge(): void {
    this.hedges.inc();
  }

  /** Sets `bre_proxy_inflight`. */
  inflight(count: number): void {
    if (Number.isFinite(count)) this.inflightGauge.set(count);
  }

  /** Counts `bre_proxy_unicast_retransmits_total`. */
  unicastRetransmit(): void {
    this.unicast.inc();
  }

  /** Counts `bre_proxy_component_errors_total{component}`. */
  componentError(component: string): void {
    this.errors.inc({ component });
  }

  /** Counts `bre_proxy_invalid_frames_total{reason}`. */
  invalidFrame(reason: string): void {
    this.invalid.inc({ reason });
  }
}
