/**
 * How the emulator answers a NACK.
 * - `retry-endpoint` (the default): as the reference server (lightwebinc/retry-endpoint)
 *   answers, with the settings of {@link RetryEndpointOptions}: a proxied NACK for a held
 *   frame gets the frame from a second, unicast-retransmit socket first, then an ACK
 *   (Flags `0x02`) from the NACK port; MISS and THROTTLED come from the NACK port; range
 *   NACKs and rate-limited NACKs get silence.
 * - `serve`: ACK, then the frame, both from the NACK port (no limits, no validation beyond
 *   the codec's)
 * - `frame-first`: the frame, then the ACK, both from the NACK port
 * - `ack-only`: an ACK but never the frame
 * - `miss`: MISS whatever it holds
 * - `silent`: nothing at all
 * - `throttle`: THROTTLED (`throttleTimes` per gap), then serves as `serve` does
 * - `wrong-frame`: ACK plus a valid frame for the next sequence number
 * - `corrupt`: ACK plus the frame with a broken magic number
 *
 * Every mode except `miss` and `silent` answers MISS for a frame the emulator does not hold
 * (`retry-endpoint` unless its `suppressMiss` is set). A frame from another host is
 * `retry-endpoint` with {@link RetryEndpointOptions.unicastHost}.
 */
export type EmulatorMode =
  | 'retry-endpoint'
  | 'serve'
  | 'frame-first'
  | 'ack-only'
  | 'miss'
  | 'silent'
  | 'throttle'
  | 'wrong-frame'
  | 'corrupt';

/**
 * Behaviour of an {@link UpstreamEmulator}, for all gaps or one.
 *
 * @example
 * ```ts
 * upstream.setBehaviour({ mode: 'serve', delayMs: 50, dropRate: 0.2 }); // slow and lossy
 * upstream.setGapBehaviour(1n, 42n, { mode: 'throttle', throttleTimes: 2 });
 * ```
 */
export interface EmulatorBehaviour {
  /** How NACKs are answered. @default 'retry-endpoint' */
  mode?: EmulatorMode;
  /** Hold before answering, in ms. @default 0 */
  delayMs?: number;
  /** Share of NACKs left unanswered, 0..1 (deterministic for a given `seed`). @default 0 */
  dropRate?: number;
  /** THROTTLED backoff bucket of the `throttle` mode (hold = 125 ms << bucket). @default 0 */
  throttleBucket?: number;
  /** THROTTLED replies per gap of the `throttle` mode before it serves. @default Infinity */
  throttleTimes?: number;
}

/**
 * A token bucket (the server's per-IP and per-group tiers): it starts full, refills
 * continuously at `perSecond` and holds at most `burst` tokens; a NACK that finds less than
 * one token is dropped.
 *
 * @example
 * ```ts
 * const relayFriendly: TokenBucketLimit = { perSecond: 1000, burst: 100 };
 * ```
 */
export interface TokenBucketLimit {
  /** Tokens added per second (`0`: the burst is spent once and never refilled). */
  perSecond: number;
  /** Most tokens held (an integer; `0` drops everything). */
  burst: number;
}

/**
 * A sliding window (the server's per-sequence and per-chain tiers): at most `max` NACKs
 * per key in any `windowMs`; a dropped NACK does not count.
 *
 * @example
 * ```ts
 * const oncePerMinute: WindowLimit = { max: 1, windowMs: 60_000 };
 * ```
 */
export interface WindowLimit {
  /** NACKs allowed per key in one window (an integer; `0` drops everything). */
  max: number;
  /** Window length in ms. */
  windowMs: number;
}

/**
 * The rate-limit tiers of the `retry-endpoint` mode, checked in this order: `ip` ▸
 * `sequence` ▸ `chain` (before the cache lookup), then `group` (on a cache hit only). A
 * tier that passes spends its token or window slot even when a later tier drops the NACK.
 * `false` turns a tier off; an omitted tier keeps its default.
 *
 * @example
 * ```ts
 * // An upstream whose operator raised RL_IP_RATE / RL_IP_BURST for relay addresses:
 * const limits: RetryEndpointLimits = { ip: { perSecond: 1000, burst: 100 } };
 * ```
 */
export interface RetryEndpointLimits {
  /**
   * Per source IP (all ports of one address share it): `RL_IP_RATE` / `RL_IP_BURST`.
   * Always silent, even with `throttleResponse`.
   * @default { perSecond: 100, burst: 10 }
   */
  ip?: TokenBucketLimit | false;
  /**
   * Per (HashKey, SeqNum), shared by every source: `RL_SEQUENCE_MAX` / `RL_SEQUENCE_WINDOW`.
   * THROTTLED bucket 2 with `throttleResponse`.
   * @default { max: 100, windowMs: 60000 }
   */
  sequence?: WindowLimit | false;
  /**
   * Per (source IP, HashKey); HashKey 0 skips it: `RL_CHAIN_RATE` / `RL_CHAIN_WINDOW`.
   * THROTTLED bucket 3 with `throttleResponse`.
   * @default { max: 500, windowMs: 60000 }
   */
  chain?: WindowLimit | false;
  /**
   * Per (source IP, shard group of the held frame), cache hits only: `RL_GROUP_RATE` /
   * `RL_GROUP_BURST`. The group is the top `shardBits` bits of the TxID (bytes 8..11); a
   * bundle's GroupIdx (uint16 at 56); `0x1000` for a BEEF frame (`BEEF_SHARD_BITS` 0).
   * THROTTLED bucket 4 with `throttleResponse`.
   * @default { perSecond: 200, burst: 50 }
   */
  group?: TokenBucketLimit | false;
}

/**
 * Settings of the `retry-endpoint` mode, named after the reference server's environment
 * variables. Defaults are the server's, except `multicast` (see there).
 *
 * @example
 * ```ts
 * const upstream = await UpstreamEmulator.start({
 *   host: '127.0.0.1',
 *   retryEndpoint: { throttleResponse: true, unicastHost: '127.0.0.2' },
 * });
 * const benchmark = await UpstreamEmulator.start({ retryEndpoint: { limits: false } });
 * ```
 */
export interface RetryEndpointOptions {
  /** Rate-limit tiers; `false` turns them all off (benchmarks). @default DEFAULT_RETRY_ENDPOINT_LIMITS */
  limits?: RetryEndpointLimits | false;
  /** `SHARD_BITS`: TxID prefix bits that pick a frame's group for `limits.group` (1..12). @default 2 */
  shardBits?: number;
  /** `RL_THROTTLE_RESPONSE`: answer the sequence, chain and group tiers with THROTTLED. @default false */
  throttleResponse?: boolean;
  /** `SUPPRESS_MISS`: answer a miss with silence. @default false */
  suppressMiss?: boolean;
  /** `SUPPRESS_ACK`: send no ACK (the frame copy still goes out). @default false */
  suppressAck?: boolean;
  /**
   * `BEACON_FLAGS_MULTICAST`: the server also multicasts the frame and sets ACK flag `0x01`
   * (the emulator sends nothing to multicast; it only sets the flag). The server's default
   * is `true` (ACK `0x03` to a proxied NACK); the emulator defaults to the ACK `0x02`
   * measured against a server with multicast retransmit off.
   * @default false
   */
  multicast?: boolean;
  /** `BEACON_FLAGS_UNICAST`: unicast a copy for NACKs without the Proxied flag too. @default false */
  unicast?: boolean;
  /**
   * Address of the unicast-retransmit socket the frame copies come from (the server's
   * unicast source); same family as `host`. On Linux every `127.x.y.z` is loopback, so
   * `'127.0.0.2'` emulates an upstream whose unicast source differs from its NACK address.
   * @default the emulator's `host`
   */
  unicastHost?: string;
  /**
   * Clock of the rate limiters, in ms. Tests that count rate-limit drops pass a clock they
   * move themselves, so the result does not depend on the machine's speed.
   * @default performance.now
   */
  clock?: () => number;
}

/** Options of {@link UpstreamEmulator.start}. */
export interface EmulatorOptions {
  /**
   * Loopback address to listen on; `loopbackAddress()` picks one this host supports.
   * @default '::1'
   */
  host?: string;
  /** UDP port; 0 picks a free one. @default 0 */
  port?: number;
  /** Frames held from the start. @default [] */
  frames?: Iterable<Uint8Array>;
  /** Initial behaviour. @default { mode: 'retry-endpoint' } */
  behaviour?: EmulatorBehaviour;
  /** Settings of the `retry-endpoint` mode. @default {} (the server's defaults) */
  retryEndpoint?: RetryEndpointOptions;
  /** Seed of the reply-dropping generator. @default 1 */
  seed?: number;
  /** Most NACKs kept in `received` (counters keep counting). @default 100000 */
  recordLimit?: number;
}

/**
 * The reference server's default rate limits (`RL_IP_RATE` 100, `RL_IP_BURST` 10,
 * `RL_SEQUENCE_MAX` 100 per `RL_SEQUENCE_WINDOW` 1 m, `RL_CHAIN_RATE` 500 per
 * `RL_CHAIN_WINDOW` 1 m, `RL_GROUP_RATE` 200, `RL_GROUP_BURST` 50).
 *
 * @example
 * ```ts
 * const { perSecond, burst } = DEFAULT_RETRY_ENDPOINT_LIMITS.ip; // 100, 10
 * ```
 */
export const DEFAULT_RETRY_ENDPOINT_LIMITS: Readonly<{
  /** `RL_IP_RATE` / `RL_IP_BURST`. */
  ip: Readonly<TokenBucketLimit>;
  /** `RL_SEQUENCE_MAX` / `RL_SEQUENCE_WINDOW`. */
  sequence: Readonly<WindowLimit>;
  /** `RL_CHAIN_RATE` / `RL_CHAIN_WINDOW`. */
  chain: Readonly<WindowLimit>;
  /** `RL_GROUP_RATE` / `RL_GROUP_BURST`. */
  group: Readonly<TokenBucketLimit>;
}> = Object.freeze({
  ip: Object.freeze({ perSecond: 100, burst: 10 }),
  sequence: Object.freeze({ max: 100, windowMs: 60_000 }),
  chain: Object.freeze({ max: 500, windowMs: 60_000 }),
  group: Object.freeze({ perSecond: 200, burst: 50 }),
});
