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

/** An injected component (or an event listener) threw, rejected or hung. The client goes on. */
export interface ErrorEvent {
  /** Which component failed. */
  component: Component;
  /** The method that failed, e.g. `store`, `setNX`, `retransmit`, `exchange`. */
  operation: string;
  /** What it threw or rejected with, or a timeout error naming the call. */
  error: Error;
  /** HashKey of the gap being worked on, when there was one. */
  hashKey?: bigint;
  /** Sequence number of the gap being worked on, when there was one. */
  seq?: bigint;
  /** The upstream involved, when there was one. */
  upstream?: string;
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
  error: [event: ErrorEvent];
  /** The queue is empty and no recovery is in flight. */
  idle: [];
}
