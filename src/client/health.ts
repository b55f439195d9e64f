import type { AdmissionTier, UpstreamState } from './components.js';
import type { HealthCause } from './events.js';
import type { UpstreamStats } from './stats.js';

/** Settings of {@link UpstreamHealth}. */
export interface HealthSettings {
  timeoutMs: number;
  minTimeoutMs: number;
  adaptiveTimeout: boolean;
  demoteAfter: number;
  demoteCooldownMs: number;
}

/** One reply kind as it affects health. */
export type ReplyKind = 'frame' | 'miss' | 'throttled' | 'timeout' | 'error';

/** Told of every health transition. */
export type HealthListener = (
  upstream: string,
  state: UpstreamState,
  previous: UpstreamState,
  cause: HealthCause,
) => void;

class Upstream {
  state: UpstreamState = 'healthy';
  consecutiveFailures = 0;
  /** What the failures in a row were, for the cause of a demotion. */
  failureCause: HealthCause = 'timeouts';
  demotions = 0;
  demotedFor: HealthCause | undefined;
  demotedUntil = 0;
  /** A gap was handed the probe and has not sent it yet. */
  probeReserved = false;
  /** When it last answered anything (frame, MISS, THROTTLED); -Infinity: never. */
  lastAnswerAt = -Infinity;
  srtt: number | undefined;
  rttvar: number | undefined;
  replies = { frame: 0, miss: 0, throttled: 0, timeout: 0, error: 0, overtaken: 0 };
  silentTimeouts = 0;
  admissionWaits = { ip: 0, flow: 0 };

  constructor(
    readonly name: string,
    readonly rank: number,
  ) {}
}

/** What `usable` says of an upstream. */
export type Usable = 'healthy' | 'probe' | undefined;

/**
 * Per-upstream health and round-trip estimates.
 *
 * Silence is not death: a timeout, or an attempt overtaken by a hedge, counts against an
 * upstream only when it answered nothing else from one attempt timeout before that NACK
 * left until now (a rate limit or a suppressed MISS answers one gap with silence, while the
 * upstream answers the others). `demoteAfter` such failures in a row, or send errors and
 * ICMP port unreachable, demote it. A demoted upstream is not asked at all until its
 * cooldown has passed; then one gap probes it (`probing`) and its answer restores it. Every
 * transition is told to the listener.
 */
export class UpstreamHealth {
  private readonly list: Upstream[];
  /** The configured upstreams, in preference order. */
  readonly names: readonly string[];
  private readonly byName = new Map<string, Upstream>();
  /** Upstreams not healthy; while 0 every upstream is usable. */
  private unhealthy = 0;
  /** Gaps waiting for an upstream to become usable (`whenUsable`). */
  private readonly waiters = new Set<() => void>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;

  constructor(
    upstreams: readonly string[],
    private readonly settings: HealthSettings,
    private readonly listener: HealthListener,
  ) {
    this.list = upstreams.map((u, i) => new Upstream(u, i));
    for (const u of this.list) this.byName.set(u.name, u);
    // Read on every pick: one array, not a copy per call.
    this.names = Object.freeze(this.list.map((u) => u.name));
  }

  /** Every upstream is healthy (the common case: no state to look at). */
  get allHealthy(): boolean {
    return this.unhealthy === 0;
  }

  /** No upstream is healthy: a partition, or every upstream down. */
  get allDown(): boolean {
    return this.unhealthy === this.list.length;
  }

  /**
   * Whether one gap may ask `name` now: `healthy`, `probe` (demoted, its cooldown passed,
   * and nobody holds its probe), or undefined (not to be asked).
   */
  usable(name: string, now: number): Usable {
    const u = this.byName.get(name);
    if (u === undefined) return undefined;
    if (u.state === 'healthy') return 'healthy';
    if (u.state === 'demoted' && !u.probeReserved && now >= u.demotedUntil) return 'probe';
    return undefined;
  }

  /** Hands the probe of `name` to one gap (after `usable` said `probe`). */
  reserveProbe(name: string): void {
    const u = this.byName.get(name);
    if (u !== undefined) u.probeReserved = true;
  }

  /** A probe handed out was not sent after all (the gap ended first): another gap may take it. */
  unreserve(name: string): void {
    const u = this.byName.get(name);
    if (u === undefined || !u.probeReserved) return;
    u.probeReserved = false;
    this.wake();
  }

  /** A NACK to `name` leaves now; a reserved probe makes it `probing`. */
  sending(name: string): void {
    const u = this.byName.get(name);
    if (u === undefined || !u.probeReserved) return;
    u.probeReserved = false;
    this.transition(u, 'probing', 'cooldown');
  }

  /** The wait one attempt on `name` gets now. */
  attemptTimeout(name: string): number {
    const { timeoutMs, minTimeoutMs, adaptiveTimeout } = this.settings;
    const u = this.byName.get(name);
    if (!adaptiveTimeout || u?.srtt === undefined || u.rttvar === undefined) return timeoutMs;
    const rto = u.srtt + 4 * u.rttvar;
    return Math.min(timeoutMs, Math.max(minTimeoutMs, Math.ceil(rto)));
  }

  /** When to hedge past `name` under `hedgeAfterMs: 'adaptive'`: SRTT + 2 × RTTVAR. */
  hedgeDelay(name: string): number {
    const u = this.byName.get(name);
    if (u?.srtt === undefined || u.rttvar === undefined) return this.settings.timeoutMs / 2;
    return Math.max(this.settings.minTimeoutMs, Math.ceil(u.srtt + 2 * u.rttvar));
  }

  /**
   * Records one reply to a NACK sent at `sentAt`. `code` is the transport's error code of an
   * `error` (`unreachable` for ICMP port unreachable).
   */
  record(
    name: string,
    kind: ReplyKind,
    code: string | undefined,
    sentAt: number,
    now: number,
  ): void {
    const u = this.byName.get(name);
    if (u === undefined) return;
    u.replies[kind]++;
    if (kind === 'timeout') {
      this.silence(u, sentAt, now, 'timeouts');
      return;
    }
    if (kind === 'error') {
      this.failure(u, now, code === 'unreachable' ? 'unreachable' : 'errors');
      return;
    }
    u.lastAnswerAt = now;
    u.consecutiveFailures = 0;
    if (u.state !== 'healthy') this.transition(u, 'healthy', 'probe-answered');
    if (kind !== 'throttled') this.sample(u, now - sentAt);
  }

  /**
   * A hedge on another upstream brought the frame while the NACK sent to `name` at `sentAt`
   * was unanswered: a failure unless `name` answered other NACKs meanwhile, so a silent
   * upstream is demoted even though hedges never let its attempts time out. If it answers
   * later after all, `record` restores it.
   */
  overtaken(name: string, sentAt: number, now: number): void {
    const u = this.byName.get(name);
    if (u === undefined) return;
    u.replies.overtaken++;
    this.silence(u, sentAt, now, 'overtaken');
  }

  /** A NACK to `name` waited for admission at `tier`. */
  paced(name: string, tier: AdmissionTier): void {
    const u = this.byName.get(name);
    if (u !== undefined) u.admissionWaits[tier]++;
  }

  /**
   * Resolves once an upstream may be usable again: one became healthy, a cooldown passed
   * (a probe is free), a probe was handed back, or `signal` aborted. The caller asks again.
   */
  whenUsable(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
      this.armWake();
    });
  }

  /** Ends every wait and timer (the client is closing). */
  close(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
    for (const w of [...this.waiters]) w();
  }

  snapshot(): UpstreamStats[] {
    return this.list.map((u) => ({
      upstream: u.name,
      state: u.state,
      consecutiveFailures: u.consecutiveFailures,
      demotions: u.demotions,
      demotedFor: u.demotedFor,
      srttMs: u.srtt,
      rttvarMs: u.rttvar,
      attemptTimeoutMs: this.attemptTimeout(u.name),
      pacedWaits: u.admissionWaits.ip + u.admissionWaits.flow,
      admissionWaits: { ...u.admissionWaits },
      silentTimeouts: u.silentTimeouts,
      replies: { ...u.replies },
    }));
  }

  /** A timeout or an overtaken attempt: silence about the gap, or a sign of death. */
  private silence(u: Upstream, sentAt: number, now: number, cause: HealthCause): void {
    if (u.lastAnswerAt >= sentAt - this.settings.timeoutMs) {
      u.silentTimeouts++;
      return;
    }
    this.failure(u, now, cause);
  }

  private failure(u: Upstream, now: number, cause: HealthCause): void {
    u.consecutiveFailures++;
    u.failureCause = cause;
    if (u.state === 'probing') {
      u.demotedUntil = now + this.settings.demoteCooldownMs;
      this.transition(u, 'demoted', 'probe-failed');
      return;
    }
    if (u.state === 'demoted') {
      u.demotedUntil = now + this.settings.demoteCooldownMs;
      return;
    }
    if (u.consecutiveFailures < this.settings.demoteAfter) return;
    u.demotions++;
    u.demotedFor = cause;
    u.demotedUntil = now + this.settings.demoteCooldownMs;
    this.transition(u, 'demoted', cause);
  }

  private transition(u: Upstream, state: UpstreamState, cause: HealthCause): void {
    const previous = u.state;
    if (previous === state) return;
    if (previous === 'healthy') this.unhealthy++;
    if (state === 'healthy') this.unhealthy--;
    u.state = state;
    if (state === 'healthy') this.wake();
    else if (state === 'demoted' && this.waiters.size > 0) this.armWake();
    this.listener(u.name, state, previous, cause);
  }

  /** Wakes every waiting gap to look again. */
  private wake(): void {
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) w();
  }

  /** A timer for the next cooldown to pass, while gaps wait for one. */
  private armWake(): void {
    // Only cooldowns still to come: one that passed already woke the waiters once.
    const now = performance.now();
    let at = Infinity;
    for (const u of this.list) {
      if (u.state === 'demoted' && !u.probeReserved && u.demotedUntil > now) {
        at = Math.min(at, u.demotedUntil);
      }
    }
    if (at === Infinity || at >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeAt = Infinity;
        this.wake();
      },
      Math.max(1, at - now),
    );
  }

  /** RFC 6298 smoothing: SRTT ← 7/8 SRTT + 1/8 R; RTTVAR ← 3/4 RTTVAR + 1/4 |SRTT − R|. */
  private sample(u: Upstream, r: number): void {
    if (!(r >= 0) || !Number.isFinite(r)) return;
    if (u.srtt === undefined || u.rttvar === undefined) {
      u.srtt = r;
      u.rttvar = r / 2;
      return;
    }
    u.rttvar = 0.75 * u.rttvar + 0.25 * Math.abs(u.srtt - r);
    u.srtt = 0.875 * u.srtt + 0.125 * r;
  }
}
