import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import PQueue from 'p-queue';
import { isProxied } from '../wire/nack.js';
import { fastCacheKey, proxiedNack } from '../wire/fast.js';
import type { Transport } from '../transport/transport.js';
import { UdpTransport } from '../transport/udp.js';
import { Deadlines } from '../transport/deadlines.js';
import type {
  Cache,
  Component,
  DedupCause,
  Deduper,
  DropReason,
  FailReason,
  Logger,
  Recorder,
  Retransmitter,
} from './components.js';
import type { ProxyClientEvents } from './events.js';
import { FailureMemory } from './failure-memory.js';
import { abortWalks, startWalk, type FetchContext, type FetchResult } from './fetch.js';
import { Fifo } from './fifo.js';
import { readGap, type Gap } from './gap.js';
import { guard, guardNow, toError, type Guarded } from './guard.js';
import { UpstreamHealth, type ReplyKind } from './health.js';
import { resolveOptions, type ProxyClientOptions, type ResolvedOptions } from './options.js';
import { Counters, total, type ProxyStats } from './stats.js';

/** One sequence number to recover. */
interface Job {
  readonly hashKey: bigint;
  readonly seq: bigint;
  readonly subtreeId: Uint8Array | undefined;
  readonly enqueuedAt: number;
}

/**
 * Jobs queued or in flight for one flow, by sequence number. Keyed per flow, not by a
 * 128-bit `hashKey << 64 | seq` bigint, so a lookup allocates nothing; the flow's hashKey
 * is shared by its jobs (decoded NACKs each carry their own bigint).
 */
class Flow {
  /** By {@link seqKey}. */
  readonly jobs = new Map<SeqKey, Job>();
  constructor(readonly hashKey: bigint) {}
}

/** A sequence number as a Map key: a small integer when it fits (hashed and compared
 * without touching a bigint), the bigint itself otherwise. Either way one key per value. */
type SeqKey = number | bigint;
const SMALL_SEQ = 0x3fff_ffffn;

function seqKey(seq: bigint): SeqKey {
  return seq <= SMALL_SEQ ? Number(seq) : seq;
}

/** A walk that produced a frame. */
type FrameResult = Extract<FetchResult, { kind: 'frame' }>;

/** Empty flows kept for reuse before they are deleted. */
const IDLE_FLOWS = 64;

/** The FailureMemory key of a gap. */
function failureKey(hashKey: bigint, seq: bigint): bigint {
  return (hashKey << 64n) | seq;
}

/** Options of {@link ProxyClient.close}. */
export interface CloseOptions {
  /**
   * Finish every queued and in-flight gap before closing (no new gaps are accepted).
   * Without it, in-flight attempts are aborted and queued gaps end as `failed('aborted')`.
   * @default false
   */
  drain?: boolean;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Wraps the host's logger so a throwing log call never breaks `enqueue()` or a job. */
function safeLogger(logger: Logger): Logger {
  const level =
    (name: keyof Logger) =>
    (obj: object, msg?: string): void => {
      try {
        if (msg === undefined) logger[name](obj);
        else logger[name](obj, msg);
      } catch {
        // A logger cannot report its own failure; the outcome events still go out.
      }
    };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}

/** The Recorder hooks, required and optional. */
type RecorderHook = keyof Recorder;
const now = (): number => performance.now();

function hex(n: bigint): string {
  return '0x' + n.toString(16);
}

/**
 * Recovers frames missing from a downstream retry endpoint's cache by sending Proxied NACKs
 * to upstream endpoints, then re-caches and retransmits what comes back.
 *
 * `enqueue()` never blocks and never throws; every accepted gap ends in exactly one
 * `recovered`, `failed` or `deduped` event, and every refused one in a `dropped` event.
 *
 * @example
 * ```ts
 * const cache = new MemoryCache();
 * const client = new ProxyClient({ upstreams: ['[::1]:9300'], cache, retransmitter });
 * server.on('message', (datagram) => {
 *   const gap = decodeNack(datagram);
 *   if (cache.retrieve(cacheKey(gap.hashKey, gap.startSeq)) === undefined) client.enqueue(gap);
 * });
 * client.on('recovered', (e) => console.log('filled', e.seq, 'from', e.upstream));
 * ```
 */
export class ProxyClient extends EventEmitter<ProxyClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly cache: Cache;
  private readonly retransmitter: Retransmitter;
  private readonly deduper: Deduper | undefined;
  private readonly recorder: Recorder | undefined;
  private readonly logger: Logger;
  /** A host logger was given (without one, log records are not even built). */
  private readonly logs: boolean;
  /** `maxRangeSpan` as a bigint, made once. */
  private readonly maxSpan: bigint;
  private readonly transport: Transport;
  private readonly ownsTransport: boolean;
  private readonly counters = new Counters();
  private readonly health: UpstreamHealth;
  private readonly failures: FailureMemory;
  private readonly waiting = new Fifo<Job>();
  /** Jobs queued or in flight, by flow then sequence number, for local coalescing. */
  private readonly active = new Map<bigint, Flow>();
  private readonly shutdown = new AbortController();
  private readonly fetchContext: FetchContext;
  /**
   * Worker lanes. p-queue bounds them to `workers`; a lane runs queued jobs back to back and
   * leaves the pool when the queue is empty, so p-queue sees one task per burst, not per job.
   */
  private readonly pool: PQueue;
  /** Lanes admitted to the pool (running a job, or about to take one). */
  private lanes = 0;
  /** Releases of the lanes running a job: any lane may be the one that leaves. */
  private readonly laneReleases: (() => void)[] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  /** @throws TypeError or RangeError naming the option and value when an option is invalid. */
  constructor(options: ProxyClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.cache = options.cache;
    this.retransmitter = options.retransmitter;
    this.deduper = options.deduper;
    this.recorder = options.recorder;
    this.logger = safeLogger(options.logger ?? SILENT);
    this.logs = options.logger !== undefined;
    this.maxSpan = BigInt(this.options.maxRangeSpan);
    // Attempts share the shutdown signal; a custom transport may listen on it per exchange.
    setMaxListeners(0, this.shutdown.signal);
    this.ownsTransport = options.transport === undefined;
    this.transport = options.transport ?? new UdpTransport();
    this.health = new UpstreamHealth(this.options.upstreams, this.options);
    this.pool = new PQueue({ concurrency: this.options.workers });
    this.failures = new FailureMemory(this.options.failureMemoryMs, this.options.failureMemorySize);
    this.fetchContext = {
      transport: this.transport,
      health: this.health,
      options: this.options,
      counters: this.counters,
      deadlines: new Deadlines(now),
      trustedTransport: Object.getPrototypeOf(this.transport) === UdpTransport.prototype,
      walked: (job, result) => this.walked(job as Job, result),
      now,
      onReply: (upstream, kind, hashKey, seq) => this.onReply(upstream, kind, hashKey, seq),
      onTransportFault: (err, upstream, hashKey, seq) =>
        this.fault('transport', 'exchange', err, { hashKey, seq, upstream }),
    };
  }

  /** Gaps waiting for a worker. */
  get size(): number {
    return this.waiting.length;
  }

  /** Gaps being recovered now. */
  get pending(): number {
    return this.running;
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Accepts a gap for asynchronous recovery. Never blocks and never throws.
   * A range (`endSeq > startSeq`) becomes one job per sequence number.
   *
   * @returns true when accepted (it will end in `recovered`, `failed` or `deduped` for each
   *   sequence number); false when refused, with a `dropped` event saying why.
   */
  enqueue(input: Gap): boolean {
    if (this.closing !== undefined) return this.drop('closed', input, 'the client is closed');
    // Validate and use one plain copy: a getter cannot answer differently after the check.
    const gap = readGap(input);
    if (typeof gap === 'string') return this.drop('invalid', input, gap);
    if (isProxied(gap.flags)) {
      return this.drop(
        'proxied',
        input,
        'a proxied NACK is served from the local cache and never proxied again',
      );
    }
    const first = gap.startSeq;
    const last = gap.endSeq ?? first;
    const span = last === first ? 1n : last - first + 1n;
    if (span > this.maxSpan) {
      return this.drop(
        'range-too-large',
        input,
        `range of ${span} sequence numbers exceeds maxRangeSpan ${this.options.maxRangeSpan}`,
      );
    }
    let flow = this.active.get(gap.hashKey);
    // Room = free waiting slots plus idle workers (a job for an idle worker never waits).
    const room =
      this.options.queueDepth + this.options.workers - this.running - this.waiting.length;
    if (span > 1n) {
      let fresh = 0;
      for (let s = first; s <= last; s++) if (flow?.jobs.has(seqKey(s)) !== true) fresh++;
      if (fresh > room) return this.queueFull(input);
    } else if (room <= 0 && flow?.jobs.has(seqKey(first)) !== true) {
      return this.queueFull(input);
    }
    if (flow === undefined) {
      flow = new Flow(gap.hashKey);
      this.active.set(gap.hashKey, flow);
    }
    const at = now();
    if (span === 1n) this.admit(flow, first, gap.subtreeId, at);
    else for (let s = first; s <= last; s++) this.admit(flow, s, gap.subtreeId, at);
    if (flow.jobs.size === 0 && this.active.size > IDLE_FLOWS) this.active.delete(flow.hashKey);
    if (this.recorder !== undefined) this.record('queueDepth', this.waiting.length);
    this.pump();
    return true;
  }

  /** Counters, queue state and upstream health. */
  stats(): ProxyStats {
    const c = this.counters;
    return {
      requests: c.requests,
      recovered: c.recovered,
      failed: { ...c.failed },
      failedTotal: total(c.failed),
      deduped: { ...c.deduped },
      dedupedTotal: total(c.deduped),
      dropped: { ...c.dropped },
      droppedTotal: total(c.dropped),
      errors: { ...c.errors },
      queued: this.waiting.length,
      inFlight: this.running,
      attempts: c.attempts,
      hedges: c.hedges,
      hedgeWins: c.hedgeWins,
      throttleHolds: c.throttleHolds,
      invalidFrames: c.invalidFrames,
      failureMemory: this.failures.size,
      upstreams: this.health.snapshot(),
      transport: this.transport.stats?.() ?? {},
    };
  }

  /** Resolves when no gap is queued or in flight. */
  onIdle(): Promise<void> {
    if (this.waiting.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops accepting gaps and releases every socket and timer. Without `drain`, in-flight
   * attempts are aborted and queued gaps end as `failed('aborted')`. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdownNow(options.drain === true);
    return this.closing;
  }

  private async shutdownNow(drain: boolean): Promise<void> {
    if (!drain) {
      for (const job of this.waiting.drain()) {
        this.deactivate(job);
        this.fail(job, 'aborted', 0);
      }
      this.shutdown.abort();
      abortWalks(this.fetchContext);
      this.checkIdle();
    }
    await this.onIdle();
    if (this.ownsTransport && this.transport.close !== undefined) {
      const transport = this.transport;
      const closed = await guard('transport.close', this.options.componentTimeoutMs, () =>
        transport.close?.(),
      );
      if (!closed.ok) this.fault('transport', 'close', closed.error, {});
    }
  }

  private admit(flow: Flow, seq: bigint, subtreeId: Uint8Array | undefined, at: number): void {
    const hashKey = flow.hashKey;
    this.counters.requests++;
    if (this.recorder !== undefined) this.record('proxyRequest');
    const key = seqKey(seq);
    if (flow.jobs.has(key)) {
      this.dedup(hashKey, seq, 'coalesced');
      return;
    }
    if (this.failures.size > 0 && this.failures.has(failureKey(hashKey, seq), at)) {
      this.fail({ hashKey, seq, subtreeId, enqueuedAt: at }, 'recent-failure', 0);
      return;
    }
    const job: Job = { hashKey, seq, subtreeId, enqueuedAt: at };
    flow.jobs.set(key, job);
    this.waiting.push(job);
  }

  /** True while `job` is the queued or running job for its gap. */
  private isActive(job: Job): boolean {
    return this.active.get(job.hashKey)?.jobs.get(seqKey(job.seq)) === job;
  }

  /** Forgets `job` for coalescing (its gap may be enqueued again). */
  private deactivate(job: Job): void {
    const flow = this.active.get(job.hashKey);
    const key = seqKey(job.seq);
    if (flow === undefined || flow.jobs.get(key) !== job) return;
    flow.jobs.delete(key);
    if (flow.jobs.size === 0 && this.active.size > IDLE_FLOWS) this.active.delete(job.hashKey);
  }

  /** Opens lanes (up to `workers`) for queued jobs. */
  private pump(): void {
    while (this.lanes < this.options.workers && this.lanes - this.running < this.waiting.length) {
      this.lanes++;
      void this.pool.add(() => new Promise<void>((release) => this.openLane(release)));
    }
  }

  /** A lane p-queue has started: takes the next job, or leaves at once if none is left. */
  private openLane(release: () => void): void {
    const job = this.waiting.shift();
    if (job === undefined) {
      this.lanes--;
      release();
      this.checkIdle();
      return;
    }
    this.laneReleases.push(release);
    this.running++;
    this.reportDepth();
    this.start(job);
  }

  /** A running job has its outcome: its lane takes the next job or leaves the pool. */
  private end(): void {
    this.running--;
    const job = this.waiting.shift();
    if (job !== undefined) {
      this.running++;
      this.reportDepth();
      this.start(job);
      return;
    }
    this.lanes--;
    this.laneReleases.pop()?.();
    this.checkIdle();
  }

  private reportDepth(): void {
    if (this.recorder?.queueDepth !== undefined) this.record('queueDepth', this.waiting.length);
  }

  private checkIdle(): void {
    if (this.waiting.length !== 0 || this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    this.emitSafe('idle');
  }

  /**
   * Starts one job. It reaches exactly one outcome, then calls `end()` once. Never throws.
   * No Promise or async frame per job on the common path: the walk calls `walked` back.
   */
  private start(job: Job): void {
    const started = now();
    if (this.deduper !== undefined) {
      void this.claimThenWalk(job, this.deduper, started);
      return;
    }
    try {
      this.walk(job, started);
    } catch (err) {
      this.crashed(job, err);
      this.end();
    }
  }

  private async claimThenWalk(job: Job, deduper: Deduper, started: number): Promise<void> {
    try {
      // Always a microtask hop, so a run of lost claims never recurses through end().
      if (!(await this.claim(job, deduper))) {
        this.end();
        return;
      }
      this.walk(job, started);
    } catch (err) {
      this.crashed(job, err);
      this.end();
    }
  }

  private walk(job: Job, started: number): void {
    if (this.shutdown.signal.aborted) {
      this.deactivate(job);
      this.fail(job, 'aborted', 0);
      this.end();
      return;
    }
    startWalk(
      this.fetchContext,
      job,
      job.hashKey,
      job.seq,
      proxiedNack(job.hashKey, job.seq, job.subtreeId),
      this.shutdown.signal,
      started + this.options.gapDeadlineMs,
    );
  }

  /** The walk for `job` ended: deliver the frame (or fail), then free the worker. */
  private walked(job: Job, result: FetchResult): void {
    let delivering: void | Promise<void> = undefined;
    try {
      delivering = this.deliver(job, result);
    } catch (err) {
      this.crashed(job, err);
    }
    if (delivering === undefined) {
      this.end();
      return;
    }
    delivering.then(
      () => this.end(),
      (err: unknown) => {
        this.crashed(job, err);
        this.end();
      },
    );
  }

  /** Only a bug in this library gets here; the gap still gets its one outcome. */
  private crashed(job: Job, err: unknown): void {
    this.fault('listener', 'run', err, { hashKey: job.hashKey, seq: job.seq });
    if (this.isActive(job)) {
      this.deactivate(job);
      this.fail(job, 'aborted', 0);
    }
  }

  /** Claims the gap with the deduper; false when it is held elsewhere (the job ended deduped). */
  private claim(job: Job, deduper: Deduper): boolean | Promise<boolean> {
    const o = this.options;
    const key = fastCacheKey(job.hashKey, job.seq);
    const claiming = guardNow('deduper.setNX', o.componentTimeoutMs, () =>
      deduper.setNX(key, '1', o.dedupWindowMs),
    );
    return claiming instanceof Promise
      ? claiming.then((claim) => this.claimed(job, claim))
      : this.claimed(job, claiming);
  }

  private claimed(job: Job, claim: Guarded<boolean>): boolean {
    if (!claim.ok) {
      // Availability over strictness: a deduper fault is reported and the job proceeds.
      this.fault('deduper', 'setNX', claim.error, { hashKey: job.hashKey, seq: job.seq });
      return true;
    }
    if (claim.value !== false) return true;
    this.deactivate(job);
    this.dedup(job.hashKey, job.seq, 'claim-lost');
    return false;
  }

  /** Ends the job from the walk's result: re-cache and retransmit a frame, or fail. */
  private deliver(job: Job, result: FetchResult): void | Promise<void> {
    if (result.kind !== 'frame') {
      if (result.kind === 'exhausted') {
        this.failures.remember(failureKey(job.hashKey, job.seq), now());
      }
      this.deactivate(job);
      this.fail(job, result.kind, result.attempts);
      return;
    }
    const o = this.options;
    const cache = this.cache;
    const key = fastCacheKey(job.hashKey, job.seq);
    const { frame } = result;
    const ttlMs = o.ttls[result.header.ttlClass];
    const storing = guardNow('cache.store', o.componentTimeoutMs, () =>
      cache.store(key, frame, ttlMs),
    );
    return storing instanceof Promise
      ? storing.then((stored) => this.stored(job, result, stored))
      : this.stored(job, result, storing);
  }

  private stored(job: Job, result: FrameResult, stored: Guarded<void>): void | Promise<void> {
    if (!stored.ok) {
      this.fault('cache', 'store', stored.error, {
        hashKey: job.hashKey,
        seq: job.seq,
        upstream: result.upstream,
      });
    }
    const retransmitter = this.retransmitter;
    const sending = guardNow('retransmitter.retransmit', this.options.componentTimeoutMs, () =>
      retransmitter.retransmit(result.frame, result.header.txId),
    );
    if (sending instanceof Promise)
      return sending.then((sent) => this.recovered(job, result, sent));
    this.recovered(job, result, sending);
  }

  private recovered(job: Job, result: FrameResult, sent: Guarded<void>): void {
    const { hashKey, seq } = job;
    const { upstream } = result;
    if (!sent.ok) this.fault('retransmitter', 'retransmit', sent.error, { hashKey, seq, upstream });
    this.deactivate(job);
    const latencyMs = now() - job.enqueuedAt;
    this.counters.recovered++;
    this.record('proxyRecovered');
    this.record('recoveryLatency', latencyMs);
    if (this.logs) {
      this.logger.debug(
        { hashKey: hex(hashKey), seq: seq.toString(), upstream, latencyMs },
        'gap recovered',
      );
    }
    if (this.listenerCount('recovered') > 0) {
      this.emitSafe('recovered', {
        hashKey,
        seq,
        upstream,
        frame: result.frame,
        attempts: result.attempts,
        latencyMs,
        hedged: result.hedged,
      });
    }
  }

  private onReply(upstream: string, kind: ReplyKind, hashKey: bigint, seq: bigint): void {
    this.record('upstreamReply', upstream, kind);
    if (kind !== 'frame' && this.logs) {
      this.logger.debug(
        { hashKey: hex(hashKey), seq: seq.toString(), upstream, reply: kind },
        'upstream reply',
      );
    }
  }

  private fail(job: Job, reason: FailReason, attempts: number): void {
    this.counters.failed[reason]++;
    this.record('proxyFailed', reason);
    const latencyMs = now() - job.enqueuedAt;
    if (this.logs) {
      this.logger.info(
        { hashKey: hex(job.hashKey), seq: job.seq.toString(), reason, attempts, latencyMs },
        'gap not recovered',
      );
    }
    if (this.listenerCount('failed') > 0) {
      this.emitSafe('failed', { hashKey: job.hashKey, seq: job.seq, reason, attempts, latencyMs });
    }
  }

  private dedup(hashKey: bigint, seq: bigint, cause: DedupCause): void {
    this.counters.deduped[cause]++;
    this.record('proxyInflightDedup');
    if (this.logs) {
      this.logger.debug({ hashKey: hex(hashKey), seq: seq.toString(), cause }, 'gap deduplicated');
    }
    if (this.listenerCount('deduped') > 0) this.emitSafe('deduped', { hashKey, seq, cause });
  }

  private queueFull(gap: unknown): false {
    this.counters.dropped['queue-full']++;
    if (this.recorder !== undefined) {
      this.record('proxyQueueDropped');
      if (this.recorder.proxyDropped !== undefined) this.record('proxyDropped', 'queue-full');
    }
    // The message and event are built only for someone who reads them.
    if (!this.logs && this.listenerCount('dropped') === 0) return false;
    return this.report(
      'queue-full',
      gap,
      `queue holds ${this.waiting.length} of ${this.options.queueDepth}`,
    );
  }

  private drop(reason: DropReason, gap: unknown, message: string): false {
    this.counters.dropped[reason]++;
    if (reason === 'queue-full') this.record('proxyQueueDropped');
    if (this.recorder?.proxyDropped !== undefined) this.record('proxyDropped', reason);
    return this.report(reason, gap, message);
  }

  /** Logs and emits one drop already counted. */
  private report(reason: DropReason, gap: unknown, message: string): false {
    if (this.logs) {
      let hashKey: string | undefined;
      let seq: string | undefined;
      try {
        const g = gap as Partial<Gap> | null;
        hashKey = typeof g?.hashKey === 'bigint' ? hex(g.hashKey) : undefined;
        seq = typeof g?.startSeq === 'bigint' ? g.startSeq.toString() : undefined;
      } catch {
        // a hostile getter: log without the gap's fields
      }
      this.logger.debug({ hashKey, seq, reason, message }, 'gap dropped');
    }
    if (this.listenerCount('dropped') > 0) this.emitSafe('dropped', { reason, message, gap });
    return false;
  }

  /** Calls a recorder hook if present; a throw or a rejection (async hook) is one fault. */
  private record(hook: RecorderHook, ...args: (string | number)[]): void {
    const r = this.recorder;
    const fn = (r as unknown as Record<string, unknown> | undefined)?.[hook];
    if (typeof fn !== 'function') return;
    try {
      const out: unknown = (fn as (...a: (string | number)[]) => unknown).apply(r, args);
      if (typeof (out as { then?: unknown } | null)?.then === 'function') {
        (out as Promise<unknown>).then(undefined, (err: unknown) =>
          this.fault('recorder', hook, err, {}),
        );
      }
    } catch (err) {
      this.fault('recorder', hook, err, {});
    }
  }

  private fault(
    component: Component,
    operation: string,
    err: unknown,
    where: { hashKey?: bigint; seq?: bigint; upstream?: string },
  ): void {
    const error = toError(err);
    this.counters.errors[component]++;
    this.logger.warn(
      {
        component,
        operation,
        err: error.message,
        hashKey: where.hashKey === undefined ? undefined : hex(where.hashKey),
        seq: where.seq?.toString(),
        upstream: where.upstream,
      },
      `${component}.${operation} failed`,
    );
    if (component !== 'listener') this.emitSafe('error', { component, operation, error, ...where });
  }

  /** Emits without letting a throwing listener break the job that emitted. */
  private emitSafe<K extends keyof ProxyClientEvents>(
    name: K,
    ...args: ProxyClientEvents[K]
  ): void {
    try {
      (this.emit as (n: K, ...a: ProxyClientEvents[K]) => boolean)(name, ...args);
    } catch (err) {
      this.counters.errors.listener++;
      this.logger.error({ event: name, err: toError(err).message }, 'event listener threw');
    }
  }
}
