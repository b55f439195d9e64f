import type { Component, DedupCause, DropReason, FailReason } from './components.js';

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

/** A gap ended without a frame. */
export interface FailedEvent extends GapRef {
  /** Why no frame was recovered. */
  reason: FailReason;
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
  /** The queue is empty and no recovery is in flight. */
  idle: [];
}
