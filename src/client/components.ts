/**
 * Interfaces of the components a host injects. Every method may return its value directly
 * or as a Promise; the client awaits both, bounds each call with `componentTimeoutMs`, and
 * reports throws, rejections and hangs as `error` events without stopping.
 * @module
 */

/** A value or a Promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Where recovered frames are re-cached so the host's NACK server can serve them. */
export interface Cache {
  /**
   * Stores `frame` under the 16-byte `key` (`HashKey ∥ SeqNum`) for `ttlMs` milliseconds.
   * The client does not reuse `key` or `frame` after the call.
   */
  store(key: Uint8Array, frame: Uint8Array, ttlMs: number): MaybePromise<void>;
}

/** Set-if-absent claim store, so that sibling endpoints fetch each gap once. */
export interface Deduper {
  /** Sets `key` to `value` for `ttlMs` unless it exists; `true` when this caller won the claim. */
  setNX(key: Uint8Array, value: string, ttlMs: number): MaybePromise<boolean>;
  /**
   * Gives up a claim this caller won with `setNX`. The client calls it when a gap it claimed
   * ends `failed`, so that siblings and later NACKs may retry the gap soon instead of after
   * `dedupWindowMs`. It should remove the claim only while it is still the caller's (a claim
   * that expired and was taken by someone else stays). Optional: a deduper without it keeps
   * every claim for its whole window.
   */
  release?(key: Uint8Array): MaybePromise<void>;
}

/**
 * A listener whose NACK missed: where a unicast copy of the recovered frame goes (the
 * `rinfo` of the host's NACK socket fits).
 */
export interface Requester {
  /** IPv4 or IPv6 address of the listener. */
  address: string;
  /** UDP port the listener's NACK came from. */
  port: number;
}

/** Delivers a recovered frame: into the downstream multicast domain, or to one listener. */
export interface Retransmitter {
  /**
   * Retransmits the frame verbatim into the domain (multicast); `txId` is the 32 bytes at
   * offset 8 of the frame. Called when `delivery.multicast` is on (the default).
   */
  retransmit(frame: Uint8Array, txId: Uint8Array): MaybePromise<void>;
  /**
   * Sends the frame verbatim to one listener that asked for it (unicast), as the reference
   * server's `RetransmitUnicast` does. Called once per requester of a gap when
   * `delivery.unicast` is on; a client configured for unicast delivery needs it.
   */
  retransmitUnicast?(frame: Uint8Array, requester: Requester): MaybePromise<void>;
}

/** Which admission limit made a NACK wait: the upstream's per-source bucket or a flow's window. */
export type AdmissionTier = 'ip' | 'flow';

/** Health of one upstream as this client sees it. */
export type UpstreamState = 'healthy' | 'demoted' | 'probing';

/**
 * Metrics sink. Every hook is optional: implement the ones your dashboards read. The five
 * `proxy*` counters match the names existing retry-endpoint dashboards use. Hooks are read
 * once, when the client is constructed; one that throws or rejects is reported as an
 * `error` event and the client goes on.
 *
 * @example
 * ```ts
 * const recorder: Recorder = {
 *   proxyRecovered: () => recovered.inc(),
 *   proxyFailed: (reason) => failed.inc({ reason }),
 * };
 * ```
 */
export interface Recorder {
  /** A gap (one sequence number) was accepted for recovery. */
  proxyRequest?(): void;
  /** A gap was recovered, re-cached and retransmitted. */
  proxyRecovered?(): void;
  /** A gap ended without a frame; `reason` is a {@link FailReason}. */
  proxyFailed?(reason: string): void;
  /** A gap was not fetched because another fetch for it was already claimed or running. */
  proxyInflightDedup?(): void;
  /** An enqueue was refused because the waiting queue was full. */
  proxyQueueDropped?(): void;
  /** An enqueue was refused for any reason (including `queue-full`). */
  proxyDropped?(reason: string): void;
  /** Time from enqueue to recovered, in milliseconds. */
  recoveryLatency?(ms: number): void;
  /** The waiting-queue depth changed. */
  queueDepth?(depth: number): void;
  /** One reply from an upstream (`frame`, `miss`, `throttled`, `timeout`, `error`). */
  upstreamReply?(upstream: string, kind: string): void;
  /**
   * A NACK to `upstream` waited for admission (`nackRate`): `tier` says which limit,
   * `ip` (the per-upstream bucket) or `flow` (the per-HashKey window).
   */
  paced?(upstream: string, tier: AdmissionTier): void;
  /** An upstream's health changed (also emitted as the client's `upstream` event). */
  upstreamState?(upstream: string, state: UpstreamState): void;
  /** An injected component threw, rejected or hung (also the client's `error` event). */
  componentError?(component: Component): void;
  /** A hedged NACK was sent (the next upstream asked while the first was still silent). */
  hedge?(): void;
  /** Gaps in flight changed (NACK out, or storing and delivering). */
  inflight?(count: number): void;
  /** A recovered frame was sent by unicast to one requester (`delivery.unicast`). */
  unicastRetransmit?(): void;
  /** A frame that matched the gap was refused: `reason` says why (content check, layout). */
  invalidFrame?(reason: string): void;
}

/** Why a gap ended without a frame. */
export type FailReason =
  /** Every upstream tried (at most `maxEndpoints`) without a frame. */
  | 'exhausted'
  /** `close()` ended the gap before it was recovered. */
  | 'aborted'
  /** The overall per-gap deadline (`gapDeadlineMs`) passed. */
  | 'deadline'
  /** The gap failed moments ago and is inside `failureMemoryMs`; not fetched again. */
  | 'recent-failure';

/** Why an enqueue was refused (the gap was never accepted). */
export type DropReason =
  /** The waiting queue holds `queueDepth` jobs. */
  | 'queue-full'
  /** `close()` was called. */
  | 'closed'
  /** The gap carries `FLAG_PROXIED`: proxying it again would make a chain of two hops. */
  | 'proxied'
  /** The gap is malformed (types, ranges). */
  | 'invalid'
  /** `endSeq - startSeq + 1` exceeds `maxRangeSpan`. */
  | 'range-too-large';

/** Why a gap was not fetched because another fetch covers it. */
export type DedupCause =
  /** The deduper's claim was held by someone else (another process or endpoint). */
  | 'claim-lost'
  /** The same gap is already queued or in flight in this client. */
  | 'coalesced';

/** Which injected component failed. */
export type Component =
  'cache' | 'deduper' | 'retransmitter' | 'recorder' | 'transport' | 'listener';

/** Minimal structured logger (pino and console-like objects fit). */
export interface Logger {
  /** Per-gap detail: replies, recoveries, deduplications. */
  debug(obj: object, msg?: string): void;
  /** A gap ended without a frame. */
  info(obj: object, msg?: string): void;
  /** An injected component failed; the client goes on. */
  warn(obj: object, msg?: string): void;
  /** An event listener threw. */
  error(obj: object, msg?: string): void;
}
