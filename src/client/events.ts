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
  reason: FailReason;
  /** NACKs sent for this gap. */
  attempts: number;
  /** Milliseconds from enqueue to the failure. */
  latencyMs: number;
}

/** A gap was not fetched because another fetch covers it. */
export interface DedupedEvent extends GapRef {
  cause: DedupCause;
}

/** An enqueue was refused; `enqueue()` returned false. */
export interface DroppedEvent {
  reason: DropReason;
  /** What was wrong, for people. */
  message: string;
  /** The value passed to `enqueue()`. */
  gap: unknown;
}

/** An injected component (or an event listener) threw, rejected or hung. The client goes on. */
export interface ErrorEvent {
  component: Component;
  /** The method that failed, e.g. `store`, `setNX`, `retransmit`, `exchange`. */
  operation: string;
  error: Error;
  hashKey?: bigint;
  seq?: bigint;
  upstream?: string;
}

/** Typed event map of {@link ProxyClient} (eventemitter3). */
export interface ProxyClientEvents {
  recovered: [event: RecoveredEvent];
  failed: [event: FailedEvent];
  deduped: [event: DedupedEvent];
  dropped: [event: DroppedEvent];
  error: [event: ErrorEvent];
  /** The queue is empty and no recovery is in flight. */
  idle: [];
}
