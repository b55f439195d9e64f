import PQueue from 'p-queue';
import type { LRUCache } from 'lru-cache';
import { growingLru } from '../shared/growing-lru.js';
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

/** A NACK that leaves later than this after its turn takes a second turn when it leaves. */
const LATE_SEND_MS = 1;

/** Most flows whose windows are remembered at once; idle ones are forgotten first. */
const MAX_FLOWS = 100_000;

/** Runs when a NACK is admitted; resolves once the NACK has left (or will never leave). */
export type Send = () => Promise<void>;

/** Takes a worker for the NACK (true), or gives up (false: the gap's wait was ended). */
export type Acquire = () => boolean | Promise<boolean>;

/** One flow (HashKey) at one upstream. */
interface FlowState {
  /** One NACK of the flow at a time, within its window (`perFlow` per `flowWindowMs`). */
  readonly stage: PQueue;
  /** When its last NACK left the stage, for telling a window wait from a turn wait. */
  lastEnd: number;
}

/**
 * Admission of NACKs to upstreams, on p-queue, in three steps. (1) Per (upstream, flow) a
 * queue of concurrency 1 whose strict (sliding-window) interval lets `perFlow` NACKs through
 * per `flowWindowMs`: each flow has one NACK at a time in the next steps, so the upstream
 * serves its flows in turn and a busy flow never holds up the others. (2) A worker: waited
 * for holding none. (3) Per upstream a queue whose strict interval lets `burst` NACKs start
 * per `burst / perSecond` seconds; the NACK leaves on its turn. Only NACKs that hold a worker
 * take turns, so NACKs held up never bunch past the upstream's bucket, and one that leaves
 * well after its turn (a slow lookup) counts again when it leaves. Flow state lives in an
 * lru-cache and is forgotten once its window has passed: idle flows cost nothing.
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
    this.flows = growingLru<string, FlowState>(MAX_FLOWS, {
      ttl: (rate.perFlow === false ? 0 : rate.flowWindowMs) + gapDeadlineMs,
      updateAgeOnGet: true,
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
    const stage = this.flows.peek(flowKey(upstream, hashKey))?.stage;
    const ahead = stage === undefined ? 0 : stage.size;
    let ms = 0;
    // While the upstream has tokens, NACKs ahead of this one leave at once.
    if (ip.size > 0 || ip.isRateLimited) ms = (ahead + 1) * (ip.size + 1) * this.paceMs;
    if (ahead > 0 && stage?.isRateLimited === true) ms += this.rate.flowWindowMs;
    return ms;
  }

  /**
   * Once `upstream` admits one more NACK of `hashKey` and `acquire` gave it a worker, calls
   * `send` and resolves true after it; false when `signal` aborted or `acquire` gave up first
   * (`send` was not called then). `waited` is told of each tier at which the NACK waited
   * (`flow`: its window was full; `ip`: the upstream's bucket), `held` when it waits behind
   * its flow at all.
   */
  async admit(
    upstream: string,
    hashKey: bigint,
    signal: AbortSignal,
    acquire: Acquire,
    send: Send,
    waited: (tier: AdmissionTier) => void,
    /** The NACK could not enter its flow's stage at once: the gap waits (holding no worker). */
    held: () => void,
  ): Promise<boolean> {
    const ip = this.ip(upstream);
    const flow = this.flow(upstream, hashKey);
    let called = false;
    const turn = (): Promise<void> => {
      called = true;
      return send();
    };
    const addedAt = performance.now();
    const predecessor = flow.stage.pending > 0;
    let entered = false;
    let reported = false;
    const stage = async (): Promise<void> => {
      entered = true;
      // Behind another NACK of its flow, a wait longer than that one's is the window's.
      if (
        predecessor &&
        !reported &&
        performance.now() - Math.max(addedAt, flow.lastEnd) > LATE_SEND_MS
      ) {
        waited('flow');
      }
      try {
        const worker = acquire();
        if (worker !== true && !(await worker)) return;
        let started = false;
        const turned = ip.add(
          () => {
            started = true;
            return turn();
          },
          { signal },
        );
        if (!started) waited('ip');
        await turned;
      } finally {
        flow.lastEnd = performance.now();
      }
    };
    try {
      const staged = flow.stage.add(stage, { signal });
      if (!entered) {
        held();
        // No NACK of the flow ahead, or its window full: the window holds this one.
        if (!predecessor || flow.stage.isRateLimited) {
          reported = true;
          waited('flow');
        }
      }
      await staged;
    } catch {
      // Aborted while waiting (p-queue rejects with the signal's reason): if the flow's
      // window was what held it, say so now.
      if (!entered && !reported && flow.stage.isRateLimited) waited('flow');
    }
    return called;
  }

  /**
   * A NACK admitted to `upstream` left `lateMs` after its turn (a lookup, a socket set-up):
   * the bucket counts it again now, when it left, so that NACKs held up together do not
   * reach the upstream as one burst past its own bucket.
   */
  left(upstream: string, lateMs: number): void {
    if (lateMs <= LATE_SEND_MS) return;
    this.upstreams.get(upstream)?.add(noop, { priority: 1 }).catch(noop);
  }

  /** Stops every queue (the client is closing; waiting gaps were aborted by their signals). */
  close(): void {
    for (const q of this.upstreams.values()) q.clear();
    for (const f of this.flows.values()) f.stage.clear();
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
      const stage =
        perFlow === false || hashKey === 0n
          ? new PQueue({ concurrency: 1 })
          : new PQueue({
              concurrency: 1,
              intervalCap: perFlow,
              interval: flowWindowMs,
              strict: true,
            });
      flow = { stage, lastEnd: -Infinity };
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
