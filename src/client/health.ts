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

class Upstream {
  consecutiveFailures = 0;
  demotions = 0;
  demotedUntil = 0;
  demoted = false;
  probing = false;
  srtt: number | undefined;
  rttvar: number | undefined;
  replies = { frame: 0, miss: 0, throttled: 0, timeout: 0, error: 0, overtaken: 0 };
  pacedWaits = 0;

  constructor(
    readonly name: string,
    readonly rank: number,
  ) {}
}

/**
 * Per-upstream health and round-trip estimates. Consecutive timeouts, send errors or
 * overtakes (a hedge answered while this upstream stayed silent) demote an upstream behind
 * the healthy ones; after the cooldown one job probes it, and any answer restores it. Among
 * healthy upstreams the operator's order is kept. Every probe handed out by `order` ends in
 * exactly one `record`, `overtaken` or `release`.
 */
export class UpstreamHealth {
  private readonly list: Upstream[];
  private readonly byName = new Map<string, Upstream>();
  /** Upstreams currently demoted; while 0, `order` returns a shared, precomputed list. */
  private demotedCount = 0;
  private healthyOrder: { max: number; names: readonly string[] } | undefined;

  constructor(
    upstreams: readonly string[],
    private readonly settings: HealthSettings,
  ) {
    this.list = upstreams.map((u, i) => new Upstream(u, i));
    for (const u of this.list) this.byName.set(u.name, u);
  }

  /**
   * Upstreams to try for one gap, best first, at most `max`. A demoted upstream whose
   * cooldown has passed is handed to exactly one caller as a probe (in its normal place).
   */
  order(max: number, now: number): readonly string[] {
    if (this.demotedCount === 0) {
      if (this.healthyOrder?.max !== max) {
        this.healthyOrder = { max, names: this.list.slice(0, max).map((u) => u.name) };
      }
      return this.healthyOrder.names;
    }
    const healthy: string[] = [];
    const demoted: string[] = [];
    for (const u of this.list) {
      if (!u.demoted) healthy.push(u.name);
      else if (!u.probing && now >= u.demotedUntil) {
        u.probing = true;
        healthy.push(u.name);
      } else demoted.push(u.name);
    }
    const all = healthy.concat(demoted);
    if (all.length > max) {
      // A probe that falls outside the cut is not a probe: let another job take it.
      for (const name of all.slice(max)) {
        const u = this.byName.get(name);
        if (u?.probing && healthy.includes(name)) u.probing = false;
      }
      all.length = max;
    }
    return all;
  }

  /** Releases a probe handed out by `order` that was never sent (the gap ended first). */
  release(name: string): void {
    const u = this.byName.get(name);
    if (u?.probing) u.probing = false;
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

  /** Records one reply; `rttMs` is the exchange's duration for answered replies. */
  record(name: string, kind: ReplyKind, rttMs: number, now: number): void {
    const u = this.byName.get(name);
    if (u === undefined) return;
    u.replies[kind]++;
    if (kind === 'timeout' || kind === 'error') {
      this.failure(u, now);
      return;
    }
    u.consecutiveFailures = 0;
    if (u.demoted) this.demotedCount--;
    u.demoted = false;
    u.probing = false;
    if (kind !== 'throttled') this.sample(u, rttMs);
  }

  /**
   * A hedge on another upstream answered while `name` had not: a failure for demotion, so a
   * silent upstream is demoted even though hedging never lets its attempts time out. If it
   * answers later after all, `record` restores it.
   */
  overtaken(name: string, now: number): void {
    const u = this.byName.get(name);
    if (u === undefined) return;
    u.replies.overtaken++;
    this.failure(u, now);
  }

  /** A NACK to `name` waited for the pacing budget. */
  paced(name: string): void {
    const u = this.byName.get(name);
    if (u !== undefined) u.pacedWaits++;
  }

  private failure(u: Upstream, now: number): void {
    u.consecutiveFailures++;
    const wasProbe = u.probing;
    u.probing = false;
    if (wasProbe || u.demoted || u.consecutiveFailures >= this.settings.demoteAfter) {
      if (!u.demoted) {
        u.demotions++;
        this.demotedCount++;
      }
      u.demoted = true;
      u.demotedUntil = now + this.settings.demoteCooldownMs;
    }
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

  snapshot(): UpstreamStats[] {
    return this.list.map((u) => ({
      upstream: u.name,
      state: u.probing ? 'probing' : u.demoted ? 'demoted' : 'healthy',
      consecutiveFailures: u.consecutiveFailures,
      demotions: u.demotions,
      srttMs: u.srtt,
      rttvarMs: u.rttvar,
      attemptTimeoutMs: this.attemptTimeout(u.name),
      pacedWaits: u.pacedWaits,
      replies: { ...u.replies },
    }));
  }
}
