import { matchFrame } from '../wire/match.js';
import type { FrameHeader } from '../wire/frame.js';
import type { Reply, Transport } from '../transport/transport.js';
import { isThenable, sleep, toError, within } from '../shared/within.js';
import { Watchdog } from '../shared/watchdog.js';
import type { UpstreamHealth, ReplyKind } from './health.js';
import type { ResolvedOptions } from './options.js';
import type { Pacer } from './pacing.js';
import type { Counters } from './stats.js';

/** One gap as the walk asks for it. */
export interface WalkGap {
  readonly hashKey: bigint;
  readonly seq: bigint;
  /** The proxied NACK to send. */
  readonly nack: Uint8Array;
  /** When the gap's budget (`gapDeadlineMs`) runs out, on `performance.now()`'s clock. */
  readonly deadlineAt: number;
}

/** What asking the upstreams for one gap produced. */
export type FetchResult =
  | {
      kind: 'frame';
      frame: Uint8Array;
      header: FrameHeader;
      upstream: string;
      hedged: boolean;
      attempts: number;
    }
  | { kind: 'exhausted' | 'deadline' | 'aborted'; attempts: number };

/** What the walk tells the client as it goes (metrics, logs, `error` events). */
export interface WalkReports {
  reply(upstream: string, kind: ReplyKind, hashKey: bigint, seq: bigint): void;
  paced(upstream: string): void;
  invalidFrame(reason: string): void;
  transportFault(error: Error, upstream: string, hashKey: bigint, seq: bigint): void;
}

/** One upstream being asked for one gap (asked again after THROTTLED holds). */
interface Attempt {
  readonly upstream: string;
  readonly hedged: boolean;
  /** Settles with this attempt once `result` is set. */
  done: Promise<Attempt>;
  result: AttemptResult;
  /** A NACK went out. */
  sent: boolean;
  /**
   * `asking`: a NACK is out; `pacing`: waiting for a token until `sendAt`; `holding`:
   * holding for a THROTTLED hint; `idle`: none of these (starting, or ended).
   */
  state: 'idle' | 'pacing' | 'asking' | 'holding';
  /** When the NACK being paced will go out. */
  sendAt: number;
  /** The walk ended with another upstream's frame while this one was still asking. */
  overtaken: boolean;
}

type AttemptResult =
  | { kind: 'frame'; frame: Uint8Array; header: FrameHeader }
  | { kind: 'miss' | 'timeout' | 'error' | 'throttled' | 'deadline' | 'aborted' };

const RESULT = {
  miss: { kind: 'miss' },
  timeout: { kind: 'timeout' },
  error: { kind: 'error' },
  throttled: { kind: 'throttled' },
  deadline: { kind: 'deadline' },
  aborted: { kind: 'aborted' },
} as const satisfies Record<string, AttemptResult>;

const ABORTED_REPLY: Reply = { kind: 'error', code: 'aborted' };
const FAULT_REPLY: Reply = { kind: 'error', code: 'exception' };
const REPLY_KINDS: ReadonlySet<unknown> = new Set([
  'frame',
  'miss',
  'throttled',
  'timeout',
  'error',
]);

/** Hedges are budgeted: each first-choice attempt earns a tenth of one, up to ten saved. */
const HEDGE_EARNED = 0.1;
const HEDGE_SAVED = 10;

const now = (): number => performance.now();

/** How often the watchdogs look for calls that never settled, for a component timeout. */
export function watchdogTick(componentTimeoutMs: number): number {
  return Math.max(1, Math.min(250, Math.floor(componentTimeoutMs / 4)));
}

/**
 * The upstream policy: which upstreams one gap asks, in what order, and when it gives up.
 * Upstreams are asked in health order, at most `maxEndpoints`, one at a time unless a hedge
 * starts the next one in parallel. MISS, timeouts and errors move on to the next upstream;
 * THROTTLED holds for the hint and asks the same upstream again; NACKs wait for the pacing
 * budget. The first valid frame wins; the gap's deadline and `close()` end the walk.
 */
export class UpstreamWalker {
  private hedgeBudget = HEDGE_SAVED;
  /** Bounds exchanges of a transport that never settles; closed by `abort()`. */
  private readonly watchdog: Watchdog;

  constructor(
    private readonly transport: Transport,
    private readonly health: UpstreamHealth,
    private readonly pacer: Pacer,
    private readonly options: ResolvedOptions,
    private readonly counters: Counters,
    private readonly reports: WalkReports,
    /** Aborted by `close()`: every wait ends at once. */
    private readonly signal: AbortSignal,
    /** The content check of `verifyContent`, given to the transport as `accept`. */
    private readonly accept: ((frame: Uint8Array) => boolean) | undefined,
  ) {
    this.watchdog = new Watchdog(watchdogTick(options.componentTimeoutMs));
  }

  /** Ends every exchange still waited for (the client is closing). */
  abort(): void {
    this.watchdog.close();
  }

  /** Asks upstreams for `gap` until one sends its frame, all have answered, or time is up. */
  async fetch(gap: WalkGap): Promise<FetchResult> {
    const order = this.health.order(this.options.maxEndpoints, now());
    const running: Attempt[] = [];
    const walk = { over: false, attempts: 0 };
    let next = 0;
    const launch = (hedged: boolean): void => {
      const a = {
        upstream: order[next++] as string,
        hedged,
        sent: false,
        state: 'idle' as Attempt['state'],
        sendAt: 0,
        overtaken: false,
      };
      const attempt = a as Attempt;
      attempt.done = this.ask(gap, walk, attempt);
      running.push(attempt);
      if (hedged) this.counters.hedges++;
      else this.hedgeBudget = Math.min(HEDGE_SAVED, this.hedgeBudget + HEDGE_EARNED);
    };
    let winner: Attempt | undefined;
    try {
      launch(false);
      while (running.length > 0) {
        const ended = await this.firstOf(running, next < order.length);
        if (ended === undefined) {
          launch(true);
          continue;
        }
        running.splice(running.indexOf(ended), 1);
        const r = ended.result;
        if (r.kind === 'frame') {
          winner = ended;
          if (ended.hedged) this.counters.hedgeWins++;
          return {
            kind: 'frame',
            frame: r.frame,
            header: r.header,
            upstream: ended.upstream,
            hedged: ended.hedged,
            attempts: walk.attempts,
          };
        }
        if (r.kind === 'aborted' || this.signal.aborted) {
          return { kind: 'aborted', attempts: walk.attempts };
        }
        // A busy event loop may notice the deadline before an attempt does.
        if (r.kind === 'deadline' || now() >= gap.deadlineAt) {
          return { kind: 'deadline', attempts: walk.attempts };
        }
        if (running.length === 0 && next < order.length) launch(false);
      }
      return { kind: 'exhausted', attempts: walk.attempts };
    } finally {
      walk.over = true;
      for (let i = next; i < order.length; i++) this.health.release(order[i] as string);
      // Attempts still asking run on to their own end, for the upstream's health only.
      if (winner !== undefined) {
        for (const a of running) {
          if (!a.sent) continue;
          a.overtaken = true;
          this.health.overtaken(a.upstream, now());
        }
      }
    }
  }

  /**
   * The first attempt to end, or undefined when it is time to hedge: the latest attempt's
   * NACK has gone unanswered for the hedge delay, and the hedge budget allows one more.
   * An attempt holding for THROTTLED or waiting for pacing is never hedged past: a
   * congested upstream is healthy, and the wait is its own.
   */
  private async firstOf(running: Attempt[], mayHedge: boolean): Promise<Attempt | undefined> {
    const latest = running[running.length - 1] as Attempt;
    const first = running.length === 1 ? latest.done : Promise.race(running.map((a) => a.done));
    let delay = mayHedge ? this.hedgeDelay(latest.upstream) : undefined;
    if (delay !== undefined && latest.state === 'pacing') delay += latest.sendAt - now();
    else if (latest.state !== 'asking') delay = undefined;
    if (delay === undefined) return first;
    // No abort signal here: closing ends the attempts, and with them this race.
    const r = await within(first, delay);
    if (r.status === 'ok') return r.value;
    if (r.status === 'timeout' && latest.state === 'asking' && this.hedgeBudget >= 1) {
      this.hedgeBudget -= 1;
      return undefined;
    }
    return first; // no hedge after all, or closing: the attempts end by themselves
  }

  private hedgeDelay(upstream: string): number | undefined {
    const after = this.options.hedgeAfterMs;
    if (after === false) return undefined;
    return after === 'adaptive' ? this.health.hedgeDelay(upstream) : after;
  }

  /** Asks one upstream until it answers (THROTTLED: hold, then ask again). */
  private async ask(
    gap: WalkGap,
    walk: { over: boolean; attempts: number },
    a: Attempt,
  ): Promise<Attempt> {
    const { upstream } = a;
    let recorded = false;
    let holds = 0;
    try {
      for (;;) {
        if (walk.over) return this.end(a, RESULT.aborted); // overtaken while holding: ask no more
        const wait = this.pacer.enabled ? this.pacer.reserve(upstream, now(), gap.deadlineAt) : 0;
        if (wait < 0) return this.end(a, RESULT.deadline);
        if (wait > 0 && !(await this.waitForToken(a, wait, walk))) {
          return this.end(a, RESULT.aborted);
        }
        const sentAt = now();
        const timeoutMs = Math.min(this.health.attemptTimeout(upstream), gap.deadlineAt - sentAt);
        if (timeoutMs <= 0) return this.end(a, RESULT.deadline);
        walk.attempts++;
        this.counters.attempts++;
        a.sent = true;
        a.state = 'asking';
        const paced = this.pacer.enabled ? new PacedSend(this.pacer, upstream) : undefined;
        const reply = await this.exchange(upstream, gap, Math.ceil(timeoutMs), paced?.onSent);
        paced?.settled(reply);
        a.state = 'idle';
        if (this.signal.aborted) return this.end(a, RESULT.aborted);
        const answeredAt = now();
        const result = this.judge(reply, gap);
        const kind: ReplyKind = result.kind === 'frame' ? 'frame' : (result.kind as ReplyKind);
        // An overtaken attempt's timeout was already counted as a failure.
        if (!(a.overtaken && kind === 'timeout')) {
          this.health.record(upstream, kind, answeredAt - sentAt, answeredAt);
        }
        recorded = true;
        this.reports.reply(upstream, kind, gap.hashKey, gap.seq);
        if (reply.kind !== 'throttled' || walk.over || holds >= this.options.maxThrottleRetries) {
          return this.end(a, result);
        }
        holds++;
        this.counters.throttleHolds++;
        const hold = Math.min(reply.backoffMs, gap.deadlineAt - now());
        if (hold <= 0) return this.end(a, RESULT.deadline);
        a.state = 'holding';
        const held = await sleep(hold, this.signal);
        a.state = 'idle';
        if (!held) return this.end(a, RESULT.aborted);
      }
    } finally {
      // A probe handed out for this upstream that never got an answer is handed back.
      if (!recorded) this.health.release(upstream);
    }
  }

  private end(a: Attempt, result: AttemptResult): Attempt {
    a.result = result;
    return a;
  }

  /** Waits `ms` for the pacing token reserved for `a`; false when the wait was given up. */
  private async waitForToken(a: Attempt, ms: number, walk: { over: boolean }): Promise<boolean> {
    this.counters.pacedWaits++;
    this.health.paced(a.upstream);
    this.reports.paced(a.upstream);
    a.state = 'pacing';
    a.sendAt = now() + ms;
    const waited = await sleep(ms, this.signal);
    a.state = 'idle';
    if (waited && !walk.over) return true;
    this.pacer.refund(a.upstream);
    return false;
  }

  /**
   * One exchange through the transport. A transport that throws, rejects, resolves
   * something that is not a Reply, or has not settled by `timeoutMs + componentTimeoutMs`
   * is reported as a fault, and the attempt counts as an error.
   */
  private async exchange(
    upstream: string,
    gap: WalkGap,
    timeoutMs: number,
    onSent: (() => void) | undefined,
  ): Promise<Reply> {
    const { hashKey, seq } = gap;
    const options = { timeoutMs, signal: this.signal, hashKey, seq, accept: this.accept, onSent };
    let reply: unknown;
    try {
      const pending: unknown = this.transport.exchange(upstream, gap.nack, options);
      if (isThenable(pending)) {
        const settled = await this.watchdog.within(
          pending,
          timeoutMs + this.options.componentTimeoutMs,
        );
        if (settled.status === 'aborted') return ABORTED_REPLY;
        if (settled.status === 'timeout') {
          throw new Error(
            `transport.exchange did not settle within ${timeoutMs + this.options.componentTimeoutMs} ms`,
          );
        }
        if (settled.status === 'error') throw settled.error;
        reply = settled.value;
      } else {
        reply = pending;
      }
      if (!REPLY_KINDS.has((reply as { kind?: unknown } | null | undefined)?.kind)) {
        throw new Error('transport.exchange resolved a value that is not a Reply');
      }
    } catch (err) {
      this.reports.transportFault(toError(err), upstream, hashKey, seq);
      return FAULT_REPLY;
    }
    return reply as Reply;
  }

  /**
   * What a reply means for the gap. Frames are checked here whatever the transport did:
   * the right gap, well formed, and (with `verifyContent`) genuine.
   */
  private judge(reply: Reply, gap: WalkGap): AttemptResult {
    if (reply.kind !== 'frame') return RESULT[reply.kind];
    const m = matchFrame(reply.frame, gap.hashKey, gap.seq);
    if (typeof m === 'string') {
      this.counters.invalidFrames[m] = (this.counters.invalidFrames[m] ?? 0) + 1;
      this.reports.invalidFrame(m);
      return RESULT.error;
    }
    if (this.accept !== undefined && !this.accept(reply.frame)) return RESULT.error;
    return { kind: 'frame', frame: reply.frame, header: m };
  }
}

/**
 * One paced NACK's token: spent when the transport says the NACK left, or, for a transport
 * that does not say, when the exchange ends (given back if it ended in an error, as the NACK
 * then most likely never left).
 */
class PacedSend {
  private done = false;

  constructor(
    private readonly pacer: Pacer,
    private readonly upstream: string,
  ) {}

  readonly onSent = (): void => {
    if (this.done) return;
    this.done = true;
    this.pacer.sent(this.upstream, now());
  };

  settled(reply: Reply): void {
    if (this.done) return;
    this.done = true;
    if (reply.kind === 'error') this.pacer.refund(this.upstream);
    else this.pacer.sent(this.upstream, now());
  }
}
