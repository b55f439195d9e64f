/** A job as the coalescing map sees it. */
interface Keyed {
  readonly hashKey: bigint;
  readonly seq: bigint;
}

/** A sequence number as a Map key: a small number when it fits (no bigint hashing). */
type SeqKey = number | bigint;
const SMALL_SEQ = 0x3fff_ffffn;

function seqKey(seq: bigint): SeqKey {
  return seq <= SMALL_SEQ ? Number(seq) : seq;
}

/** Empty flows kept for reuse before they are deleted. */
const IDLE_FLOWS = 64;

/** The jobs of one flow (one HashKey), by sequence number. */
export class Flow<J extends Keyed> {
  private readonly jobs = new Map<SeqKey, J>();
  constructor(readonly hashKey: bigint) {}

  has(seq: bigint): boolean {
    return this.jobs.has(seqKey(seq));
  }

  get(seq: bigint): J | undefined {
    return this.jobs.get(seqKey(seq));
  }

  add(job: J): void {
    this.jobs.set(seqKey(job.seq), job);
  }

  /** Forgets `job` if it is still the one registered for its gap. */
  remove(job: J): void {
    const key = seqKey(job.seq);
    if (this.jobs.get(key) === job) this.jobs.delete(key);
  }

  get size(): number {
    return this.jobs.size;
  }
}

/**
 * Gaps queued or being recovered, by flow then sequence number, so a gap asked for again
 * while it is in hand is coalesced instead of fetched twice. One Map lookup per enqueue
 * (by HashKey), then per-flow lookups by small numbers.
 */
export class ActiveGaps<J extends Keyed> {
  private readonly flows = new Map<bigint, Flow<J>>();

  /** The flow of `hashKey`, if it has any job (or was kept for reuse). */
  find(hashKey: bigint): Flow<J> | undefined {
    return this.flows.get(hashKey);
  }

  /** The flow of `hashKey`, made if needed. */
  flow(hashKey: bigint): Flow<J> {
    let flow = this.flows.get(hashKey);
    if (flow === undefined) {
      flow = new Flow(hashKey);
      this.flows.set(hashKey, flow);
    }
    return flow;
  }

  /** Forgets `job` (its gap may be enqueued again). */
  remove(job: J): void {
    const flow = this.flows.get(job.hashKey);
    if (flow === undefined) return;
    flow.remove(job);
    this.prune(flow);
  }

  /** Deletes an empty flow, keeping a few for reuse (one busy flow churns otherwise). */
  prune(flow: Flow<J>): void {
    if (flow.size === 0 && this.flows.size > IDLE_FLOWS) this.flows.delete(flow.hashKey);
  }
}
