import { matchFrame } from '../wire/match.js';
import { frameFacts, type FrameFacts } from '../wire/fast.js';
import type { ExchangeOptions, Reply, Transport } from '../transport/transport.js';
import { exchangeDirect, type ReplySink, type UdpTransport } from '../transport/udp.js';
import type { Deadlines, Timed } from '../transport/deadlines.js';
import type { UpstreamHealth, ReplyKind } from './health.js';
import type { ResolvedOptions } from './options.js';
import type { Counters } from './stats.js';
import { toError } from './guard.js';

/** What the upstream walk for one gap produced. */
export type FetchResult =
  | {
      kind: 'frame';
      frame: Uint8Array;
      /** What re-caching and retransmitting need from the header (a `FrameHeader` fits). */
      header: FrameFacts;
      upstream: string;
      hedged: boolean;
      attempts: number;
    }
  | { kind: 'exhausted' | 'deadline' | 'aborted'; attempts: number };

/** What the upstream walk needs from the client. */
export interface FetchContext {
  readonly transport: Transport;
  readonly health: UpstreamHealth;
  readonly options: ResolvedOptions;
  readonly counters: Counters;
  /**
   * Gap deadlines of the walks in progress (one timer for all of them). It is also the
   * list of walks in progress: {@link abortWalks} ends them when the client closes,
   * instead of each walk listening on the shutdown signal.
   */
  readonly deadlines: Deadlines;
  /**
   * The transport is the library's own UdpTransport, which always settles within the
   * attempt's timeout with a well-formed Reply: its exchanges skip the per-attempt watchdog
   * timer and Reply check that guard a host's transport.
   */
  readonly trustedTransport: boolean;
  /** Receives the result of the walk started with `token` (exactly once). */
  walked(token: unknown, result: FetchResult): void;
  now(): number;
  /** One reply from one upstream (for metrics and logs). */
  onReply(upstream: string, kind: ReplyKind, hashKey: bigint, seq: bigint): void;
  /** The transport threw or rejected instead of resolving a Reply. */
  onTransportFault(error: unknown, upstream: string, hashKey: bigint, seq: bigint): void;
}

/** Ends every walk in progress at once as `aborted` (the client is closing). */
export function abortWalks(ctx: FetchContext): void {
  for (const t of ctx.deadlines.snapshot()) if (t instanceof Walk) t.abortNow();
}

/** One upstream being asked for one gap (re-asked after THROTTLED holds). */
class Attempt implements ReplySink {
  /** When the current exchange was sent (for the RTT sample). */
  sentAt = 0;
  /** THROTTLED holds honoured on this upstream. */
  throttles = 0;

  constructor(
    private readonly walk: Walk,
    readonly upstream: string,
    readonly hedged: boolean,
    /** Only hedged walks give each attempt its own controller (to cancel the loser). */
    readonly abort: AbortController | undefined,
    readonly signal: AbortSignal,
  ) {}

  /** A reply from UdpTransport's {@link exchangeDirect}. */
  replied(reply: Reply): void {
    this.walk.replied(this, reply);
  }
}

type AttemptResult =
  | { kind: 'frame'; frame: Uint8Array; header: FrameFacts }
  | { kind: 'miss' | 'timeout' | 'error' | 'throttled' | 'aborted' };

const RESULT = {
  miss: { kind: 'miss' },
  timeout: { kind: 'timeout' },
  error: { kind: 'error' },
  throttled: { kind: 'throttled' },
  aborted: { kind: 'aborted' },
} as const satisfies Record<string, AttemptResult>;

/**
 * Walks the upstreams for one gap: in health order, at most `maxEndpoints`, one at a time
 * unless hedging starts the next in parallel; THROTTLED holds and re-asks the same upstream;
 * MISS, timeout and errors move on. Ends on the first valid frame, when every upstream
 * has answered without one, at the gap's deadline, or when `signal` aborts (the client
 * calls {@link abortWalks} when it aborts it),
 * by calling `ctx.walked(token, result)` once. No Promise per walk: the client hands a
 * token (its job) and gets it back.
 *
 * Without hedging, attempts run one at a time and are handed `signal` itself: no
 * AbortController per attempt. An attempt still running at the deadline is not aborted;
 * its wait was capped at the time left, so it ends by itself, and its reply is ignored.
 */
export function startWalk(
  ctx: FetchContext,
  token: unknown,
  hashKey: bigint,
  seq: bigint,
  nack: Uint8Array,
  signal: AbortSignal,
  deadlineAt: number,
): void {
  new Walk(ctx, token, hashKey, seq, nack, signal, deadlineAt).start();
}

class Walk implements Timed {
  private readonly order: readonly string[];
  private readonly hedging: boolean;
  /** Attempts asking now: one at most without hedging (`solo`), a list with it. */
  private solo: Attempt | undefined = undefined;
  private running: Attempt[] | undefined = undefined;
  private next = 0;
  private attempts = 0;
  private done = false;
  private hedgeTimer: NodeJS.Timeout | undefined;
  earlier: Timed | undefined = undefined;
  later: Timed | undefined = undefined;
  queued = false;

  constructor(
    private readonly ctx: FetchContext,
    private readonly token: unknown,
    private readonly hashKey: bigint,
    private readonly seq: bigint,
    private readonly nack: Uint8Array,
    private readonly signal: AbortSignal,
    readonly deadlineAt: number,
  ) {
    this.order = ctx.health.order(ctx.options.maxEndpoints, ctx.now());
    this.hedging = ctx.options.hedgeAfterMs !== undefined;
  }

  start(): void {
    if (this.signal.aborted) {
      this.finish({ kind: 'aborted', attempts: 0 });
      return;
    }
    this.ctx.deadlines.add(this);
    this.launch(false);
  }

  /** Ends the walk at once as `aborted` (the client is closing). */
  abortNow(): void {
    this.finish({ kind: 'aborted', attempts: this.attempts });
  }

  /** The gap's deadline passed. */
  expire(): void {
    this.finish({ kind: 'deadline', attempts: this.attempts });
  }

  /** Hedge timer. */
  hedge(): void {
    if (!this.done) this.launch(true);
  }

  private finish(result: FetchResult): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.hedgeTimer);
    this.ctx.deadlines.remove(this);
    // Copied: an aborted attempt may settle (and leave `running`) at once.
    if (this.running !== undefined) for (const a of [...this.running]) a.abort?.abort();
    const { order, ctx } = this;
    for (let i = this.next; i < order.length; i++) ctx.health.release(order[i] as string);
    ctx.walked(this.token, result);
  }

  private launch(hedged: boolean): boolean {
    if (this.next >= this.order.length) return false;
    const upstream = this.order[this.next++] as string;
    const abort = this.hedging ? new AbortController() : undefined;
    const attempt = new Attempt(this, upstream, hedged, abort, abort?.signal ?? this.signal);
    if (this.hedging) (this.running ??= []).push(attempt);
    else this.solo = attempt;
    if (hedged) this.ctx.counters.hedges++;
    this.armHedge(upstream);
    if (this.ctx.trustedTransport) this.ask(attempt);
    else void this.drive(attempt);
    return true;
  }

  private armHedge(upstream: string): void {
    clearTimeout(this.hedgeTimer);
    const after = this.ctx.options.hedgeAfterMs;
    if (after === undefined || this.next >= this.order.length) return;
    const delay = after === 'adaptive' ? this.ctx.health.hedgeDelay(upstream) : after;
    this.hedgeTimer = setTimeout(onHedge, delay, this);
  }

  /**
   * Asks one upstream until it answers, honouring THROTTLED holds, then settles. The async
   * part is only the waiting; sending and judging a reply are plain methods.
   */
  private async drive(attempt: Attempt): Promise<void> {
    let r: AttemptResult | number;
    try {
      for (;;) {
        const sending = this.send(attempt);
        if (sending === undefined) {
          r = RESULT.aborted;
          break;
        }
        let reply: Reply | Error;
        try {
          reply = await sending;
        } catch (err) {
          reply = toError(err);
        }
        r = this.judge(attempt, reply);
        if (typeof r !== 'number') break;
        if (!(await sleep(r, attempt.signal))) {
          r = RESULT.aborted;
          break;
        }
      }
    } catch {
      r = RESULT.error; // a throwing metrics hook or logger: treat like a failed attempt
    }
    this.settle(attempt, r);
  }

  /** Sends one exchange through UdpTransport without a Promise; the reply comes to `replied`. */
  private ask(attempt: Attempt): void {
    const options = this.prepare(attempt);
    if (options === undefined) {
      this.settle(attempt, RESULT.aborted);
      return;
    }
    exchangeDirect(
      this.ctx.transport as UdpTransport,
      attempt.upstream,
      this.nack,
      options,
      attempt,
    );
  }

  /** The reply to an exchange sent by `ask`. */
  replied(attempt: Attempt, reply: Reply): void {
    let r: AttemptResult | number;
    try {
      r = this.judge(attempt, reply);
    } catch {
      r = RESULT.error; // a throwing metrics hook or logger: treat like a failed attempt
    }
    if (typeof r === 'number') void this.hold(attempt, r);
    else this.settle(attempt, r);
  }

  /** THROTTLED: waits the hint, then asks the same upstream again. */
  private async hold(attempt: Attempt, ms: number): Promise<void> {
    if (await sleep(ms, attempt.signal)) this.ask(attempt);
    else this.settle(attempt, RESULT.aborted);
  }

  /** Forgets a finished attempt; true while another one is still asking. */
  private untrack(attempt: Attempt): boolean {
    const running = this.running;
    if (running !== undefined) {
      const i = running.indexOf(attempt);
      if (i >= 0) running.splice(i, 1);
      return running.length > 0;
    }
    if (this.solo === attempt) this.solo = undefined;
    return this.solo !== undefined;
  }

  private settle(attempt: Attempt, r: AttemptResult): void {
    const othersAsking = this.untrack(attempt);
    if (this.done) return;
    if (this.signal.aborted) {
      // The client is closing: whatever this attempt got, the walk ends as aborted.
      this.finish({ kind: 'aborted', attempts: this.attempts });
      return;
    }
    if (r.kind === 'frame') {
      if (attempt.hedged) this.ctx.counters.hedgeWins++;
      this.finish({
        kind: 'frame',
        frame: r.frame,
        header: r.header,
        upstream: attempt.upstream,
        hedged: attempt.hedged,
        attempts: this.attempts,
      });
      return;
    }
    if (othersAsking) return; // a hedge is still asking
    // The attempt may notice the deadline before the deadline timer runs (a busy event
    // loop fires timers late): that is still a deadline, not an exhausted walk.
    if (this.ctx.now() >= this.deadlineAt) {
      this.finish({ kind: 'deadline', attempts: this.attempts });
      return;
    }
    clearTimeout(this.hedgeTimer);
    if (!this.launch(false)) this.finish({ kind: 'exhausted', attempts: this.attempts });
  }

  /**
   * Counts an attempt and returns its exchange options, or undefined when it must not
   * start (deadline passed, aborted, walk over).
   */
  private prepare(attempt: Attempt): ExchangeOptions | undefined {
    const { ctx, hashKey, seq } = this;
    const { upstream, signal } = attempt;
    const started = ctx.now();
    const remaining = this.deadlineAt - started;
    if (remaining <= 0 || signal.aborted || this.done) return undefined;
    const timeoutMs = Math.max(1, Math.min(ctx.health.attemptTimeout(upstream), remaining));
    this.attempts++;
    ctx.counters.attempts++;
    attempt.sentAt = started;
    return { timeoutMs, signal, hashKey, seq };
  }

  /** Sends the NACK to a host's transport; undefined when the attempt must not start. */
  private send(attempt: Attempt): Promise<Reply | Error> | undefined {
    const options = this.prepare(attempt);
    if (options === undefined) return undefined;
    const { ctx, nack } = this;
    // A transport that throws, rejects, resolves something that is not a Reply, or has
    // not settled by timeoutMs + componentTimeoutMs is a fault: the walk moves on.
    return awaitReply(
      () => ctx.transport.exchange(attempt.upstream, nack, options),
      options.timeoutMs + ctx.options.componentTimeoutMs,
    );
  }

  /**
   * Judges one reply: records it, then the attempt's result, or the hold in ms before
   * asking the same upstream again (THROTTLED).
   */
  private judge(attempt: Attempt, answer: Reply | Error): AttemptResult | number {
    const { ctx, hashKey, seq } = this;
    const { options, health, counters } = ctx;
    const { upstream, signal } = attempt;
    if (signal.aborted || this.done) return RESULT.aborted;
    let reply: Reply;
    if (answer instanceof Error) {
      ctx.onTransportFault(answer, upstream, hashKey, seq);
      reply = { kind: 'error', code: 'exception' };
    } else {
      reply = answer;
    }
    const ended = ctx.now();
    let kind: ReplyKind;
    let header: FrameFacts | undefined;
    if (reply.kind === 'frame' && ctx.trustedTransport) {
      // UdpTransport delivers only frames it checked as matchFrame would.
      header = frameFacts(reply.frame);
      kind = 'frame';
    } else if (reply.kind === 'frame') {
      const m = matchFrame(reply.frame, hashKey, seq);
      if (typeof m === 'string') {
        counters.invalidFrames++;
        kind = 'error';
      } else {
        header = m;
        kind = 'frame';
      }
    } else {
      kind = reply.kind;
    }
    health.record(upstream, kind, ended - attempt.sentAt, ended);
    ctx.onReply(upstream, kind, hashKey, seq);
    if (header !== undefined && reply.kind === 'frame') {
      return { kind: 'frame', frame: reply.frame, header };
    }
    if (reply.kind === 'throttled' && attempt.throttles < options.maxThrottleRetries) {
      attempt.throttles++;
      counters.throttleHolds++;
      return Math.min(reply.backoffMs, this.deadlineAt - ctx.now());
    }
    return RESULT[kind === 'frame' ? 'error' : kind];
  }
}

function onHedge(walk: Walk): void {
  walk.hedge();
}

const REPLY_KINDS: ReadonlySet<unknown> = new Set([
  'frame',
  'miss',
  'throttled',
  'timeout',
  'error',
]);

/**
 * Runs one exchange: its Reply, or an Error when it threw, rejected, resolved a value that
 * is not a Reply, or did not settle within `ms` (a hung transport never stalls a walk).
 */
function awaitReply(run: () => Promise<Reply>, ms: number): Promise<Reply | Error> {
  return new Promise((resolve) => {
    let pending: Promise<Reply>;
    try {
      pending = run();
    } catch (err) {
      resolve(toError(err));
      return;
    }
    const timer = setTimeout(
      () => resolve(new Error(`transport.exchange did not settle within ${ms} ms`)),
      ms,
    );
    Promise.resolve(pending).then(
      (reply: unknown) => {
        clearTimeout(timer);
        const ok =
          typeof reply === 'object' &&
          reply !== null &&
          REPLY_KINDS.has((reply as { kind?: unknown }).kind);
        resolve(ok ? (reply as Reply) : new Error('transport.exchange resolved a non-Reply'));
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve(toError(err));
      },
    );
  });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
