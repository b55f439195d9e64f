import { matchFrame } from '../wire/match.js';
import type { FrameHeader } from '../wire/frame.js';
import type { Reply, Transport } from '../transport/transport.js';
import { isThenable, sleep, toError, within } from '../shared/within.js';
import { Watchdog } from '../shared/watchdog.js';
import type { Admission } from './admission.js';
import type { AdmissionTier } from './components.js';
import type { LastReply } from './events.js';
import type { UpstreamHealth, ReplyKind } from './health.js';
import type { ResolvedOptions } from './options.js';
import type { Lease, Slots } from './slots.js';
import type { Counters } from './stats.js';
import { WalkSignals, type WalkSignal } from './walk-signal.js';

/** One gap as the walk asks for it. */
export interface WalkGap {
  readonly hashKey: bigint;
  readonly seq: bigint;
  /** The proxied NACK to send. */
  readonly nack: Uint8Array;
  /** When the gap's budget (`gapDeadlineMs`, from enqueue) runs out, on `performance.now()`. */
  readonly deadlineAt: number;
  /** The worker permits the gap holds. */
  readonly lease: Lease;
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
  | {
      kind: 'exhausted' | 'deadline' | 'aborted';
      attempts: number;
      lastReply: LastReply | undefined;
    };

/** What the walk tells the client as it goes (metrics, logs, `error` events). */
export interface WalkReports {
  reply(upstream: string, kind: ReplyKind, code: string | undefined, gap: WalkGap): void;
  paced(upstream: string, tier: AdmissionTier): void;
  hedge(): void;
  invalidFrame(reason: string): void;
  transportFault(error: Error, upstream: string, hashKey: bigint, seq: bigint): void;
  /** Gaps waiting without a worker (admission, THROTTLED hold, partition) changed by `delta`. */
  waiting(delta: 1 | -1): void;
}

/** The state of one gap's walk over the upstreams. */
interface Walk {
  readonly gap: WalkGap;
  /** Upstreams asked (or being asked) for this gap. */
  readonly tried: string[];
  /** Attempts still asking (several while a hedge runs). */
  readonly running: Attempt[];
  /** NACKs sent for this gap. */
  attempts: number;
  /** The walk has its result; attempts still running only finish for health. */
  over: boolean;
  /** The last answer that was not a frame. */
  last: LastReply | undefined;
  /** Ends the walk's waits at its deadline, at close() and when it is over; made on first wait. */
  signal: WalkSignal | undefined;
  /** Waits in progress that hold no worker. */
  parked: number;
}

/** The upstream `pick` chose, and whether it was handed out as the upstream's probe. */
interface Pick {
  readonly upstream: string;
  readonly probe: boolean;
}

/** One upstream being asked for one gap (asked again after THROTTLED holds). */
interface Attempt {
  readonly upstream: string;
  readonly hedged: boolean;
  /** It was handed the upstream's probe (the upstream is demoted and its cooldown passed). */
  probe: boolean;
  /** Settles with this attempt once `result` is set. */
  done: Promise<Attempt>;
  result: AttemptResult;
  /** When the NACK out left (NaN: none out). */
  sentAt: number;
  /**
   * `asking`: a NACK is out; `admitting`: waiting for the upstream to admit it; `holding`:
   * holding for a THROTTLED hint; `idle`: none of these (starting, or ended).
   */
  state: 'idle' | 'admitting' | 'asking' | 'holding';
  /** The walk ended with another upstream's frame while this one was still asking. */
  overtaken: boolean;
  /** Told when its NACK leaves after an admission wait (a hedge may then be due). */
  onAsking: ((value: undefined) => void) | undefined;
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
const INVALID_FRAME_REPLY: Reply = { kind: 'error', code: 'invalid-frame' };
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

/** Why a walk could not start another attempt. */
type Stop = 'exhausted' | 'deadline' | 'aborted';

/**
 * The upstream policy: which upstreams one gap asks, in what order, and when it gives up.
 * Each step asks the usable upstream (healthy, or demoted with its probe due) that can admit
 * the NACK soonest, preference order breaking ties, at most `maxEndpoints` of them, one at a
 * time unless a hedge asks the next in parallel. MISS, timeouts and errors move on; THROTTLED
 * holds for the hint and asks the same upstream again. When every upstream is demoted the
 * gap waits (holding no worker) until one may be asked. The first valid frame wins; the
 * gap's deadline and `close()` end the walk.
 */
export class UpstreamWalker {
  private hedgeBudget = HEDGE_SAVED;
  /** The most upstreams one gap may ask: `maxEndpoints`, or fewer when fewer are configured. */
  private readonly reach: number;
  /** What `pick` hands out, one per upstream (and per upstream as a probe): no allocation per step. */
  private readonly picks: readonly Pick[];
  private readonly probePicks: readonly Pick[];
  /** Bounds exchanges of a transport that never settles; closed by `abort()`. */
  private readonly watchdog: Watchdog;
  /** The walks' own signals, under `signal`. */
  private readonly walkSignals: WalkSignals;

  constructor(
    private readonly transport: Transport,
    private readonly health: UpstreamHealth,
    /** NACK admission per upstream and flow; undefined with `nackRate: false`. */
    private readonly admission: Admission | undefined,
    private readonly slots: Slots,
    private readonly options: ResolvedOptions,
    private readonly counters: Counters,
    private readonly reports: WalkReports,
    /** Aborted by `close()`: every wait ends at once. */
    private readonly signal: AbortSignal,
    /** The content check of `verifyContent`, given to the transport as `accept`. */
    private readonly accept: ((frame: Uint8Array) => boolean) | undefined,
  ) {
    this.watchdog = new Watchdog(watchdogTick(options.componentTimeoutMs));
    this.walkSignals = new WalkSignals(signal);
    this.reach = Math.min(options.maxEndpoints, health.names.length);
    this.picks = health.names.map((upstream) => ({ upstream, probe: false }));
    this.probePicks = health.names.map((upstream) => ({ upstream, probe: true }));
  }

  /** Ends every exchange still waited for (the client is closing). */
  abort(): void {
    this.watchdog.close();
  }

  /** Asks upstreams for `gap` until one sends its frame, none is left, or time is up. */
  async fetch(gap: WalkGap): Promise<FetchResult> {
    const walk: Walk = {
      gap,
      tried: [],
      running: [],
      attempts: 0,
      over: false,
      last: undefined,
      signal: undefined,
      parked: 0,
    };
    let winner: Attempt | undefined;
    try {
      for (;;) {
        if (walk.running.length === 0) {
          // Awaited only when every upstream is down: the common start is synchronous.
          const starting = this.start(walk);
          const stop = isThenable(starting) ? await starting : starting;
          if (stop !== undefined) return this.stopped(walk, stop);
        }
        const ended = await this.firstOf(walk);
        if (ended === undefined) continue; // a hedge was started
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
        if (r.kind === 'aborted' || this.signal.aborted) return this.stopped(walk, 'aborted');
        // A busy event loop may notice the deadline before an attempt does.
        if (r.kind === 'deadline' || now() >= gap.deadlineAt) return this.stopped(walk, 'deadline');
      }
    } finally {
      walk.over = true;
      // Attempts still running may wait on the walk's signal: end their waits. With none
      // left, nothing waits on it.
      if (walk.running.length > 0) walk.signal?.end();
      else walk.signal?.release();
      // Attempts still asking run on to their own end, for the upstream's health only.
      if (winner !== undefined) {
        const at = now();
        for (const a of walk.running) {
          if (a.state !== 'asking') continue;
          a.overtaken = true;
          this.health.overtaken(a.upstream, a.sentAt, at);
        }
      }
    }
  }

  private stopped(walk: Walk, stop: Stop): FetchResult {
    return { kind: stop, attempts: walk.attempts, lastReply: walk.last };
  }

  /**
   * Starts the next attempt, or (every upstream demoted, and one this gap has not asked may
   * come back within its deadline) waits for one, holding no worker.
   */
  private start(walk: Walk): Stop | undefined | Promise<Stop | undefined> {
    const stop = this.startNow(walk);
    return stop === 'wait' ? this.startLater(walk) : stop;
  }

  /** Starts the next attempt now, if one may start: 'wait' when the gap must wait for one. */
  private startNow(walk: Walk): Stop | undefined | 'wait' {
    // A deadline past is caught by the attempt itself (exchangeNow sends nothing then).
    if (this.signal.aborted) return 'aborted';
    const pick = this.pick(walk);
    if (pick !== undefined) {
      this.launch(walk, pick, false);
      return undefined;
    }
    return this.mayWait(walk) ? 'wait' : 'exhausted';
  }

  private async startLater(walk: Walk): Promise<Stop | undefined> {
    for (;;) {
      const signal = this.signalOf(walk);
      this.park(walk);
      try {
        await this.health.whenUsable(signal.signal);
      } finally {
        this.unpark(walk);
      }
      if (signal.signal.aborted) return this.signal.aborted ? 'aborted' : 'deadline';
      const stop = this.startNow(walk);
      if (stop !== 'wait') return stop;
    }
  }

  /** Every upstream is down, and one this gap may still ask could come back. */
  private mayWait(walk: Walk): boolean {
    if (!this.health.allDown || walk.tried.length >= this.options.maxEndpoints) return false;
    for (const name of this.health.names) if (!walk.tried.includes(name)) return true;
    return false;
  }

  /**
   * The upstream to ask next: not asked yet, usable now, and the one that can admit the
   * NACK soonest (the first in preference order among equals). A demoted upstream whose
   * cooldown has passed is handed out as a probe to one gap. Undefined when none is left.
   */
  private pick(walk: Walk): Pick | undefined {
    if (walk.tried.length >= this.options.maxEndpoints) return undefined;
    const fast = this.admission === undefined && this.health.allHealthy;
    const at = fast ? 0 : now();
    const names = this.health.names;
    let best = -1;
    let bestProbe = false;
    let bestMs = Infinity;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (walk.tried.includes(name)) continue;
      const usable = fast ? 'healthy' : this.health.usable(name, at);
      if (usable === undefined) continue;
      const ms = this.admission?.estimate(name, walk.gap.hashKey) ?? 0;
      if (ms < bestMs) {
        best = i;
        bestProbe = usable === 'probe';
        bestMs = ms;
        if (ms === 0) break; // nothing waits there: no other can do better
      }
    }
    if (best < 0) return undefined;
    if (!bestProbe) return this.picks[best];
    this.health.reserveProbe(names[best] as string);
    return this.probePicks[best];
  }

  /** Starts asking one upstream (a hedge when another attempt is still asking). */
  private launch(walk: Walk, pick: Pick, hedged: boolean): void {
    const a: Attempt = {
      upstream: pick.upstream,
      hedged,
      probe: pick.probe,
      done: undefined as unknown as Promise<Attempt>,
      result: RESULT.aborted,
      sentAt: NaN,
      state: 'idle',
      overtaken: false,
      onAsking: undefined,
    };
    walk.tried.push(pick.upstream);
    walk.running.push(a);
    a.done = this.ask(walk, a);
    if (hedged) {
      this.counters.hedges++;
      this.reports.hedge();
    } else this.hedgeBudget = Math.min(HEDGE_SAVED, this.hedgeBudget + HEDGE_EARNED);
  }

  /**
   * The first attempt to end, or undefined when a hedge was started: the latest attempt's
   * NACK has gone unanswered for the hedge delay, the hedge budget allows one more, another
   * upstream is usable, and a worker is free (a hedge never waits for one). An attempt
   * holding for THROTTLED or waiting for admission is never hedged past: a congested
   * upstream is healthy, and the wait is its own.
   */
  private firstOf(walk: Walk): Promise<Attempt | undefined> {
    const { running } = walk;
    const latest = running[running.length - 1] as Attempt;
    const first = running.length === 1 ? latest.done : Promise.race(running.map((a) => a.done));
    // Nobody left to hedge to: no timer, no extra promise (the common case, measured).
    if (this.options.hedgeAfterMs === false || walk.tried.length >= this.reach) return first;
    if (latest.state === 'admitting') return this.whenAsking(walk, latest, first);
    return latest.state === 'asking' ? this.hedgeAfter(walk, latest, first) : first;
  }

  /** The latest attempt's NACK has not left yet: wait for it to leave (then maybe hedge) or end. */
  private async whenAsking(
    walk: Walk,
    latest: Attempt,
    first: Promise<Attempt>,
  ): Promise<Attempt | undefined> {
    const asking = new Promise<undefined>((resolve) => (latest.onAsking = resolve));
    const ended = await Promise.race([first, asking]);
    latest.onAsking = undefined;
    if (ended !== undefined) return ended;
    return latest.state === 'asking' ? this.hedgeAfter(walk, latest, first) : first;
  }

  /** Hedges once the latest attempt has gone unanswered for its hedge delay. */
  private async hedgeAfter(
    walk: Walk,
    latest: Attempt,
    first: Promise<Attempt>,
  ): Promise<Attempt | undefined> {
    const delay = this.hedgeDelay(latest.upstream);
    if (delay === undefined) return first;
    // No abort signal here: closing ends the attempts, and with them this race.
    const r = await within(first, Math.max(0, latest.sentAt + delay - now()));
    if (r.status === 'ok') return r.value;
    if (r.status !== 'timeout' || latest.state !== 'asking' || this.hedgeBudget < 1) return first;
    const pick = this.pick(walk);
    if (pick === undefined) return first;
    if (!this.slots.tryAcquire(walk.gap.lease)) {
      if (pick.probe) this.health.unreserve(pick.upstream);
      return first;
    }
    this.hedgeBudget -= 1;
    this.launch(walk, pick, true);
    return undefined;
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
    let holds = 0;
    try {
      for (;;) {
        if (walk.over) return this.end(a, RESULT.aborted); // overtaken while holding: ask no more
        let sent: unknown;
        try {
          const sending = this.send(walk, a);
          sent = isThenable(sending) ? await sending : sending;
        } catch (err) {
          sent = this.transportFault(err, upstream, gap);
        }
        if (a.state === 'asking') {
          a.state = 'idle';
          this.slots.asked(gap.lease);
        }
        if (sent === 'deadline' || sent === 'aborted') return this.end(a, RESULT[sent]);
        let reply: Reply;
        try {
          reply = asReply(sent);
        } catch (err) {
          reply = this.transportFault(err, upstream, gap);
        }
        if (this.signal.aborted) return this.end(a, RESULT.aborted);
        const result = this.judge(reply, gap);
        if (result === RESULT.error && reply.kind === 'frame') reply = INVALID_FRAME_REPLY;
        const kind: ReplyKind = result.kind === 'frame' ? 'frame' : (result.kind as ReplyKind);
        const code = reply.kind === 'error' ? reply.code : undefined;
        // An overtaken attempt's silence was already judged when it was overtaken.
        if (!(a.overtaken && kind === 'timeout')) {
          this.health.record(upstream, kind, code, a.sentAt, now());
        }
        if (kind !== 'frame')
          walk.last = { upstream, kind, ...(code === undefined ? {} : { code }) };
        this.reports.reply(upstream, kind, code, gap);
        if (reply.kind !== 'throttled' || walk.over || holds >= this.options.maxThrottleRetries) {
          return this.end(a, result);
        }
        holds++;
        this.counters.throttleHolds++;
        const hold = Math.min(reply.backoffMs, gap.deadlineAt - now());
        if (hold <= 0) return this.end(a, RESULT.deadline);
        a.state = 'holding';
        const signal = this.signalOf(walk);
        this.park(walk);
        const held = await sleep(hold, signal.signal);
        this.unpark(walk);
        a.state = 'idle';
        if (!held) return this.end(a, this.signal.aborted ? RESULT.aborted : RESULT.deadline);
      }
    } finally {
      // A probe handed out for this upstream that was never sent is handed back.
      if (a.probe) this.health.unreserve(upstream);
    }
  }

  private end(a: Attempt, result: AttemptResult): Attempt {
    a.result = result;
    return a;
  }

  /**
   * Sends one NACK to `a.upstream` once it is admitted and a worker is free, and waits for
   * the exchange: its reply (checked by the caller), or why none was sent.
   */
  private send(walk: Walk, a: Attempt): unknown {
    if (this.admission !== undefined) return this.sendAdmitted(walk, a, this.admission);
    const permit = this.slots.acquire(walk.gap.lease);
    // Unpaced, with a permit at hand: the exchange itself, no async layer (measured).
    if (permit === true) return this.exchangeNow(walk, a, undefined) ?? 'deadline';
    return this.sendOnPermit(walk, a, permit);
  }

  private async sendOnPermit(
    walk: Walk,
    a: Attempt,
    permit: false | Promise<boolean>,
  ): Promise<unknown> {
    if (!(await this.acquired(walk, permit))) return this.whyStopped(walk);
    return this.exchangeNow(walk, a, undefined) ?? 'deadline';
  }

  /** Sends once the upstream and the gap's flow admit the NACK (the paced path). */
  private async sendAdmitted(walk: Walk, a: Attempt, admission: Admission): Promise<unknown> {
    const { gap } = walk;
    let exchange: unknown;
    let stop: 'deadline' | 'aborted' | undefined;
    const signal = this.signalOf(walk);
    a.state = 'admitting';
    let parked = false;
    const admitted = await admission.admit(
      a.upstream,
      gap.hashKey,
      signal.signal,
      () => {
        if (parked) {
          parked = false;
          this.unpark(walk);
        }
        const permit = this.slots.acquire(gap.lease, signal.signal);
        return permit === true ? true : this.acquired(walk, permit);
      },
      async () => {
        let sentNow = false;
        let wake: (() => void) | undefined;
        const turnAt = now();
        exchange = this.exchangeNow(walk, a, () => {
          sentNow = true;
          admission.left(a.upstream, now() - turnAt);
          wake?.();
        });
        if (exchange === undefined) {
          stop = 'deadline';
          return;
        }
        // The turn ends when the NACK has left, its exchange ended, or one pace passed (a
        // transport that does not call onSent, or a slow lookup: the late send counts again).
        if (sentNow) return;
        const leaving = new Promise<void>((resolve) => (wake = resolve));
        const done = (): void => wake?.();
        void Promise.resolve(exchange).then(done, done);
        await within(leaving, admission.paceMs);
      },
      (tier) => {
        this.counters.pacedWaits++;
        this.health.paced(a.upstream, tier);
        this.reports.paced(a.upstream, tier);
      },
      // Waiting behind its flow holds no worker (at the upstream's bucket it holds one).
      () => {
        parked = true;
        this.park(walk);
      },
    );
    if (parked) this.unpark(walk);
    if (!admitted || exchange === undefined) {
      a.state = 'idle';
      return stop ?? this.whyStopped(walk);
    }
    return exchange;
  }

  /** Waits for a permit the slots could not give at once, as a parked wait. */
  private async acquired(walk: Walk, permit: boolean | Promise<boolean>): Promise<boolean> {
    if (permit === false) return false;
    if (permit === true) return true;
    this.park(walk);
    try {
      return await permit;
    } finally {
      this.unpark(walk);
    }
  }

  private whyStopped(walk: Walk): 'deadline' | 'aborted' {
    return this.signal.aborted || walk.over ? 'aborted' : 'deadline';
  }

  /**
   * Sends the NACK now, on a permit held for it: the exchange as the transport returned it,
   * or undefined when the gap's deadline leaves no time for an attempt.
   */
  private exchangeNow(walk: Walk, a: Attempt, onSent: (() => void) | undefined): unknown {
    const { gap } = walk;
    const sentAt = now();
    const timeoutMs = Math.min(this.health.attemptTimeout(a.upstream), gap.deadlineAt - sentAt);
    if (timeoutMs <= 0 || walk.over || this.signal.aborted) return undefined;
    gap.lease.asking++;
    walk.attempts++;
    this.counters.attempts++;
    a.sentAt = sentAt;
    a.state = 'asking';
    a.onAsking?.(undefined);
    if (a.probe) {
      a.probe = false;
      this.health.sending(a.upstream);
    }
    return this.exchange(a.upstream, gap, Math.ceil(timeoutMs), onSent);
  }

  /** The walk's own signal (deadline, close, walk over), made on the first wait. */
  private signalOf(walk: Walk): WalkSignal {
    walk.signal ??= this.walkSignals.create(walk.gap.deadlineAt - now());
    return walk.signal;
  }

  /** The gap starts a wait that holds no worker: its idle permits go to other gaps. */
  private park(walk: Walk): void {
    if (walk.parked++ === 0) this.reports.waiting(1);
    this.slots.rest(walk.gap.lease);
  }

  private unpark(walk: Walk): void {
    if (--walk.parked === 0) this.reports.waiting(-1);
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
    let pending: unknown;
    try {
      pending = this.transport.exchange(upstream, gap.nack, options);
    } catch (err) {
      return Promise.reject(toError(err));
    }
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
