import type { TtlClass } from '../wire/frame.js';
import type { Transport } from '../transport/transport.js';
import { parseUpstream } from '../transport/address.js';
import type { Cache, Deduper, Logger, Recorder, Retransmitter } from './components.js';
import { DEFAULT_NACK_RATE, type NackRate } from './admission.js';
import { canonicalIp } from '../transport/address.js';
import { MAX_TIMER_MS } from '../shared/within.js';
import { checkOptions, optionError, show } from '../shared/option-check.js';

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
   * ms, the next upstream is asked in parallel and the first valid frame wins; the slower
   * attempt keeps listening until its own timeout. `'adaptive'` hedges after the upstream's
   * smoothed RTT plus twice its variance (at least `minTimeoutMs`; half of `timeoutMs`
   * before the first sample), so a silent upstream costs a gap that wait instead of a full
   * timeout. Hedges are budgeted to about one per ten NACKs, so they never double the load
   * on upstreams. `false` turns hedging off.
   * @default 'adaptive'
   */
  hedgeAfterMs?: number | 'adaptive' | false;
  /**
   * NACK admission per upstream, modelled on the reference server's limits that answer with
   * silence (a NACK past them costs its gap a timeout): a bucket of `burst` NACKs refilled
   * at `perSecond` (the server's per-IP tier, `RL_IP_RATE` 100/s and `RL_IP_BURST` 10 by
   * default) and a sliding window of `perFlow` NACKs per HashKey per `flowWindowMs` (its
   * chain tier, `RL_CHAIN_RATE` 500 per `RL_CHAIN_WINDOW` 1 min). The defaults keep a margin
   * under the server's, since the two run on different clocks. A NACK leaves only when both
   * admit it; a gap goes to the healthy upstream that can admit it soonest and waits, holding
   * no worker, within `gapDeadlineMs`. A partial object is merged with the defaults;
   * `perFlow: false` turns the flow window off; `false` turns admission off (every NACK
   * goes at once). If your upstreams raise their limits for relay addresses, raise these
   * to match.
   * @default { perSecond: 90, burst: 9, perFlow: 480, flowWindowMs: 60000 }
   * @example { perSecond: 900, burst: 90 } // an upstream with RL_IP_RATE=1000, RL_IP_BURST=100
   */
  nackRate?: Partial<NackRate> | false;
  /**
   * How a recovered frame is delivered, as the reference proxy's `Config.Multicast` and
   * `Config.Unicast`: `multicast` retransmits it into the downstream domain
   * (`retransmitter.retransmit`); `unicast` sends it to every listener that asked for the gap
   * (`Gap.requester`, coalesced requests included) with `retransmitter.retransmitUnicast`,
   * which the retransmitter must then have. Both, either, or neither (cache-warm only: the
   * requester's next NACK hits the cache). Missing fields keep their defaults.
   * @default { multicast: true, unicast: false }
   * @example { multicast: false, unicast: true } // answer only the listeners that asked
   */
  delivery?: Delivery;
  /**
   * Check each recovered frame against its content hash before accepting it (TxID of a
   * transaction or anchor frame, raw or Extended Format; ContentID of a BEEF object; member
   * TxIDs of a bundle that carries them). A frame that fails is ignored like a frame for
   * another gap, counted in `stats().invalidFrames`, and the exchange keeps waiting for the
   * genuine one. Kinds that cannot be checked per datagram (fragments, block control,
   * subtree data, block headers) pass as before.
   * @default false
   */
  verifyContent?: boolean;
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

/** Which deliveries a recovered frame gets (see {@link ProxyClientOptions.delivery}). */
export interface Delivery {
  /** Retransmit into the downstream multicast domain. @default true */
  multicast?: boolean;
  /** Send to each listener that asked (`Gap.requester`). @default false */
  unicast?: boolean;
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
  hedgeAfterMs: number | 'adaptive' | false;
  adaptiveTimeout: boolean;
  minTimeoutMs: number;
  nackRate: NackRate | false;
  delivery: Required<Delivery>;
  verifyContent: boolean;
}

/** Every option {@link ProxyClientOptions} knows, for the "did you mean" check. */
const KNOWN: readonly (keyof ProxyClientOptions)[] = [
  'upstreams',
  'cache',
  'retransmitter',
  'deduper',
  'recorder',
  'transport',
  'logger',
  'timeoutMs',
  'maxEndpoints',
  'dedupWindowMs',
  'workers',
  'queueDepth',
  'ttls',
  'maxThrottleRetries',
  'maxRangeSpan',
  'failureMemoryMs',
  'failureMemorySize',
  'gapDeadlineMs',
  'componentTimeoutMs',
  'demoteAfter',
  'demoteCooldownMs',
  'hedgeAfterMs',
  'adaptiveTimeout',
  'minTimeoutMs',
  'nackRate',
  'delivery',
  'verifyContent',
];

/** `type`: ERR_INVALID_ARG_TYPE, `value`: ERR_INVALID_ARG_VALUE, `range`: ERR_OUT_OF_RANGE. */
function fail(kind: 'type' | 'value' | 'range', message: string): never {
  const code = {
    type: 'ERR_INVALID_ARG_TYPE',
    value: 'ERR_INVALID_ARG_VALUE',
    range: 'ERR_OUT_OF_RANGE',
  } as const;
  throw optionError(code[kind], `ProxyClient: option ${message}`);
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
    fail(
      typeof value === 'number' ? 'range' : 'type',
      `${name} must be an integer, got ${show(value)}`,
    );
  }
  if (value < min || value > max)
    fail('range', `${name} must be in ${min}..${max}, got ${show(value)}`);
  return value;
}

/** A duration in ms that a Node.js timer can honour (longer ones would fire at once). */
function ms(name: string, value: unknown, fallback: number, min: number): number {
  return int(name, value, fallback, min, MAX_TIMER_MS);
}

function needMethod(name: string, value: unknown, method: string, required: boolean): void {
  if (value === undefined && !required) return;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Record<string, unknown>)[method] !== 'function'
  ) {
    const article = /^[aeiou]/.test(method) ? 'an' : 'a';
    fail(
      'type',
      `${name} must be an object with ${article} ${method}() method, got ${show(value)}`,
    );
  }
}

/** One spelling per upstream: IP literals canonical, host names lower case. */
function upstreamKey(host: string, port: number, family: number): string {
  return `${family === 0 ? host.toLowerCase() : canonicalIp(host)}|${port}`;
}

function upstreamList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    fail(
      Array.isArray(value) ? 'value' : 'type',
      `upstreams must be a non-empty array of "host:port", got ${show(value)}`,
    );
  }
  const upstreams: string[] = [];
  const seen = new Map<string, string>();
  for (const u of value as unknown[]) {
    const parsed = parseUpstream(u);
    if (typeof parsed === 'string')
      fail(typeof u === 'string' ? 'value' : 'type', `upstreams: ${parsed}`);
    const text = u as string;
    const key = upstreamKey(parsed.host, parsed.port, parsed.family);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      fail(
        'value',
        earlier === text
          ? `upstreams lists ${show(text)} twice`
          : `upstreams lists one endpoint twice: ${show(earlier)} and ${show(text)}`,
      );
    }
    seen.set(key, text);
    upstreams.push(text);
  }
  return upstreams;
}

const RATE_KEYS = ['perSecond', 'burst', 'perFlow', 'flowWindowMs'];

function nackRateOf(value: unknown): NackRate | false {
  if (value === undefined) return { ...DEFAULT_NACK_RATE };
  if (value === false) return false;
  if (typeof value !== 'object' || value === null) {
    fail(
      'type',
      `nackRate must be { perSecond, burst, perFlow, flowWindowMs } or false, got ${show(value)}`,
    );
  }
  const r = value as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!RATE_KEYS.includes(k))
      fail('value', `nackRate.${k} is not an option (${RATE_KEYS.join(', ')})`);
  }
  const perSecond = r.perSecond ?? DEFAULT_NACK_RATE.perSecond;
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) {
    fail('range', `nackRate.perSecond must be a number above 0, got ${show(perSecond)}`);
  }
  const perFlow =
    r.perFlow === false
      ? false
      : int('nackRate.perFlow', r.perFlow, DEFAULT_NACK_RATE.perFlow as number, 1, 1_000_000_000);
  return {
    perSecond,
    burst: int('nackRate.burst', r.burst, DEFAULT_NACK_RATE.burst, 1, 1_000_000),
    perFlow,
    flowWindowMs: ms('nackRate.flowWindowMs', r.flowWindowMs, DEFAULT_NACK_RATE.flowWindowMs, 1),
  };
}

function deliveryOf(value: unknown, retransmitter: Retransmitter): Required<Delivery> {
  if (value === undefined) return { multicast: true, unicast: false };
  if (typeof value !== 'object' || value === null) {
    fail('type', `delivery must be { multicast?, unicast? }, got ${show(value)}`);
  }
  const d = value as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (k !== 'multicast' && k !== 'unicast')
      fail('value', `delivery.${k} is not an option (multicast, unicast)`);
  }
  const delivery = {
    multicast: bool('delivery.multicast', d.multicast, true),
    unicast: bool('delivery.unicast', d.unicast, false),
  };
  if (delivery.unicast && typeof retransmitter.retransmitUnicast !== 'function') {
    fail(
      'type',
      'delivery.unicast needs a retransmitter with a retransmitUnicast(frame, requester) method',
    );
  }
  return delivery;
}

function hedgeOf(value: unknown): number | 'adaptive' | false {
  if (value === undefined || value === 'adaptive') return 'adaptive';
  if (value === false) return false;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail('type', `hedgeAfterMs must be an integer (ms), 'adaptive' or false, got ${show(value)}`);
  }
  return int('hedgeAfterMs', value, 0, 1, 600_000);
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail('type', `${name} must be a boolean, got ${show(value)}`);
  return value;
}

/** Applies defaults and validates; throws naming the option and the value. */
export function resolveOptions(opts: ProxyClientOptions): ResolvedOptions {
  checkOptions('ProxyClient', opts, KNOWN);
  const upstreams = upstreamList(opts.upstreams);
  needMethod('cache', opts.cache, 'store', true);
  needMethod('retransmitter', opts.retransmitter, 'retransmit', true);
  needMethod('deduper', opts.deduper, 'setNX', false);
  needMethod('transport', opts.transport, 'exchange', false);
  if (
    opts.recorder !== undefined &&
    (typeof opts.recorder !== 'object' || opts.recorder === null)
  ) {
    fail('type', `recorder must be an object, got ${show(opts.recorder)}`);
  }
  if (opts.logger !== undefined) {
    for (const m of ['debug', 'info', 'warn', 'error']) needMethod('logger', opts.logger, m, true);
  }
  const ttls: Ttls = { ...DEFAULT_TTLS };
  if (opts.ttls !== undefined) {
    if (typeof opts.ttls !== 'object' || opts.ttls === null) {
      fail('type', `ttls must be an object, got ${show(opts.ttls)}`);
    }
    for (const [k, v] of Object.entries(opts.ttls)) {
      if (!(k in DEFAULT_TTLS)) {
        fail('value', `ttls.${k} is not a TTL class (tx, block, subtree, anchor, beef)`);
      }
      ttls[k as keyof Ttls] = ms(`ttls.${k}`, v, DEFAULT_TTLS[k as keyof Ttls], 1);
    }
  }
  const timeoutMs = int('timeoutMs', opts.timeoutMs, 300, 1, 600_000);
  const minTimeoutMs = ms('minTimeoutMs', opts.minTimeoutMs, Math.min(10, timeoutMs), 1);
  if (minTimeoutMs > timeoutMs) {
    fail('range', `minTimeoutMs (${minTimeoutMs}) must not exceed timeoutMs (${timeoutMs})`);
  }
  return {
    upstreams,
    timeoutMs,
    maxEndpoints: int('maxEndpoints', opts.maxEndpoints, upstreams.length, 1, upstreams.length),
    dedupWindowMs: ms('dedupWindowMs', opts.dedupWindowMs, 60_000, 1),
    workers: int('workers', opts.workers, 4, 1, 10_000),
    queueDepth: int('queueDepth', opts.queueDepth, 1024, 0, 100_000_000),
    ttls,
    maxThrottleRetries: int('maxThrottleRetries', opts.maxThrottleRetries, 3, 0, 1000),
    maxRangeSpan: int('maxRangeSpan', opts.maxRangeSpan, 64, 1, 1_000_000),
    failureMemoryMs: ms('failureMemoryMs', opts.failureMemoryMs, 5000, 0),
    failureMemorySize: int('failureMemorySize', opts.failureMemorySize, 10_000, 0, 100_000_000),
    gapDeadlineMs: ms('gapDeadlineMs', opts.gapDeadlineMs, 5000, 1),
    componentTimeoutMs: ms('componentTimeoutMs', opts.componentTimeoutMs, 1000, 1),
    demoteAfter: int('demoteAfter', opts.demoteAfter, 3, 1, 1_000_000),
    demoteCooldownMs: ms('demoteCooldownMs', opts.demoteCooldownMs, 5000, 0),
    hedgeAfterMs: hedgeOf(opts.hedgeAfterMs),
    adaptiveTimeout: bool('adaptiveTimeout', opts.adaptiveTimeout, false),
    minTimeoutMs,
    nackRate: nackRateOf(opts.nackRate),
    delivery: deliveryOf(opts.delivery, opts.retransmitter),
    verifyContent: bool('verifyContent', opts.verifyContent, false),
  };
}
