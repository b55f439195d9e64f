import PQueue from 'p-queue';
import { LRUCache } from 'lru-cache';
import type { AdmissionTier } from './components.js';

/**
 * NACK pacing per upstream, modelled on the reference server's limits that answer with
 * silence: a bucket per source IP (`RL_IP_RATE` / `RL_IP_BURST`) and a sliding window per
 * (source IP, HashKey) (`RL_CHAIN_RATE` per `RL_CHAIN_WINDOW`).
 */
export interface NackRate {
  /** NACKs per second to one upstream, sustained. */
  perSecond: number;
  /** NACKs that may go to one upstream at once after a quiet spell. */
  burst: number;
  /** NACKs of one flow (HashKey) to one upstream per `flowWindowMs`; `false`: no flow window. */
  perFlow: number | false;
  /** Length of the flow window, in ms. */
  flowWindowMs: number;
}

/** The default {@link NackRate}: a margin under the reference server's defaults. */
export const DEFAULT_NACK_RATE: Readonly<NackRate> = Object.freeze({
  perSecond: 90,
  burst: 9,
  perFlow: 480,
  flowWindowMs: 60_000,
});

/** A NACK whose turn came later than this after its admission takes a second turn when it leaves. */
const LATE_SEND_MS = 1;

/** Most flows whose windows are remembered at once; idle ones are forgotten first. */
const MAX_FLOWS = 100_000;

/** Runs when a NACK is admitted; resolves once the NACK has left (or will never leave). */
export type Send = () => Promise<void>;

/** One flow (HashKey) at one upstream. */
interface FlowState {
  /** Its sliding window (`perFlow` per `flowWindowMs`); undefined when it has none. */
  readonly window: PQueue | undefined;
  /** Its NACKs waiting in the upstream's queue: the rank the next one gets there. */
  waiting: number;
}

/**
 * Admission of NACKs to upstreams, on p-queue. Per upstream, a queue whose strict
 * (sliding-window) interval lets `burst` NACKs start per `burst / perSecond` seconds; per
 * (upstream, flow), a queue whose strict interval lets `perFlow` NACKs through per
 * `flowWindowMs`. A NACK first passes its flow's window, then waits its turn at the
 * upstream. Turns go by rank: a flow's k-th NACK waiting there has priority −k, so the
 * upstream serves its flows in turn and a busy flow never holds up the others. A NACK that
 * leaves well after its turn (a worker, a lookup) counts again when it leaves, so NACKs
 * held up never bunch past the upstream's bucket. Flow state lives in an lru-cache and is
 * forgotten once its window has passed: idle flows cost nothing.
 */
export class Admission {
  private readonly upstreams = new Map<string, PQueue>();
  private readonly flows: LRUCache<string, FlowState>;
  /** One NACK's share of the upstream's rate, in ms. */
  readonly paceMs: number;

  constructor(
    private readonly rate: NackRate,
    /** The longest a gap may wait, so a flow with waiting NACKs is never forgotten. */
    gapDeadlineMs: number,
  ) {
    this.paceMs = 1000 / rate.perSecond;
    this.flows = new LRUCache<string, FlowState>({
      max: MAX_FLOWS,
      ttl: (rate.perFlow === false ? 0 : rate.flowWindowMs) + gapDeadlineMs,
      updateAgeOnGet: true,
      ttlResolution: 0,
      // Read at each call (tests fake `performance`); lru-cache reads a start of 0 as
      // "no TTL", which a faked clock can return, hence the offset.
      perf: { now: () => performance.now() + 1 },
    });
  }

  /**
   * About how long, in ms, a NACK of `hashKey` would wait for `upstream` now: 0 when nothing
   * waits there, else its place in line times the upstream's pace, plus a whole window
   * when its flow's window is full. An estimate for choosing between upstreams.
   */
  estimate(upstream: string, hashKey: bigint): number {
    const ip = this.upstreams.get(upstream);
    if (ip === undefined) return 0;
    const window = this.flows.peek(flowKey(upstream, hashKey))?.window;
    const held = window === undefined ? 0 : window.size;
    let ms = ip.size === 0 ? 0 : (ip.size + 1) * this.paceMs;
    if (held > 0)
      ms += held * this.paceMs + (window?.isRateLimited === true ? this.rate.flowWindowMs : 0);
    return ms;
  }

  /**
   * Calls `send` once `upstream` admits one more NACK of `hashKey`, and resolves true after
   * it; false when `signal` aborted first (`send` was not called then). `waited` is told of
   * each tier at which the NACK could not go at once.
   */
  async admit(
    upstream: string,
    hashKey: bigint,
    signal: AbortSignal,
    send: Send,
    waited: (tier: AdmissionTier) => void,
  ): Promise<boolean> {
    const ip = this.ip(upstream);
    const flow = this.flow(upstream, hashKey);
    let called = false;
    const toUpstream = async (): Promise<void> => {
      let started = false;
      const rank = flow.waiting++;
      const turn = ip.add(
        async () => {
          started = true;
          flow.waiting--;
          called = true;
          const at = performance.now();
          await send();
          // The NACK left well after its turn: the bucket counts it again now, when it left.
          if (performance.now() - at > LATE_SEND_MS) ip.add(noop, { priority: 1 }).catch(noop);
        },
        { signal, priority: -rank },
      );
      if (!started) waited('ip');
      try {
        await turn;
      } finally {
        if (!started) flow.waiting--;
      }
    };
    try {
      const window = flow.window;
      if (window === undefined) {
        await toUpstream();
      } else {
        let passed = false;
        const entered = window.add(
          () => {
            passed = true;
            return toUpstream();
          },
          { signal },
        );
        if (!passed) waited('flow');
        await entered;
      }
    } catch {
      // aborted while waiting: p-queue rejects with the signal's reason
    }
    return called;
  }

  /** Stops every queue (the client is closing; waiting gaps were aborted by their signals). */
  close(): void {
    for (const q of this.upstreams.values()) q.clear();
    for (const f of this.flows.values()) f.window?.clear();
    this.flows.clear();
  }

  private ip(upstream: string): PQueue {
    let q = this.upstreams.get(upstream);
    if (q === undefined) {
      const { burst, perSecond } = this.rate;
      q = new PQueue({ intervalCap: burst, interval: (burst * 1000) / perSecond, strict: true });
      this.upstreams.set(upstream, q);
    }
    return q;
  }

  private flow(upstream: string, hashKey: bigint): FlowState {
    const key = flowKey(upstream, hashKey);
    let flow = this.flows.get(key);
    if (flow === undefined) {
      const { perFlow, flowWindowMs } = this.rate;
      // HashKey 0 (an unstamped frame) is exempt from the server's chain tier.
      const window =
        perFlow === false || hashKey === 0n
          ? undefined
          : new PQueue({ intervalCap: perFlow, interval: flowWindowMs, strict: true });
      flow = { window, waiting: 0 };
      this.flows.set(key, flow);
      if (this.flows.size % 1024 === 0) this.flows.purgeStale();
    }
    return flow;
  }
}

function flowKey(upstream: string, hashKey: bigint): string {
  return `${upstream}|${hashKey}`;
}

function noop(): void {}
