import type { Component, DedupCause, DropReason, FailReason, UpstreamState } from './components.js';

/** Identifies one gap: one sequence number of one flow. */
export interface GapRef {
  /** Per-flow id. */
  hashKey: bigint;
  /** Sequence number. */
  seq: bigint;
}

/** A gap was recovered: re-cached and handed to the retransmitter. */
export interface RecoveredEvent extends GapRef {
  /** The upstream that served the frame. */
  upstream: string;
  /** The recovered frame (header and payload). */
  frame: Uint8Array;
  /** NACKs sent for this gap, throttle retries and hedges included. */
  attempts: number;
  /** Milliseconds from enqueue to recovery. */
  latencyMs: number;
  /** The winning upstream was asked as a hedge. */
  hedged: boolean;
}

/** The last answer a gap got from an upstream before it failed. */
export interface LastReply {
  /** The upstream that was asked last. */
  upstream: string;
  /** What came back: `miss`, `throttled`, `timeout` (silence) or `error`. */
  kind: 'miss' | 'throttled' | 'timeout' | 'error';
  /**
   * The transport's error code for `error`: `unreachable` (ICMP: nothing listens on the
   * port), `resolve` or `ENOTFOUND` (the host name), `send`, `family`, `invalid-frame` (a
   * frame that failed the checks), `exception` (the transport threw), …
   */
  code?: string;
}

/** A gap ended without a frame. */
export interface FailedEvent extends GapRef {
  /** Why no frame was recovered. */
  reason: FailReason;
  /**
   * The last answer the gap got, or undefined when no NACK was answered or even sent for it
   * (e.g. it waited for admission until its deadline).
   */
  lastReply: LastReply | undefined;
  /** NACKs sent for this gap. */
  attempts: number;
  /** Milliseconds from enqueue to the failure. */
  latencyMs: number;
}

/** A gap was not fetched because another fetch covers it. */
export interface DedupedEvent extends GapRef {
  /** Whose fetch covers it: `claim-lost` (the deduper's claim) or `coalesced` (this client). */
  cause: DedupCause;
}

/** Why an upstream's health changed. */
export type HealthCause =
  /** `demoteAfter` attempts in a row got no answer, and it answered no other NACK meanwhile. */
  | 'timeouts'
  /** ICMP port unreachable: nothing listens on its NACK port. */
  | 'unreachable'
  /** Send errors, unresolvable host names or invalid frames in a row. */
  | 'errors'
  /** Hedges on other upstreams kept answering while it stayed silent. */
  | 'overtaken'
  /** Its cooldown passed: one probe may ask it. */
  | 'cooldown'
  /** The probe got no answer: demoted for another cooldown. */
  | 'probe-failed'
  /** It answered a probe (or any NACK): healthy again. */
  | 'probe-answered';

/** An upstream's health changed. */
export interface UpstreamEvent {
  /** The upstream as configured. */
  upstream: string;
  /** Its new state. */
  state: UpstreamState;
  /** Its state before. */
  previous: UpstreamState;
  /** Why it changed. */
  cause: HealthCause;
}

/** An enqueue was refused; `enqueue()` returned false. */
export interface DroppedEvent {
  /** Why the gap was refused. */
  reason: DropReason;
  /** What was wrong, for people. */
  message: string;
  /** The value passed to `enqueue()`. */
  gap: unknown;
}

/** Where a {@link ComponentError} happened. */
export interface FaultContext {
  /** HashKey of the gap being worked on, when there was one. */
  hashKey?: bigint;
  /** Sequence number of the gap being worked on, when there was one. */
  seq?: bigint;
  /** The upstream involved, when there was one. */
  upstream?: string;
}

/**
 * An injected component threw, rejected or did not settle in time. Emitted as the
 * `error` event; the client goes on (the gap still reaches its outcome). `cause` holds
 * what the component threw.
 *
 * The event keeps the name `error` that existing hosts listen for, so note:
 * `events.once(client, 'recovered')` from `node:events` rejects when an `error` event
 * comes first. Listen with
 * `client.once('recovered', …)`, or attach an `error` listener. Unlike `node:events`, an
 * `error` event nobody listens to is not thrown (eventemitter3).
 *
 * @example
 * ```ts
 * client.on('error', (err) => log.warn({ component: err.component, op: err.operation }, err.message));
 * ```
 */
export class ComponentError extends Error {
  /** Which component failed. */
  readonly component: Component;
  /** The method that failed, e.g. `store`, `setNX`, `retransmit`, `exchange`. */
  readonly operation: string;
  /** HashKey of the gap being worked on, when there was one. */
  readonly hashKey: bigint | undefined;
  /** Sequence number of the gap being worked on, when there was one. */
  readonly seq: bigint | undefined;
  /** The upstream involved, when there was one. */
  readonly upstream: string | undefined;

  constructor(component: Component, operation: string, cause: Error, where: FaultContext = {}) {
    super(`${component}.${operation} failed: ${cause.message}`, { cause });
    this.name = 'ComponentError';
    this.component = component;
    this.operation = operation;
    this.hashKey = where.hashKey;
    this.seq = where.seq;
    this.upstream = where.upstream;
  }
}

/** Typed event map of {@link ProxyClient} (eventemitter3). */
export interface ProxyClientEvents {
  /** A gap was recovered, re-cached and retransmitted. */
  recovered: [event: RecoveredEvent];
  /** A gap ended without a frame. */
  failed: [event: FailedEvent];
  /** A gap was not fetched because another fetch covers it. */
  deduped: [event: DedupedEvent];
  /** An enqueue was refused. */
  dropped: [event: DroppedEvent];
  /** An injected component failed; the client went on. */
  error: [error: ComponentError];
  /** An upstream's health changed (demoted, probing, healthy again). */
  upstream: [event: UpstreamEvent];
  /** The queue is empty and no recovery is in flight. */
  idle: [];
}
