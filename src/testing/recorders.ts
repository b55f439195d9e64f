import type {
  AdmissionTier,
  Cache,
  Component,
  Deduper,
  Recorder,
  Requester,
  Retransmitter,
  UpstreamState,
} from '../client/components.js';
import { decodeFrameHeader } from '../wire/frame.js';

/**
 * How a recording fake misbehaves on its next calls: `throw` synchronously, `reject`,
 * or `hang` (a Promise that never settles, to exercise the client's component timeout).
 * `undefined` means it works.
 */
export type Fault = 'throw' | 'reject' | 'hang' | undefined;

function misbehave(fault: Fault, what: string): Promise<never> | undefined {
  if (fault === 'throw') throw new Error(`${what}: injected throw`);
  if (fault === 'reject') return Promise.reject(new Error(`${what}: injected rejection`));
  if (fault === 'hang') return new Promise<never>(() => undefined);
  return undefined;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** A store call recorded by {@link RecordingCache}. */
export interface StoredFrame {
  /** Cache key as lower-case hex (`HashKey ∥ SeqNum`, 32 digits). */
  key: string;
  /** The frame as stored. */
  frame: Uint8Array;
  /** The TTL the client chose for the frame's class, in ms. */
  ttlMs: number;
}

/**
 * A {@link Cache} that records every `store` call and can be told to fail. It also answers
 * `retrieve`, so a host's NACK handler under test can read what the client stored.
 * TTLs are recorded, not enforced.
 *
 * @example
 * ```ts
 * const cache = new RecordingCache();
 * // ... run the client ...
 * expect(cache.stored[0]).toMatchObject({ key: '0000000000000001000000000000002a', ttlMs: 60_000 });
 * cache.fault = 'hang'; // the next stores never settle
 * ```
 */
export class RecordingCache implements Cache {
  /** Every successful store, oldest first. */
  readonly stored: StoredFrame[] = [];
  /** Failure mode of the next calls. @default undefined (works) */
  fault: Fault;

  /** Records the call, or fails as {@link RecordingCache.fault} says. */
  store(key: Uint8Array, frame: Uint8Array, ttlMs: number): void | Promise<void> {
    const failure = misbehave(this.fault, 'cache.store');
    if (failure) return failure;
    this.stored.push({ key: hexOf(key), frame, ttlMs });
  }

  /** The most recent frame stored under the 16-byte `key`, like `MemoryCache.retrieve`. */
  retrieve(key: Uint8Array): Uint8Array | undefined {
    return this.get(hexOf(key))?.frame;
  }

  /** The most recent store under `keyHex` (see {@link StoredFrame.key}). */
  get(keyHex: string): StoredFrame | undefined {
    for (let i = this.stored.length - 1; i >= 0; i--) {
      const s = this.stored[i];
      if (s?.key === keyHex) return s;
    }
    return undefined;
  }
}

/** A retransmit call recorded by {@link RecordingRetransmitter}. */
export interface RetransmittedFrame {
  /** The frame, verbatim. */
  frame: Uint8Array;
  /** The `txId` argument (a copy). */
  txId: Uint8Array;
  /** HashKey read from the frame. */
  hashKey: bigint;
  /** SeqNum read from the frame. */
  seq: bigint;
}

/**
 * A {@link Retransmitter} that records every frame and can be told to fail.
 *
 * @example
 * ```ts
 * const retransmitter = new RecordingRetransmitter();
 * // ... run the client ...
 * expect(retransmitter.frames.map((f) => f.seq)).toEqual([42n]);
 * ```
 */
export class RecordingRetransmitter implements Retransmitter {
  /** Every successful retransmit, oldest first. */
  readonly frames: RetransmittedFrame[] = [];
  /** Failure mode of the next calls. @default undefined (works) */
  fault: Fault;

  /** Records the call, or fails as {@link RecordingRetransmitter.fault} says. */
  retransmit(frame: Uint8Array, txId: Uint8Array): void | Promise<void> {
    const failure = misbehave(this.fault, 'retransmitter.retransmit');
    if (failure) return failure;
    const h = decodeFrameHeader(frame, false);
    this.frames.push({ frame, txId: Uint8Array.from(txId), hashKey: h.hashKey, seq: h.seq });
  }

  /** Every successful unicast delivery (`delivery.unicast`), oldest first. */
  readonly unicast: UnicastFrame[] = [];

  /** Records the call, or fails as {@link RecordingRetransmitter.fault} says. */
  retransmitUnicast(frame: Uint8Array, requester: Requester): void | Promise<void> {
    const failure = misbehave(this.fault, 'retransmitter.retransmitUnicast');
    if (failure) return failure;
    const h = decodeFrameHeader(frame, false);
    const txId = Uint8Array.from(frame.subarray(8, 40));
    this.unicast.push({ frame, txId, hashKey: h.hashKey, seq: h.seq, requester: { ...requester } });
  }
}

/** A unicast delivery recorded by {@link RecordingRetransmitter}. */
export interface UnicastFrame extends RetransmittedFrame {
  /** The listener the frame was sent to. */
  requester: Requester;
}

/** A health change recorded by {@link RecordingRecorder}. */
export interface RecordedUpstreamState {
  /** The upstream as configured. */
  upstream: string;
  /** Its new state. */
  state: UpstreamState;
}

/** A claim attempt recorded by {@link RecordingDeduper}. */
export interface DedupClaim {
  /** Claimed key as lower-case hex (`HashKey ∥ SeqNum`). */
  key: string;
  /** The value the client claimed with. */
  value: string;
  /** The claim's lifetime the client asked for (its `dedupWindowMs`). */
  ttlMs: number;
  /** True when this call won the claim. */
  won: boolean;
}

/**
 * A {@link Deduper} over a Set, recording every claim attempt; it can fail. Claims never
 * expire on their own: call {@link RecordingDeduper.expire} to end the window.
 *
 * @example
 * ```ts
 * const deduper = new RecordingDeduper();
 * deduper.claim('0000000000000001000000000000002a'); // a sibling endpoint got there first
 * client.enqueue({ hashKey: 1n, startSeq: 42n }); // ends as `deduped` (claim-lost)
 * ```
 */
export class RecordingDeduper implements Deduper {
  /** Every claim attempt that did not fail, oldest first. */
  readonly claims: DedupClaim[] = [];
  /** Keys (hex) whose claim the client released, oldest first. */
  readonly released: string[] = [];
  private readonly held = new Set<string>();
  /** Failure mode of the next calls. @default undefined (works) */
  fault: Fault;

  /** Claims `key` unless held; records the attempt, or fails as {@link RecordingDeduper.fault} says. */
  setNX(key: Uint8Array, value: string, ttlMs: number): boolean | Promise<boolean> {
    const failure = misbehave(this.fault, 'deduper.setNX');
    if (failure) return failure;
    const k = hexOf(key);
    const won = !this.held.has(k);
    if (won) this.held.add(k);
    this.claims.push({ key: k, value, ttlMs, won });
    return won;
  }

  /** Gives up a claim (the client calls it when a gap it claimed ended failed). */
  release(key: Uint8Array): void | Promise<void> {
    const failure = misbehave(this.fault, 'deduper.release');
    if (failure) return failure;
    const k = hexOf(key);
    this.held.delete(k);
    this.released.push(k);
  }

  /** Marks a key (hex) as claimed elsewhere, e.g. by a sibling endpoint. */
  claim(keyHex: string): void {
    this.held.add(keyHex);
  }

  /** Forgets every claim, as if the dedup window passed. */
  expire(): void {
    this.held.clear();
  }
}

/** An `upstreamReply` call recorded by {@link RecordingRecorder}. */
export interface RecordedReply {
  /** The upstream that answered. */
  upstream: string;
  /** `frame`, `miss`, `throttled`, `timeout` or `error`. */
  kind: string;
}

/** Most entries kept in each list of {@link RecordingRecorder}, so long runs stay bounded. */
const LIST_LIMIT = 100_000;

/**
 * A {@link Recorder} that counts every hook call, optional hooks included.
 *
 * @example
 * ```ts
 * const recorder = new RecordingRecorder();
 * const client = new ProxyClient({ upstreams, cache, retransmitter, recorder, transport });
 * // ... run ...
 * expect(recorder).toMatchObject({ requests: 2, recovered: 1, failed: { exhausted: 1 } });
 * ```
 */
export class RecordingRecorder implements Recorder {
  /** `proxyRequest` calls. */
  requests = 0;
  /** `proxyRecovered` calls. */
  recovered = 0;
  /** `proxyFailed` calls by reason. */
  failed: Record<string, number> = {};
  /** `proxyInflightDedup` calls. */
  inflightDedup = 0;
  /** `proxyQueueDropped` calls. */
  queueDropped = 0;
  /** `proxyDropped` calls by reason. */
  dropped: Record<string, number> = {};
  /** `recoveryLatency` values, in ms (first 100,000). */
  latencies: number[] = [];
  /** `queueDepth` values (first 100,000). */
  queueDepths: number[] = [];
  /** `upstreamReply` calls (first 100,000). */
  replies: RecordedReply[] = [];
  /** `paced` calls: the upstream of each NACK that waited for pacing (first 100,000). */
  pacedUpstreams: string[] = [];
  /** `invalidFrame` calls: the reason of each refused frame (first 100,000). */
  invalidFrames: string[] = [];
  /** `paced` calls by tier (`ip`, `flow`). */
  pacedTiers: Record<string, number> = {};
  /** `upstreamState` calls: each health change, oldest first (first 100,000). */
  upstreamStates: RecordedUpstreamState[] = [];
  /** `componentError` calls by component. */
  componentErrors: Record<string, number> = {};
  /** `hedge` calls. */
  hedges = 0;
  /** The last `inflight` value: gaps in flight. */
  inflightNow = 0;
  /** `unicastRetransmit` calls. */
  unicastRetransmits = 0;

  /** Counts a request. */
  proxyRequest(): void {
    this.requests++;
  }
  /** Counts a recovery. */
  proxyRecovered(): void {
    this.recovered++;
  }
  /** Counts a failure by reason. */
  proxyFailed(reason: string): void {
    this.failed[reason] = (this.failed[reason] ?? 0) + 1;
  }
  /** Counts a deduplicated gap. */
  proxyInflightDedup(): void {
    this.inflightDedup++;
  }
  /** Counts a queue-full drop. */
  proxyQueueDropped(): void {
    this.queueDropped++;
  }
  /** Counts a refused enqueue by reason. */
  proxyDropped(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }
  /** Keeps a recovery latency. */
  recoveryLatency(ms: number): void {
    if (this.latencies.length < LIST_LIMIT) this.latencies.push(ms);
  }
  /** Keeps a queue depth. */
  queueDepth(depth: number): void {
    if (this.queueDepths.length < LIST_LIMIT) this.queueDepths.push(depth);
  }
  /** Keeps an upstream reply. */
  upstreamReply(upstream: string, kind: string): void {
    if (this.replies.length < LIST_LIMIT) this.replies.push({ upstream, kind });
  }
  /** Keeps the upstream of a paced NACK and counts its tier. */
  paced(upstream: string, tier: AdmissionTier): void {
    if (this.pacedUpstreams.length < LIST_LIMIT) this.pacedUpstreams.push(upstream);
    this.pacedTiers[tier] = (this.pacedTiers[tier] ?? 0) + 1;
  }
  /** Keeps a health change. */
  upstreamState(upstream: string, state: UpstreamState): void {
    if (this.upstreamStates.length < LIST_LIMIT) this.upstreamStates.push({ upstream, state });
  }
  /** Counts a component fault. */
  componentError(component: Component): void {
    this.componentErrors[component] = (this.componentErrors[component] ?? 0) + 1;
  }
  /** Counts a hedge. */
  hedge(): void {
    this.hedges++;
  }
  /** Keeps the gaps in flight. */
  inflight(count: number): void {
    this.inflightNow = count;
  }
  /** Counts a unicast delivery. */
  unicastRetransmit(): void {
    this.unicastRetransmits++;
  }
  /** Keeps the reason of a refused frame. */
  invalidFrame(reason: string): void {
    if (this.invalidFrames.length < LIST_LIMIT) this.invalidFrames.push(reason);
  }
}
