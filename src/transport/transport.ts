/**
 * The transport seam: how a proxied NACK reaches an upstream and what came back.
 * The client depends only on this interface; `UdpTransport` and the testing kit's
 * `FakeTransport` implement it.
 * @module
 */

/** A frame matching the requested HashKey and SeqNum arrived from the asked upstream. */
export interface FrameReply {
  /** Discriminant. */
  kind: 'frame';
  /** The whole frame datagram. */
  frame: Uint8Array;
}
/** The upstream answered MISS. */
export interface MissReply {
  /** Discriminant. */
  kind: 'miss';
}
/** The upstream answered THROTTLED: hold `backoffMs`, then ask it again. */
export interface ThrottledReply {
  /** Discriminant. */
  kind: 'throttled';
  /** How long to hold before asking the same upstream again, ms. */
  backoffMs: number;
}
/** No frame, MISS or THROTTLED before the attempt's deadline (an ACK alone is not enough). */
export interface TimeoutReply {
  /** Discriminant. */
  kind: 'timeout';
  /** An ACK arrived but the frame did not. */
  acked?: boolean;
}
/** The NACK could not be sent or answered: unresolvable host, send failure, port unreachable, aborted. */
export interface ErrorReply {
  /** Discriminant. */
  kind: 'error';
  /**
   * `resolve` (host name), `send`, `unreachable` (ICMP: a closed port or no route),
   * `aborted`, `closed`, or a transport-specific code.
   */
  code: string;
  /** The underlying error, when there is one. */
  error?: Error;
}

/** What one exchange with one upstream produced. */
export type Reply = FrameReply | MissReply | ThrottledReply | TimeoutReply | ErrorReply;

/** Per-exchange parameters. */
export interface ExchangeOptions {
  /** How long to wait for a frame, MISS or THROTTLED. */
  timeoutMs: number;
  /** Aborts the exchange; it then resolves `{ kind: 'error', code: 'aborted' }`. */
  signal?: AbortSignal;
  /** HashKey of the requested frame: frames with another HashKey are ignored. */
  hashKey: bigint;
  /** SeqNum of the requested frame: frames with another SeqNum are ignored. */
  seq: bigint;
  /**
   * A further check of a frame that matches the gap (the client's content check, when
   * `verifyContent` is on). A frame it refuses is ignored like a frame for another gap and
   * the exchange keeps waiting. A transport that does not call it still works: the client
   * checks the frame it resolves with, but the exchange has then ended.
   */
  accept?: (frame: Uint8Array) => boolean;
  /**
   * Called once, when the NACK actually leaves (after any lookup or socket set-up): the
   * client's NACK pacing counts it from then. A transport that never calls it still works;
   * the client then counts the NACK when the exchange ends.
   */
  onSent?: () => void;
}

/**
 * Sends one proxied NACK to one upstream and reports the outcome.
 * `exchange` should resolve (never reject) within about `timeoutMs`. The client treats a
 * rejection, a throw, a value that is not a Reply, or no answer within `timeoutMs` plus its
 * `componentTimeoutMs` as a transport fault: reported as an `error` event, and the attempt
 * counts as a send error.
 */
export interface Transport {
  /**
   * Sends `nack` to `upstream` and resolves with what came back for the requested gap.
   *
   * @param upstream - the upstream as configured: `host:port` or `[v6]:port`
   * @param nack - the 64-byte proxied NACK to send
   */
  exchange(upstream: string, nack: Uint8Array, options: ExchangeOptions): Promise<Reply>;
  /**
   * True when every `exchange()` settles by itself within about `timeoutMs`, and at once
   * when its `signal` aborts. The client then does not watch this transport's exchanges
   * (watching costs a little per exchange); leave it unset when unsure, and a hung
   * exchange is reported and bounded by `timeoutMs + componentTimeoutMs`. `UdpTransport`
   * and the testing kit's `FakeTransport` are self-timed.
   * @default undefined
   */
  readonly selfTimed?: boolean;
  /** Releases sockets and timers. Called by the client only for a transport it created. */
  close?(): void | Promise<void>;
  /** Counters for dashboards and tests (datagrams ignored, by reason). */
  stats?(): Record<string, number>;
}
