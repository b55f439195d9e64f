import { EventEmitter } from 'eventemitter3';
import PQueue from 'p-queue';
import { FLAG_PROXIED } from '../wire/constants.js';
import { encodeNack, isProxied } from '../wire/nack.js';
import { cacheKey } from '../wire/key.js';
import type { Transport } from '../transport/transport.js';
import { UdpTransport } from '../transport/udp.js';
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
import { fetchFrame, type FetchContext } from './fetch.js';
import { Fifo } from './fifo.js';
import { gapProblem, type Gap } from './gap.js';
import { guard, toError } from './guard.js';
import { UpstreamHealth, type ReplyKind } from './health.js';
import { resolveOptions, type ProxyClientOptions, type ResolvedOptions } from './options.js';
import { Counters, total, type ProxyStats } from './stats.js';

/** One sequence number to recover. */
interface Job {
  readonly hashKey: bigint;
  readonly seq: bigint;
  readonly key: bigint;
  readonly subtreeId: Uint8Array | undefined;
  readonly enqueuedAt: number;
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
  private readonly transport: Transport;
  private readonly ownsTransport: boolean;
  private readonly counters = new Counters();
  private readonly health: UpstreamHealth;
  private readonly failures: FailureMemory;
  private readonly waiting = new Fifo<Job>();
  /** Jobs queued or in flight, by `hashKey << 64 | seq`, for local coalescing. */
  private readonly active = new Map<bigint, Job>();
  private readonly workers: PQueue;
  private readonly shutdown = new AbortController();
  private readonly fetchContext: FetchContext;
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
    this.logger = options.logger ?? SILENT;
    this.ownsTransport = options.transport === undefined;
    this.transport = options.transport ?? new UdpTransport();
    this.health = new UpstreamHealth(this.options.upstreams, this.options);
    this.failures = new FailureMemory(this.options.failureMemoryMs, this.options.failureMemorySize);
    this.workers = new PQueue({ concurrency: this.options.workers });
    this.fetchContext = {
      transport: this.transport,
      health: this.health,
      options: this.options,
      counters: this.counters,
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
  enqueue(gap: Gap): boolean {
    if (this.closing !== undefined) return this.drop('closed', gap, 'the client is closed');
    const problem = gapProblem(gap);
    if (problem !== undefined) return this.drop('invalid', gap, problem);
    if (isProxied(gap.flags)) {
      return this.drop(
        'proxied',
        gap,
        'a proxied NACK is served from the local cache and never proxied again',
      );
    }
    const first = gap.startSeq;
    const last = gap.endSeq ?? first;
    const span = last - first + 1n;
    if (span > BigInt(this.options.maxRangeSpan)) {
      return this.drop(
        'range-too-large',
        gap,
        `range of ${span} sequence numbers exceeds maxRangeSpan ${this.options.maxRangeSpan}`,
      );
    }
    const base = gap.hashKey << 64n;
    const at = now();
    // Room = free waiting slots plus idle workers (a job for an idle worker never waits).
    const room =
      this.options.queueDepth + this.options.workers - this.running - this.waiting.length;
    if (span > 1n) {
      let fresh = 0;
      for (let s = first; s <= last; s++) if (!this.active.has(base | s)) fresh++;
      if (fresh > room) return this.queueFull(gap);
    } else if (room <= 0 && !this.active.has(base | first)) {
      return this.queueFull(gap);
    }
    for (let s = first; s <= last; s++) this.admit(gap.hashKey, s, base | s, gap.subtreeId, at);
    this.recorder?.queueDepth?.(this.waiting.length);
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
        this.active.delete(job.key);
        this.fail(job, 'aborted', 0);
      }
      this.shutdown.abort();
      this.checkIdle();
    }
    await this.onIdle();
    await this.workers.onIdle();
    if (this.ownsTransport && this.transport.close !== undefined) {
      const transport = this.transport;
      const closed = await guard('transport.close', this.options.componentTimeoutMs, () =>
        transport.close?.(),
      );
      if (!closed.ok) this.fault('transport', 'close', closed.error, {});
    }
  }

  private admit(
    hashKey: bigint,
    seq: bigint,
    key: bigint,
    subtreeId: Uint8Array | undefined,
    at: number,
  ): void {
    this.counters.requests++;
    this.record('proxyRequest');
    if (this.active.has(key)) {
      this.dedup(hashKey, seq, 'coalesced');
      return;
    }
    if (this.failures.has(key, at)) {
      this.fail({ hashKey, seq, key, subtreeId, enqueuedAt: at }, 'recent-failure', 0);
      return;
    }
    const job: Job = { hashKey, seq, key, subtreeId, enqueuedAt: at };
    this.active.set(key, job);
    this.waiting.push(job);
  }

  private pump(): void {
    while (this.running < this.options.workers) {
      const job = this.waiting.shift();
      if (job === undefined) break;
      this.running++;
      void this.workers
        .add(() => this.run(job))
        .finally(() => {
          this.running--;
          this.pump();
          this.checkIdle();
        });
    }
  }

  private checkIdle(): void {
    if (this.waiting.length !== 0 || this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    this.emitSafe('idle');
  }

  /** Runs one job to exactly one outcome. Never rejects. */
  private async run(job: Job): Promise<void> {
    const { hashKey, seq } = job;
    const o = this.options;
    try {
      const started = now();
      const key = cacheKey(hashKey, seq);
      if (this.deduper !== undefined) {
        const deduper = this.deduper;
        const claim = await guard('deduper.setNX', o.componentTimeoutMs, () =>
          deduper.setNX(key, '1', o.dedupWindowMs),
        );
        if (!claim.ok) this.fault('deduper', 'setNX', claim.error, { hashKey, seq });
        else if (claim.value === false) {
          this.active.delete(job.key);
          this.dedup(hashKey, seq, 'claim-lost');
          return;
        }
      }
      if (this.shutdown.signal.aborted) {
        this.active.delete(job.key);
        this.fail(job, 'aborted', 0);
        return;
      }
      const nack = encodeNack({
        hashKey,
        startSeq: seq,
        endSeq: seq,
        subtreeId: job.subtreeId,
        flags: FLAG_PROXIED,
      });
      const result = await fetchFrame(
        this.fetchContext,
        hashKey,
        seq,
        nack,
        this.shutdown.signal,
        started + o.gapDeadlineMs,
      );
      if (result.kind !== 'frame') {
        if (result.kind === 'exhausted') this.failures.remember(job.key, now());
        this.active.delete(job.key);
        this.fail(job, result.kind, result.attempts);
        return;
      }
      const { frame, header, upstream } = result;
      const ttlMs = o.ttls[header.ttlClass];
      const cache = this.cache;
      const stored = await guard('cache.store', o.componentTimeoutMs, () =>
        cache.store(key, frame, ttlMs),
      );
      if (!stored.ok) this.fault('cache', 'store', stored.error, { hashKey, seq, upstream });
      const retransmitter = this.retransmitter;
      const sent = await guard('retransmitter.retransmit', o.componentTimeoutMs, () =>
        retransmitter.retransmit(frame, header.txId),
      );
      if (!sent.ok)
        this.fault('retransmitter', 'retransmit', sent.error, { hashKey, seq, upstream });
      this.active.delete(job.key);
      const latencyMs = now() - job.enqueuedAt;
      this.counters.recovered++;
      this.record('proxyRecovered');
      this.recorder?.recoveryLatency?.(latencyMs);
      this.logger.debug(
        { hashKey: hex(hashKey), seq: seq.toString(), upstream, latencyMs },
        'gap recovered',
      );
      this.emitSafe('recovered', {
        hashKey,
        seq,
        upstream,
        frame,
        attempts: result.attempts,
        latencyMs,
        hedged: result.hedged,
      });
    } catch (err) {
      // Only a bug in this library reaches here; the gap still gets its one outcome.
      this.fault('listener', 'run', err, { hashKey, seq });
      if (this.active.get(job.key) === job) {
        this.active.delete(job.key);
        this.fail(job, 'aborted', 0);
      }
    }
  }

  private onReply(upstream: string, kind: ReplyKind, hashKey: bigint, seq: bigint): void {
    if (this.recorder?.upstreamReply !== undefined) {
      try {
        this.recorder.upstreamReply(upstream, kind);
      } catch (err) {
        this.fault('recorder', 'upstreamReply', err, {});
      }
    }
    if (kind !== 'frame') {
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
    this.logger.info(
      { hashKey: hex(job.hashKey), seq: job.seq.toString(), reason, attempts, latencyMs },
      'gap not recovered',
    );
    this.emitSafe('failed', { hashKey: job.hashKey, seq: job.seq, reason, attempts, latencyMs });
  }

  private dedup(hashKey: bigint, seq: bigint, cause: DedupCause): void {
    this.counters.deduped[cause]++;
    this.record('proxyInflightDedup');
    this.logger.debug({ hashKey: hex(hashKey), seq: seq.toString(), cause }, 'gap deduplicated');
    this.emitSafe('deduped', { hashKey, seq, cause });
  }

  private queueFull(gap: unknown): false {
    return this.drop(
      'queue-full',
      gap,
      `queue holds ${this.waiting.length} of ${this.options.queueDepth}`,
    );
  }

  private drop(reason: DropReason, gap: unknown, message: string): false {
    this.counters.dropped[reason]++;
    if (reason === 'queue-full') this.record('proxyQueueDropped');
    if (this.recorder?.proxyDropped !== undefined) this.record('proxyDropped', reason);
    const g = gap as Partial<Gap> | null;
    const hashKey = typeof g?.hashKey === 'bigint' ? hex(g.hashKey) : undefined;
    const seq = typeof g?.startSeq === 'bigint' ? g.startSeq.toString() : undefined;
    this.logger.debug({ hashKey, seq, reason, message }, 'gap dropped');
    this.emitSafe('dropped', { reason, message, gap });
    return false;
  }

  private record(
    hook:
      | 'proxyRequest'
      | 'proxyRecovered'
      | 'proxyInflightDedup'
      | 'proxyQueueDropped'
      | 'proxyFailed'
      | 'proxyDropped',
    arg?: string,
  ): void {
    const r = this.recorder;
    if (r === undefined) return;
    try {
      if (hook === 'proxyFailed' || hook === 'proxyDropped') r[hook]?.(arg ?? '');
      else r[hook]();
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
