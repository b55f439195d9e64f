import type { TtlClass } from '../wire/frame.js';
import type { Transport } from '../transport/transport.js';
import { parseUpstream } from '../transport/address.js';
import type { Cache, Deduper, Logger, Recorder, Retransmitter } from './components.js';

/** Re-cache TTL per frame class, in milliseconds. */
export type Ttls = Record<TtlClass, number>;

/** Default re-cache TTLs: tx 60 s, block 10 min, subtree 5 min, anchor 2 min, beef 60 s. */
export const DEFAULT_TTLS: Readonly<Ttls> = Object.freeze({
  tx: 60_000,
  block: 600_000,
  subtree: 300_000,
  anchor: 120_000,
  beef: 60_000,
});

/**
 * Options of {@link ProxyClient}. Only `upstreams`, `cache` and `retransmitter` are required.
 * Invalid values throw a `TypeError`/`RangeError` at construction naming the option and value.
 *
 * @example
 * ```ts
 * const client = new ProxyClient({
 *   upstreams: ['[2001:db8::10]:9300', 'upstream-b.example:9300'],
 *   cache: new MemoryCache(),
 *   retransmitter: { retransmit: (frame) => multicastSocket.send(frame, 9000, 'ff05::b') },
 *   workers: 8,
 * });
 * ```
 */
export interface ProxyClientOptions {
  /**
   * Upstream retry endpoints, in order of preference: `host:port`, `1.2.3.4:port` or
   * `[v6]:port`. Must be non-empty.
   * @example ['[2001:db8::10]:9300', 'upstream-b.example:9300']
   */
  upstreams: readonly string[];
  /** Where recovered frames are re-cached (`MemoryCache`, `RedisCache` or the host's own). */
  cache: Cache;
  /** Sends each recovered frame into the downstream multicast domain. */
  retransmitter: Retransmitter;
  /**
   * Set-if-absent claim store shared by sibling endpoints, so each gap is fetched once.
   * Without one, only this client's own queue coalesces duplicates.
   * @default undefined
   */
  deduper?: Deduper;
  /** Metrics sink. @default undefined (no metrics) */
  recorder?: Recorder;
  /**
   * How NACKs reach upstreams. The client closes a transport only if it created it.
   * @default new UdpTransport()
   */
  transport?: Transport;
  /**
   * Structured logger (pino or any object with `debug/info/warn/error(obj, msg)`).
   * @default silent
   */
  logger?: Logger;
  /**
   * Longest wait for a frame, MISS or THROTTLED from one upstream (per attempt), in ms.
   * With `adaptiveTimeout` this is the ceiling.
   * @default 300
   */
  timeoutMs?: number;
  /**
   * How many upstreams one gap may try, at most.
   * @default upstreams.length
   */
  maxEndpoints?: number;
  /**
   * Lifetime of a deduper claim, in ms: siblings do not fetch the same gap within it.
   * @default 60000
   */
  dedupWindowMs?: number;
  /**
   * Recoveries in flight at once.
   * @default 4
   */
  workers?: number;
  /**
   * Gaps waiting for a worker, at most; further enqueues are dropped as `queue-full`.
   * @default 1024
   */
  queueDepth?: number;
  /**
   * Re-cache TTL per frame class, in ms; missing classes keep their defaults.
   * @default { tx: 60000, block: 600000, subtree: 300000, anchor: 120000, beef: 60000 }
   */
  ttls?: Partial<Ttls>;
  /**
   * THROTTLED replies honoured per upstream per gap before moving to the next upstream.
   * @default 3
   */
  maxThrottleRetries?: number;
  /**
   * Largest range (`endSeq - startSeq + 1`) expanded into per-sequence jobs; larger ranges
   * are dropped as `range-too-large`.
   * @default 64
   */
  maxRangeSpan?: number;
  /**
   * After a gap fails as `exhausted`, further requests for it within this many ms end at
   * once as `failed('recent-failure')` without asking upstreams. 0 disables.
   * @default 5000
   */
  failureMemoryMs?: number;
  /**
   * Most gaps remembered as recently failed (oldest forgotten first).
   * @default 10000
   */
  failureMemorySize?: number;
  /**
   * Overall budget for one gap, in ms, over all attempts and throttle holds; when it passes
   * the gap ends as `failed('deadline')`.
   * @default 5000
   */
  gapDeadlineMs?: number;
  /**
   * Longest wait for any call into `cache`, `deduper` or `retransmitter`, in ms. A call
   * that has not settled by then is reported as an `error` event and the job moves on.
   * @default 1000
   */
  componentTimeoutMs?: number;
  /**
   * Consecutive timeouts or send errors after which an upstream is demoted behind the
   * healthy ones.
   * @default 3
   */
  demoteAfter?: number;
  /**
   * How long a demoted upstream stays demoted before one probe may try it again, in ms.
   * @default 5000
   */
  demoteCooldownMs?: number;
  /**
   * Hedging: if the current upstream has sent no frame, MISS or THROTTLED after this many
   * ms, the next upstream is asked in parallel and the first valid frame wins.
   * `'adaptive'` hedges after the upstream's smoothed RTT plus twice its variance.
   * @default undefined (off)
   */
  hedgeAfterMs?: number | 'adaptive';
  /**
   * Adaptive attempt timeout: each upstream's wait is its smoothed RTT + 4 × RTT variance
   * (as TCP computes RTO), kept between `minTimeoutMs` and `timeoutMs`.
   * @default false
   */
  adaptiveTimeout?: boolean;
  /**
   * Floor of the adaptive attempt timeout, in ms.
   * @default 10
   */
  minTimeoutMs?: number;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  upstreams: string[];
  timeoutMs: number;
  maxEndpoints: number;
  dedupWindowMs: number;
  workers: number;
  queueDepth: number;
  ttls: Ttls;
  maxThrottleRetries: number;
  maxRangeSpan: number;
  failureMemoryMs: number;
  failureMemorySize: number;
  gapDeadlineMs: number;
  componentTimeoutMs: number;
  demoteAfter: number;
  demoteCooldownMs: number;
  hedgeAfterMs: number | 'adaptive' | undefined;
  adaptiveTimeout: boolean;
  minTimeoutMs: number;
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  return String(value);
}

function int(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`nack-proxy: option ${name} must be an integer, got ${show(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(
      `nack-proxy: option ${name} must be in ${min}..${max}, got ${show(value)}`,
    );
  }
  return value;
}

function needMethod(name: string, value: unknown, method: string, required: boolean): void {
  if (value === undefined && !required) return;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Record<string, unknown>)[method] !== 'function'
  ) {
    throw new TypeError(
      `nack-proxy: option ${name} must be an object with a ${method}() method, got ${show(value)}`,
    );
  }
}

/** Applies defaults and validates; throws naming the option and the value. */
export function resolveOptions(opts: ProxyClientOptions): ResolvedOptions {
  if (typeof opts !== 'object' || opts === null) {
    throw new TypeError(`nack-proxy: options must be an object, got ${show(opts)}`);
  }
  const ups: unknown = opts.upstreams;
  if (!Array.isArray(ups) || ups.length === 0) {
    throw new TypeError(
      `nack-proxy: option upstreams must be a non-empty array of "host:port", got ${show(ups)}`,
    );
  }
  const upstreams: string[] = [];
  for (const u of ups as unknown[]) {
    const parsed = parseUpstream(u);
    if (typeof parsed === 'string') throw new TypeError(`nack-proxy: option upstreams: ${parsed}`);
    const text = u as string;
    if (upstreams.includes(text))
      throw new TypeError(`nack-proxy: option upstreams lists ${show(text)} twice`);
    upstreams.push(text);
  }
  needMethod('cache', opts.cache, 'store', true);
  needMethod('retransmitter', opts.retransmitter, 'retransmit', true);
  needMethod('deduper', opts.deduper, 'setNX', false);
  needMethod('transport', opts.transport, 'exchange', false);
  if (opts.recorder !== undefined) {
    for (const m of [
      'proxyRequest',
      'proxyRecovered',
      'proxyFailed',
      'proxyInflightDedup',
      'proxyQueueDropped',
    ]) {
      needMethod('recorder', opts.recorder, m, true);
    }
  }
  if (opts.logger !== undefined) {
    for (const m of ['debug', 'info', 'warn', 'error']) needMethod('logger', opts.logger, m, true);
  }
  const ttls: Ttls = { ...DEFAULT_TTLS };
  if (opts.ttls !== undefined) {
    if (typeof opts.ttls !== 'object' || opts.ttls === null) {
      throw new TypeError(`nack-proxy: option ttls must be an object, got ${show(opts.ttls)}`);
    }
    for (const [k, v] of Object.entries(opts.ttls)) {
      if (!(k in DEFAULT_TTLS)) {
        throw new TypeError(
          `nack-proxy: option ttls.${k} is not a TTL class (tx, block, subtree, anchor, beef)`,
        );
      }
      ttls[k as keyof Ttls] = int(`ttls.${k}`, v, DEFAULT_TTLS[k as keyof Ttls], 1);
    }
  }
  const timeoutMs = int('timeoutMs', opts.timeoutMs, 300, 1, 600_000);
  const hedge = opts.hedgeAfterMs;
  let hedgeAfterMs: number | 'adaptive' | undefined;
  if (hedge === undefined || hedge === 'adaptive') hedgeAfterMs = hedge;
  else hedgeAfterMs = int('hedgeAfterMs', hedge, 0, 1, 600_000);
  if (opts.adaptiveTimeout !== undefined && typeof opts.adaptiveTimeout !== 'boolean') {
    throw new TypeError(
      `nack-proxy: option adaptiveTimeout must be a boolean, got ${show(opts.adaptiveTimeout)}`,
    );
  }
  return {
    upstreams,
    timeoutMs,
    maxEndpoints: int('maxEndpoints', opts.maxEndpoints, upstreams.length, 1, upstreams.length),
    dedupWindowMs: int('dedupWindowMs', opts.dedupWindowMs, 60_000, 1),
    workers: int('workers', opts.workers, 4, 1, 10_000),
    queueDepth: int('queueDepth', opts.queueDepth, 1024, 0, 100_000_000),
    ttls,
    maxThrottleRetries: int('maxThrottleRetries', opts.maxThrottleRetries, 3, 0, 1000),
    maxRangeSpan: int('maxRangeSpan', opts.maxRangeSpan, 64, 1, 1_000_000),
    failureMemoryMs: int('failureMemoryMs', opts.failureMemoryMs, 5000, 0),
    failureMemorySize: int('failureMemorySize', opts.failureMemorySize, 10_000, 0, 100_000_000),
    gapDeadlineMs: int('gapDeadlineMs', opts.gapDeadlineMs, 5000, 1),
    componentTimeoutMs: int('componentTimeoutMs', opts.componentTimeoutMs, 1000, 1),
    demoteAfter: int('demoteAfter', opts.demoteAfter, 3, 1, 1_000_000),
    demoteCooldownMs: int('demoteCooldownMs', opts.demoteCooldownMs, 5000, 0),
    hedgeAfterMs,
    adaptiveTimeout: opts.adaptiveTimeout ?? false,
    minTimeoutMs: Math.min(int('minTimeoutMs', opts.minTimeoutMs, 10, 1), timeoutMs),
  };
}
