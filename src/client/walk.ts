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

/** The state of one gap's walk over the upstreams. */
interface Walk {
  readonly gap: WalkGap;
  /** Upstreams to ask, best first. */
  readonly order: readonly string[];
  /** Index in `order` of the next upstream to ask. */
  next: number;
  /** Attempts still asking (several while a hedge runs). */
  readonly running: Attempt[];
  /** NACKs sent for this gap. */
  attempts: number;
  /** The walk has its result; attempts still running only finish for health. */
  over: boolean;
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

/** `value` if it is a Reply; throws (a transport fault) otherwise. */
function asReply(value: unknown): Reply {
  if (REPLY_KINDS.has((value as { kind?: unknown } | null | undefined)?.kind))
    return value as Reply;
  throw new Error('transport.exchange resolved a value that is not a Reply');
}

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
    const walk: Walk = {
      gap,
      order: this.health.order(this.options.maxEndpoints, now()),
      next: 0,
      running: [],
      attempts: 0,
      over: false,
    };
    let winner: Attempt | undefined;
    try {
      this.launch(walk, false);
      while (walk.running.length > 0) {
        const ended = await this.firstOf(walk);
        if (ended === undefined) {
          this.launch(walk, true);
          continue;
        }
        walk.running.splice(walk.running.indexOf(ended), 1);
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
        if (walk.running.length === 0 && walk.next < walk.order.length) this.launch(walk, false);
      }
      return { kind: 'exhausted', attempts: walk.attempts };
    } finally {
      walk.over = true;
      const { order } = walk;
      for (let i = walk.next; i < order.length; i++) this.health.release(order[i] as string);
      // Attempts still asking run on to their own end, for the upstream's health only.
      if (winner !== undefined) {
        for (const a of walk.running) {
          if (!a.sent) continue;
          a.overtaken = true;
          this.health.overtaken(a.upstream, now());
        }
      }
    }
  }

  /** Starts asking the next upstream of the walk (a hedge when others are still asking). */
  private launch(walk: Walk, hedged: boolean): void {
    const a: Attempt = {
      upstream: walk.order[walk.next++] as string,
      hedged,
      done: undefined as unknown as Promise<Attempt>,
      result: RESULT.aborted,
      sent: false,
      state: 'idle',
      sendAt: 0,
      overtaken: false,
    };
    a.done = this.ask(walk, a);
    walk.running.push(a);
    if (hedged) this.counters.hedges++;
    else this.hedgeBudget = Math.min(HEDGE_SAVED, this.hedgeBudget + HEDGE_EARNED);
  }

  /**
   * The first attempt to end, or undefined when it is time to hedge: the latest attempt's
   * NACK has gone unanswered for the hedge delay, and the hedge budget allows one more.
   * An attempt holding for THROTTLED or waiting for pacing is never hedged past: a
   * congested upstream is healthy, and the wait is its own.
   */
  private firstOf(walk: Walk): Promise<Attempt | undefined> {
    const { running } = walk;
    const latest = running[running.length - 1] as Attempt;
    const first = running.length === 1 ? latest.done : Promise.race(running.map((a) => a.done));
    if (walk.next >= walk.order.length) return first; // nobody left to hedge to
    let delay = this.hedgeDelay(latest.upstream);
    if (delay !== undefined && latest.state === 'pacing') delay += latest.sendAt - now();
    else if (latest.state !== 'asking') delay = undefined;
    return delay === undefined ? first : this.hedgeAfter(first, latest, delay);
  }

  private async hedgeAfter(
    first: Promise<Attempt>,
    latest: Attempt,
    delay: number,
  ): Promise<Attempt | undefined> {
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
  private async ask(walk: Walk, a: Attempt): Promise<Attempt> {
    const { gap } = walk;
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
        let reply: Reply;
        try {
          reply = asReply(await this.exchange(upstream, gap, Math.ceil(timeoutMs), paced?.onSent));
        } catch (err) {
          reply = this.transportFault(err, upstream, gap);
        }
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
  private async waitForToken(a: Attempt, ms: number, walk: Walk): Promise<boolean> {
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
   * One exchange through the transport, as it resolves (checked by the caller). A transport
   * that is not `selfTimed` is watched: no answer by `timeoutMs + componentTimeoutMs` is a
   * fault, and closing the client ends the wait.
   */
  private exchange(
    upstream: string,
    gap: WalkGap,
    timeoutMs: number,
    onSent: (() => void) | undefined,
  ): unknown {
    const { hashKey, seq } = gap;
    const options = { timeoutMs, signal: this.signal, hashKey, seq, accept: this.accept, onSent };
    const pending: unknown = this.transport.exchange(upstream, gap.nack, options);
    if (this.transport.selfTimed === true || !isThenable(pending)) return pending;
    return this.watchdog.guard(pending, timeoutMs + this.options.componentTimeoutMs, ABORTED_REPLY);
  }

  /** A transport threw, rejected, hung or resolved something that is not a Reply. */
  private transportFault(err: unknown, upstream: string, gap: WalkGap): Reply {
    this.reports.transportFault(toError(err), upstream, gap.hashKey, gap.seq);
    return FAULT_REPLY;
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
