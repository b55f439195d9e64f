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
  Requester,
  Retransmitter,
} from './components.js';
import type { LastReply, ProxyClientEvents } from './events.js';
import { Admission } from './admission.js';
import { ActiveGaps, type Flow } from './active-gaps.js';
import { contentCheck } from './content-check.js';
import { FailureMemory } from './failure-memory.js';
import { Fifo } from './fifo.js';
import { readGap, type Gap } from './gap.js';
import { UpstreamHealth } from './health.js';
import { Lease, Slots } from './slots.js';
import { resolveOptions, type ProxyClientOptions, type ResolvedOptions } from './options.js';
import { Reporter, hex } from './report.js';
import { Counters, total, type ProxyStats } from './stats.js';
import { UpstreamWalker, watchdogTick, type FetchResult } from './walk.js';
import { WalkSignals } from './walk-signal.js';
import { waitForFrame } from './shared-frame.js';

/** One sequence number to recover. */
interface Job {
  readonly hashKey: bigint;
  readonly seq: bigint;
  readonly subtreeId: Uint8Array | undefined;
  readonly enqueuedAt: number;
  /** Listeners to send the frame to by unicast (`delivery.unicast`), first asker first. */
  requesters: Requester[] | undefined;
}

/** How a job ended: a walk's result, or a claim held elsewhere. */
type Outcome =
  | FetchResult
  | { kind: 'claim-lost' }
  | { kind: FailReason; attempts: number; lastReply?: LastReply | undefined };

/** Most requesters served by unicast per gap; later ones get the frame from the cache. */
const MAX_REQUESTERS = 64;

const ABORTED: Outcome = { kind: 'aborted', attempts: 0 };
const DEADLINE: Outcome = { kind: 'deadline', attempts: 0 };
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
  private readonly admission: Admission | undefined;
  private readonly slots: Slots;
  private readonly walker: UpstreamWalker;
  private readonly failures: FailureMemory;
  /** `maxRangeSpan` as a bigint, made once. */
  private readonly maxSpan: bigint;
  private readonly queue = new Fifo<Job>();
  /** Jobs queued or in flight, for local coalescing. */
  private readonly active = new ActiveGaps<Job>();
  /** Aborted by `close()`: ends every wait of every gap in flight. */
  private readonly shutdown = new AbortController();
  /** Signals of this client's own waits (a fleet winner's frame), one shutdown listener for all. */
  private readonly walkSignals = new WalkSignals(this.shutdown.signal);
  /** Bounds calls into the cache, deduper and retransmitter (`componentTimeoutMs`). */
  private readonly watchdog: Watchdog;
  /** Jobs taken from the queue and not ended yet (working, or waiting without a worker). */
  private started = 0;
  /** Of those, jobs waiting without a worker (admission, THROTTLED hold, partition, a claim). */
  private waiting = 0;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  /**
   * Makes a client: validates every option (see {@link ProxyClientOptions}) and creates a
   * `UdpTransport` unless one is given. Nothing is sent until a gap is enqueued.
   *
   * @throws TypeError or RangeError, with a Node-style `code` (`ERR_INVALID_ARG_TYPE`,
   *   `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE`), naming the option and the value, when an
   *   option is invalid or unknown.
   */
  constructor(options: ProxyClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.cache = options.cache;
    this.retransmitter = options.retransmitter;
    this.deduper = options.deduper;
    this.ownsTransport = options.transport === undefined;
    this.transport = options.transport ?? new UdpTransport();
    const report = new Reporter(this, this.counters, options.recorder, options.logger);
    this.report = report;
    this.health = new UpstreamHealth(this.options.upstreams, this.options, (...change) =>
      report.upstream(...change),
    );
    const rate = this.options.nackRate;
    this.admission = rate === false ? undefined : new Admission(rate, this.options.gapDeadlineMs);
    this.slots = new Slots(this.options.workers, () => this.startNext(), undefined);
    this.failures = new FailureMemory(this.options.failureMemoryMs, this.options.failureMemorySize);
    this.maxSpan = BigInt(this.options.maxRangeSpan);
    this.watchdog = new Watchdog(watchdogTick(this.options.componentTimeoutMs));
    // Every wait of every gap listens on it; it is not a leak.
    setMaxListeners(0, this.shutdown.signal);
    this.walker = new UpstreamWalker(
      this.transport,
      this.health,
      this.admission,
      this.slots,
      this.options,
      this.counters,
      {
        reply: (upstream, kind, code, gap) => {
          report.record('upstreamReply', upstream, kind);
          if (kind !== 'frame' && report.logs) {
            report.debug(
              code === undefined
                ? { hashKey: hex(gap.hashKey), seq: gap.seq.toString(), upstream, reply: kind }
                : {
                    hashKey: hex(gap.hashKey),
                    seq: gap.seq.toString(),
                    upstream,
                    reply: kind,
                    code,
                  },
              'upstream reply',
            );
          }
        },
        paced: (upstream, tier) => report.record('paced', upstream, tier),
        hedge: () => report.record('hedge'),
        invalidFrame: (reason) => report.record('invalidFrame', reason),
        transportFault: (err, upstream, hashKey, seq) =>
          report.fault('transport', 'exchange', err, { hashKey, seq, upstream }),
        waiting: (delta) => this.parked(delta),
      },
      this.shutdown.signal,
      this.options.verifyContent ? contentCheck(this.counters, this.report) : undefined,
    );
  }

  /**
   * Gaps waiting: for a worker (queued), or for admission, a THROTTLED hold or an upstream
   * to come back (holding no worker).
   */
  get size(): number {
    return this.queue.length + this.waiting;
  }

  /** Gaps being worked on now (a NACK out, or claiming, storing and delivering). */
  get pending(): number {
    return this.started - this.waiting;
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
    // Room: free queue slots plus idle workers. Gaps waiting without a worker count against
    // it too, so that the gaps held at once stay bounded by queueDepth + workers.
    const room = this.options.queueDepth + this.options.workers - this.started - this.queue.length;
    let fresh = 0;
    for (let s = first; s <= last && fresh <= room; s++) if (known?.has(s) !== true) fresh++;
    if (fresh > room) return this.report.dropped('queue-full', input, this.queueFullMessage);
    const flow = known ?? this.active.flow(gap.hashKey);
    const at = now();
    const requester = this.options.delivery.unicast ? gap.requester : undefined;
    for (let s = first; s <= last; s++) this.admit(flow, s, gap.subtreeId, requester, at);
    this.active.prune(flow);
    this.report.record('queueDepth', this.queue.length);
    while (this.queue.length > 0 && this.slots.tryStart()) this.startNext();
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
      waiting: this.waiting,
      inFlight: this.pending,
      attempts: c.attempts,
      hedges: c.hedges,
      hedgeWins: c.hedgeWins,
      throttleHolds: c.throttleHolds,
      pacedWaits: c.pacedWaits,
      unicastDeliveries: c.unicastDeliveries,
      invalidFrames: { ...c.invalidFrames },
      failureMemory: this.failures.size,
      upstreams: this.health.snapshot(),
      transport: this.transport.stats?.() ?? {},
    };
  }

  /** Resolves when no gap is queued, waiting or in flight. */
  onIdle(): Promise<void> {
    if (this.queue.length === 0 && this.started === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops accepting gaps and releases every socket and timer: once it resolves, nothing of
   * the client keeps the process alive. Without `drain`, in-flight attempts and waits are
   * aborted and queued gaps end as `failed('aborted')`. Idempotent.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void client.close().then(() => transport.close()));
   * ```
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdownNow(options.drain === true);
    return this.closing;
  }

  /** Same as `close()`, for `await using client = new ProxyClient(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutdownNow(drain: boolean): Promise<void> {
    if (!drain) {
      for (const job of this.queue.drain()) this.finish(job, ABORTED);
      this.shutdown.abort();
      this.walker.abort();
      this.health.close();
      this.checkIdle();
    }
    await this.onIdle();
    // Attempts a hedge overtook may still be listening: end them too.
    this.shutdown.abort();
    this.walker.abort();
    this.health.close();
    this.admission?.close();
    if (this.ownsTransport && this.transport.close !== undefined) {
      const transport = this.transport;
      await this.call('transport', 'close', undefined, undefined, () => transport.close?.());
    }
    this.watchdog.close();
  }

  private admit(
    flow: Flow<Job>,
    seq: bigint,
    subtreeId: Uint8Array | undefined,
    requester: Requester | undefined,
    at: number,
  ) {
    const hashKey = flow.hashKey;
    this.report.requested();
    const same = flow.get(seq);
    if (same !== undefined) {
      if (requester !== undefined) addRequester(same, requester);
      this.report.deduped(hashKey, seq, 'coalesced');
      return;
    }
    const job: Job = {
      hashKey,
      seq,
      subtreeId,
      enqueuedAt: at,
      requesters: requester === undefined ? undefined : [requester],
    };
    if (this.failures.has(hashKey, seq)) {
      this.finish(job, { kind: 'recent-failure', attempts: 0 });
      return;
    }
    flow.add(job);
    this.queue.push(job);
  }

  /** Starts the next queued job on a worker permit already taken; false when none is queued. */
  private startNext(): boolean {
    const job = this.queue.shift();
    if (job === undefined) return false;
    this.started++;
    this.report.record('queueDepth', this.queue.length);
    this.report.record('inflight', this.pending);
    const lease = new Lease();
    lease.held = 1;
    void this.recover(job, lease);
    return true;
  }

  /** Jobs waiting without a worker changed by `delta`. */
  private parked(delta: 1 | -1): void {
    this.waiting += delta;
    this.report.record('inflight', this.pending);
  }

  /**
   * The whole life of one gap: claim it, ask the upstreams, re-cache and deliver the frame,
   * and report its one outcome. Faults of injected components are reported on the way and
   * never stop it. Its deadline counts from enqueue: a gap that waited in the queue past it
   * ends at once, unsent.
   */
  private async recover(job: Job, lease: Lease): Promise<void> {
    const { hashKey, seq } = job;
    let outcome: Outcome = ABORTED; // if this library itself throws below
    let claimed = false;
    const deadlineAt = job.enqueuedAt + this.options.gapDeadlineMs;
    try {
      if (this.shutdown.signal.aborted) return;
      if (now() >= deadlineAt) {
        outcome = DEADLINE;
        return;
      }
      const key = cacheKey(hashKey, seq);
      if (this.deduper !== undefined) {
        const deduper = this.deduper;
        const claiming = this.call('deduper', 'setNX', job, undefined, () =>
          deduper.setNX(key, '1', this.options.dedupWindowMs),
        );
        const claim = isThenable(claiming) ? await claiming : claiming;
        // A deduper fault is reported and the gap proceeds: availability over strictness.
        claimed = claim.status === 'ok' && claim.value !== false;
        if (claim.status === 'ok' && claim.value === false) {
          outcome =
            job.requesters === undefined ? CLAIM_LOST : await this.fromWinner(job, key, lease);
          return;
        }
      }
      const nack = encodeNack({
        hashKey,
        startSeq: seq,
        subtreeId: job.subtreeId,
        flags: FLAG_PROXIED,
      });
      const found = await this.walker.fetch({ hashKey, seq, nack, deadlineAt, lease });
      if (found.kind !== 'frame') {
        outcome = found;
        return;
      }
      const { upstream, frame, header } = found;
      const ttlMs = this.options.ttls[header.ttlClass];
      // Re-cache, then deliver. A component that answers synchronously is not awaited
      // (an await costs ~0.1 µs and ~180 B even on a plain value: BENCHMARKS.md).
      const stored = this.call('cache', 'store', job, upstream, () =>
        this.cache.store(key, frame, ttlMs),
      );
      if (isThenable(stored)) await stored;
      if (this.options.delivery.multicast) {
        const sent = this.call('retransmitter', 'retransmit', job, upstream, () =>
          this.retransmitter.retransmit(frame, header.txId),
        );
        if (isThenable(sent)) await sent;
      }
      if (job.requesters !== undefined) await this.unicast(job, frame, upstream);
      outcome = found;
    } catch (err) {
      this.report.fault('listener', 'recover', err, { hashKey, seq });
    } finally {
      if (claimed && outcome.kind !== 'frame') await this.releaseClaim(job);
      this.finish(job, outcome);
      this.slots.end(lease);
      this.ended();
    }
  }

  /** Sends `frame` by unicast to every requester of `job` (`delivery.unicast`). */
  private async unicast(job: Job, frame: Uint8Array, upstream: string | undefined): Promise<void> {
    const retransmitter = this.retransmitter;
    for (const requester of job.requesters ?? []) {
      const call = this.call('retransmitter', 'retransmitUnicast', job, upstream, () =>
        retransmitter.retransmitUnicast?.(frame, requester),
      );
      const sent = isThenable(call) ? await call : call;
      if (sent.status !== 'ok') continue;
      this.counters.unicastDeliveries++;
      this.report.record('unicastRetransmit');
    }
  }

  /**
   * Another relay of the fleet holds the claim and fetches the frame: wait (holding no
   * worker) until it has stored it in the shared store, then deliver to this relay's own
   * requesters, so the fleet sends one upstream NACK per lost frame in unicast mode too.
   */
  private async fromWinner(job: Job, key: Uint8Array, lease: Lease): Promise<Outcome> {
    const deadlineAt = job.enqueuedAt + this.options.gapDeadlineMs;
    const signal = this.walkSignals.create(deadlineAt - now());
    this.slots.rest(lease);
    this.parked(1);
    let frame: Uint8Array | undefined;
    try {
      frame = await waitForFrame(this.cache, key, signal.signal, deadlineAt - now(), {
        call: (fn) => this.call('cache', 'retrieve', job, undefined, fn),
        fault: (err) => this.report.fault('cache', 'waitFor', err, job),
      });
    } finally {
      signal.end();
      this.parked(-1);
    }
    if (frame === undefined) return this.shutdown.signal.aborted ? ABORTED : DEADLINE;
    // The frame is here: a worker to deliver it, waited for until close (not the deadline).
    const closing = this.walkSignals.create();
    try {
      const permit = this.slots.acquire(lease, closing.signal);
      if (permit !== true && !(await permit)) return ABORTED;
    } finally {
      closing.release();
    }
    await this.unicast(job, frame, undefined);
    return CLAIM_LOST;
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
    } else {
      const latencyMs = now() - job.enqueuedAt;
      if (outcome.kind === 'frame') {
        this.report.recovered(hashKey, seq, outcome, latencyMs);
      } else {
        if (outcome.kind === 'exhausted') this.failures.remember(hashKey, seq);
        const { kind, attempts, lastReply } = outcome;
        this.report.failed(hashKey, seq, kind, attempts, latencyMs, lastReply);
      }
    }
  }

  /** A started job has ended (called after its outcome and its permits are given back). */
  private ended(): void {
    this.started--;
    this.report.record('inflight', this.pending);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.queue.length !== 0 || this.started !== 0) return;
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

/** Adds `requester` to the job's unicast list, once, up to {@link MAX_REQUESTERS}. */
function addRequester(job: Job, requester: Requester): void {
  const list = (job.requesters ??= []);
  if (list.length >= MAX_REQUESTERS) return;
  for (const r of list) if (r.port === requester.port && r.address === requester.address) return;
  list.push(requester);
}
