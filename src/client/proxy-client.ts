import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import { encodeNack, isProxied } from '../wire/nack.js';
import { FLAG_PROXIED } from '../wire/constants.js';
import { cacheKey } from '../wire/key.js';
import type { Transport } from '../transport/transport.js';
import { UdpTransport } from '../transport/udp.js';
import { isThenable, toError, type Settled } from '../shared/within.js';
import { Watchdog } from '../shared/watchdog.js';
import type {
  Cache,
  Component,
  Deduper,
  FailReason,
  MaybePromise,
  Retransmitter,
} from './components.js';
import type { ProxyClientEvents } from './events.js';
import { ActiveGaps, type Flow } from './active-gaps.js';
import { contentCheck } from './content-check.js';
import { FailureMemory } from './failure-memory.js';
import { Fifo } from './fifo.js';
import { readGap, type Gap } from './gap.js';
import { UpstreamHealth } from './health.js';
import { resolveOptions, type ProxyClientOptions, type ResolvedOptions } from './options.js';
import { Pacer } from './pacing.js';
import { Reporter, hex } from './report.js';
import { Counters, total, type ProxyStats } from './stats.js';
import { UpstreamWalker, watchdogTick, type FetchResult } from './walk.js';

/** One sequence number to recover. */
interface Job {
  readonly hashKey: bigint;
  readonly seq: bigint;
  readonly subtreeId: Uint8Array | undefined;
  readonly enqueuedAt: number;
}

/** How a job ended: a walk's result, or a claim held elsewhere. */
type Outcome = FetchResult | { kind: 'claim-lost' } | { kind: FailReason; attempts: number };

const ABORTED: Outcome = { kind: 'aborted', attempts: 0 };
const SETTLED_VOID: Settled<undefined> = Object.freeze({ status: 'ok', value: undefined });
const CLAIM_LOST: Outcome = { kind: 'claim-lost' };

const now = (): number => performance.now();

/** Options of {@link ProxyClient.close}. */
export interface CloseOptions {
  /**
   * Finish every queued and in-flight gap before closing (no new gaps are accepted).
   * Without it, in-flight attempts are aborted and queued gaps end as `failed('aborted')`.
   * @default false
   */
  drain?: boolean;
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
 * const store = new MemoryCache();
 * const client = new ProxyClient({ upstreams: ['[::1]:9300'], cache: store, retransmitter });
 * server.on('message', (datagram, peer) => {
 *   let nack;
 *   try {
 *     nack = decodeNack(datagram);
 *   } catch {
 *     return; // not a NACK (WireError): ignore it, never crash on a stray datagram
 *   }
 *   void (async () => {
 *     const frame = await store.retrieve(cacheKey(nack.hashKey, nack.startSeq));
 *     if (frame !== undefined) {
 *       server.send(frame, peer.port, peer.address);
 *       server.send(encodeResponse({ kind: 'ack', seq: nack.startSeq }), peer.port, peer.address);
 *     } else {
 *       server.send(encodeResponse({ kind: 'miss' }), peer.port, peer.address);
 *       client.enqueue(nack); // recovered in the background; proxied NACKs are refused
 *     }
 *   })();
 * });
 * client.on('recovered', (e) => console.log('filled', e.seq, 'from', e.upstream));
 * ```
 */
export class ProxyClient extends EventEmitter<ProxyClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly cache: Cache;
  private readonly retransmitter: Retransmitter;
  private readonly deduper: Deduper | undefined;
  private readonly transport: Transport;
  private readonly ownsTransport: boolean;
  private readonly counters = new Counters();
  private readonly report: Reporter;
  private readonly health: UpstreamHealth;
  private readonly walker: UpstreamWalker;
  private readonly failures: FailureMemory;
  /** `maxRangeSpan` as a bigint, made once. */
  private readonly maxSpan: bigint;
  private readonly queue = new Fifo<Job>();
  /** Jobs queued or in flight, for local coalescing. */
  private readonly active = new ActiveGaps<Job>();
  /** Aborted by `close()`: ends every wait of every gap in flight. */
  private readonly shutdown = new AbortController();
  /** Bounds calls into the cache, deduper and retransmitter (`componentTimeoutMs`). */
  private readonly watchdog: Watchdog;
  /** Worker loops running (each runs queued jobs one after another). */
  private lanes = 0;
  /** Jobs being recovered now. */
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  /** @throws TypeError or RangeError naming the option and the value when an option is invalid. */
  constructor(options: ProxyClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.cache = options.cache;
    this.retransmitter = options.retransmitter;
    this.deduper = options.deduper;
    this.ownsTransport = options.transport === undefined;
    this.transport = options.transport ?? new UdpTransport();
    this.report = new Reporter(this, this.counters, options.recorder, options.logger);
    this.health = new UpstreamHealth(this.options.upstreams, this.options);
    this.failures = new FailureMemory(this.options.failureMemoryMs, this.options.failureMemorySize);
    this.maxSpan = BigInt(this.options.maxRangeSpan);
    this.watchdog = new Watchdog(watchdogTick(this.options.componentTimeoutMs));
    // Every wait of every gap listens on it; it is not a leak.
    setMaxListeners(0, this.shutdown.signal);
    const report = this.report;
    this.walker = new UpstreamWalker(
      this.transport,
      this.health,
      new Pacer(this.options.nackRate),
      this.options,
      this.counters,
      {
        reply: (upstream, kind, hashKey, seq) => {
          report.record('upstreamReply', upstream, kind);
          if (kind !== 'frame' && report.logs) {
            report.debug(
              { hashKey: hex(hashKey), seq: seq.toString(), upstream, reply: kind },
              'upstream reply',
            );
          }
        },
        paced: (upstream) => report.record('paced', upstream),
        invalidFrame: (reason) => report.record('invalidFrame', reason),
        transportFault: (err, upstream, hashKey, seq) =>
          report.fault('transport', 'exchange', err, { hashKey, seq, upstream }),
      },
      this.shutdown.signal,
      this.options.verifyContent ? contentCheck(this.counters, this.report) : undefined,
    );
  }

  /** Gaps waiting for a worker. */
  get size(): number {
    return this.queue.length;
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
    if (this.closing !== undefined)
      return this.report.dropped('closed', input, 'the client is closed');
    // Validate and use one plain copy: a getter cannot answer differently after the check.
    const gap = readGap(input);
    if (typeof gap === 'string') return this.report.dropped('invalid', input, gap);
    if (isProxied(gap.flags)) {
      return this.report.dropped(
        'proxied',
        input,
        'a proxied NACK is served from the local cache and never proxied again',
      );
    }
    const first = gap.startSeq;
    const last = gap.endSeq ?? first;
    const span = last - first + 1n;
    if (span > this.maxSpan) {
      return this.report.dropped(
        'range-too-large',
        input,
        `range of ${span} sequence numbers exceeds maxRangeSpan ${this.options.maxRangeSpan}`,
      );
    }
    const known = this.active.find(gap.hashKey);
    // Room: free queue slots plus idle workers (a job for an idle worker never waits).
    const room = this.options.queueDepth + this.options.workers - this.running - this.queue.length;
    let fresh = 0;
    for (let s = first; s <= last && fresh <= room; s++) if (known?.has(s) !== true) fresh++;
    if (fresh > room) return this.report.dropped('queue-full', input, this.queueFullMessage);
    const flow = known ?? this.active.flow(gap.hashKey);
    const at = now();
    for (let s = first; s <= last; s++) this.admit(flow, s, gap.subtreeId, at);
    this.active.prune(flow);
    this.report.record('queueDepth', this.queue.length);
    while (this.lanes < this.options.workers && this.queue.length > 0) {
      this.lanes++;
      void this.lane();
    }
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
      queued: this.queue.length,
      inFlight: this.running,
      attempts: c.attempts,
      hedges: c.hedges,
      hedgeWins: c.hedgeWins,
      throttleHolds: c.throttleHolds,
      pacedWaits: c.pacedWaits,
      invalidFrames: { ...c.invalidFrames },
      failureMemory: this.failures.size,
      upstreams: this.health.snapshot(),
      transport: this.transport.stats?.() ?? {},
    };
  }

  /** Resolves when no gap is queued or in flight. */
  onIdle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops accepting gaps and releases every socket and timer: once it resolves, nothing of
   * the client keeps the process alive. Without `drain`, in-flight attempts are aborted and
   * queued gaps end as `failed('aborted')`. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdownNow(options.drain === true);
    return this.closing;
  }

  private async shutdownNow(drain: boolean): Promise<void> {
    if (!drain) {
      for (const job of this.queue.drain()) this.finish(job, ABORTED);
      this.shutdown.abort();
      this.walker.abort();
      this.checkIdle();
    }
    await this.onIdle();
    // Attempts a hedge overtook may still be listening: end them too.
    this.shutdown.abort();
    this.walker.abort();
    if (this.ownsTransport && this.transport.close !== undefined) {
      const transport = this.transport;
      await this.call('transport', 'close', undefined, undefined, () => transport.close?.());
    }
    this.watchdog.close();
  }

  private admit(flow: Flow<Job>, seq: bigint, subtreeId: Uint8Array | undefined, at: number) {
    const hashKey = flow.hashKey;
    this.report.requested();
    if (flow.has(seq)) {
      this.report.deduped(hashKey, seq, 'coalesced');
      return;
    }
    const job: Job = { hashKey, seq, subtreeId, enqueuedAt: at };
    if (this.failures.size > 0 && this.failures.has((hashKey << 64n) | seq, at)) {
      this.finish(job, { kind: 'recent-failure', attempts: 0 });
      return;
    }
    flow.add(job);
    this.queue.push(job);
  }

  /** A worker: recovers queued jobs one after another until none is left. */
  private async lane(): Promise<void> {
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      this.running++;
      this.report.record('queueDepth', this.queue.length);
      await this.recover(job);
      this.running--;
    }
    this.lanes--;
    this.checkIdle();
  }

  /**
   * The whole life of one gap: claim it, ask the upstreams, re-cache and retransmit the
   * frame, and report its one outcome. Faults of injected components are reported on the
   * way and never stop it.
   */
  private async recover(job: Job): Promise<void> {
    const { hashKey, seq } = job;
    let outcome: Outcome = ABORTED; // if this library itself throws below
    let claimed = false;
    try {
      if (this.shutdown.signal.aborted) return;
      if (this.deduper !== undefined) {
        const deduper = this.deduper;
        const key = cacheKey(hashKey, seq);
        const claiming = this.call('deduper', 'setNX', job, undefined, () =>
          deduper.setNX(key, '1', this.options.dedupWindowMs),
        );
        const claim = isThenable(claiming) ? await claiming : claiming;
        // A deduper fault is reported and the gap proceeds: availability over strictness.
        claimed = claim.status === 'ok' && claim.value !== false;
        if (claim.status === 'ok' && claim.value === false) {
          outcome = CLAIM_LOST;
          return;
        }
      }
      const nack = encodeNack({
        hashKey,
        startSeq: seq,
        subtreeId: job.subtreeId,
        flags: FLAG_PROXIED,
      });
      const found = await this.walker.fetch({
        hashKey,
        seq,
        nack,
        deadlineAt: now() + this.options.gapDeadlineMs,
      });
      if (found.kind !== 'frame') {
        outcome = found;
        return;
      }
      const { upstream, frame, header } = found;
      const key = cacheKey(hashKey, seq);
      const ttlMs = this.options.ttls[header.ttlClass];
      // Re-cache, then retransmit. A component that answers synchronously is not awaited
      // (an await costs ~0.1 µs and ~180 B even on a plain value: BENCHMARKS.md).
      const stored = this.call('cache', 'store', job, upstream, () =>
        this.cache.store(key, frame, ttlMs),
      );
      if (isThenable(stored)) await stored;
      const sent = this.call('retransmitter', 'retransmit', job, upstream, () =>
        this.retransmitter.retransmit(frame, header.txId),
      );
      if (isThenable(sent)) await sent;
      outcome = found;
    } catch (err) {
      this.report.fault('listener', 'recover', err, { hashKey, seq });
    } finally {
      if (claimed && outcome.kind !== 'frame') await this.releaseClaim(job);
      this.finish(job, outcome);
    }
  }

  /**
   * A gap this client claimed ended without a frame: hand the claim back, so siblings and
   * later NACKs may try again after `failureMemoryMs` rather than the whole dedup window.
   */
  private async releaseClaim(job: Job): Promise<void> {
    const deduper = this.deduper;
    if (deduper?.release === undefined) return;
    const key = cacheKey(job.hashKey, job.seq);
    await this.call('deduper', 'release', job, undefined, () => deduper.release?.(key));
  }

  /** The one outcome of a job: forget it for coalescing, then report it. */
  private finish(job: Job, outcome: Outcome): void {
    this.active.remove(job);
    const { hashKey, seq } = job;
    if (outcome.kind === 'claim-lost') {
      this.report.deduped(hashKey, seq, 'claim-lost');
      return;
    }
    const latencyMs = now() - job.enqueuedAt;
    if (outcome.kind === 'frame') {
      this.report.recovered(hashKey, seq, outcome, latencyMs);
      return;
    }
    if (outcome.kind === 'exhausted') this.failures.remember((hashKey << 64n) | seq, now());
    this.report.failed(hashKey, seq, outcome.kind, outcome.attempts, latencyMs);
  }

  private checkIdle(): void {
    if (this.queue.length !== 0 || this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    this.report.emit('idle');
  }

  /**
   * Calls an injected component, bounded by `componentTimeoutMs`. A throw, a rejection or
   * a hang is reported as a fault; the caller gets how it ended and goes on. A component
   * that answers synchronously is not waited for (no Promise, no timer).
   */
  private call<T>(
    component: Component,
    operation: string,
    job: Job | undefined,
    upstream: string | undefined,
    fn: () => MaybePromise<T>,
  ): Settled<T> | Promise<Settled<T>> {
    let out: MaybePromise<T>;
    try {
      out = fn();
    } catch (err) {
      return this.failedCall(component, operation, job, upstream, {
        status: 'error',
        error: toError(err),
      });
    }
    if (!isThenable(out))
      return out === undefined ? (SETTLED_VOID as Settled<T>) : { status: 'ok', value: out };
    return this.watchdog
      .within(out, this.options.componentTimeoutMs)
      .then((s) =>
        s.status === 'ok' ? s : this.failedCall(component, operation, job, upstream, s),
      );
  }

  private failedCall<T>(
    component: Component,
    operation: string,
    job: Job | undefined,
    upstream: string | undefined,
    settled: Exclude<Settled<T>, { status: 'ok' }>,
  ): Settled<T> {
    const error =
      settled.status === 'error'
        ? settled.error
        : new Error(`did not settle within ${this.options.componentTimeoutMs} ms`);
    this.report.fault(component, operation, error, {
      hashKey: job?.hashKey,
      seq: job?.seq,
      upstream,
    });
    return settled;
  }

  private readonly queueFullMessage = (): string =>
    `queue holds ${this.queue.length} of ${this.options.queueDepth}`;
}
