import type { Cache, Deduper, Recorder, Retransmitter } from '../client/components.js';
import { decodeFrameHeader } from '../wire/frame.js';

/** How a recording fake misbehaves: `throw` synchronously, `reject`, or `hang` forever. */
export type Fault = 'throw' | 'reject' | 'hang' | undefined;

function misbehave(fault: Fault, what: string): Promise<never> | undefined {
  if (fault === 'throw') throw new Error(`${what}: injected throw`);
  if (fault === 'reject') return Promise.reject(new Error(`${what}: injected rejection`));
  if (fault === 'hang') return new Promise<never>(() => undefined);
  return undefined;
}

/** A store call recorded by {@link RecordingCache}. */
export interface StoredFrame {
  /** Cache key as hex (`HashKey ∥ SeqNum`). */
  key: string;
  frame: Uint8Array;
  ttlMs: number;
}

/**
 * A {@link Cache} that records every `store` call and can be told to fail.
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
  readonly stored: StoredFrame[] = [];
  /** Failure mode of the next calls. @default undefined (works) */
  fault: Fault;

  store(key: Uint8Array, frame: Uint8Array, ttlMs: number): void | Promise<void> {
    const failure = misbehave(this.fault, 'cache.store');
    if (failure) return failure;
    this.stored.push({ key: Buffer.from(key).toString('hex'), frame, ttlMs });
  }

  /** The most recent frame stored under `keyHex`. */
  get(keyHex: string): StoredFrame | undefined {
    for (let i = this.stored.length - 1; i >= 0; i--) if (this.stored[i]?.key === keyHex) return this.stored[i];
    return undefined;
  }
}

/** A retransmit call recorded by {@link RecordingRetransmitter}. */
export interface RetransmittedFrame {
  frame: Uint8Array;
  txId: Uint8Array;
  hashKey: bigint;
  seq: bigint;
}

/** A {@link Retransmitter} that records every frame and can be told to fail. */
export class RecordingRetransmitter implements Retransmitter {
  readonly frames: RetransmittedFrame[] = [];
  /** @default undefined (works) */
  fault: Fault;

  retransmit(frame: Uint8Array, txId: Uint8Array): void | Promise<void> {
    const failure = misbehave(this.fault, 'retransmitter.retransmit');
    if (failure) return failure;
    const h = decodeFrameHeader(frame, false);
    this.frames.push({ frame, txId: Uint8Array.from(txId), hashKey: h.hashKey, seq: h.seq });
  }
}

/** A {@link Deduper} over a Map (no expiry unless `expire()`), recording claims; can fail. */
export class RecordingDeduper implements Deduper {
  readonly claims: { key: string; value: string; ttlMs: number; won: boolean }[] = [];
  private readonly held = new Set<string>();
  /** @default undefined (works) */
  fault: Fault;

  setNX(key: Uint8Array, value: string, ttlMs: number): boolean | Promise<boolean> {
    const failure = misbehave(this.fault, 'deduper.setNX');
    if (failure) return failure;
    const k = Buffer.from(key).toString('hex');
    const won = !this.held.has(k);
    if (won) this.held.add(k);
    this.claims.push({ key: k, value, ttlMs, won });
    return won;
  }

  /** Marks a key as claimed elsewhere (e.g. by a sibling endpoint). */
  claim(keyHex: string): void {
    this.held.add(keyHex);
  }

  /** Forgets every claim, as if the window passed. */
  expire(): void {
    this.held.clear();
  }
}

/** A {@link Recorder} that counts every hook call. */
export class RecordingRecorder implements Recorder {
  requests = 0;
  recovered = 0;
  failed: Record<string, number> = {};
  inflightDedup = 0;
  queueDropped = 0;
  dropped: Record<string, number> = {};
  latencies: number[] = [];
  replies: { upstream: string; kind: string }[] = [];

  proxyRequest(): void {
    this.requests++;
  }
  proxyRecovered(): void {
    this.recovered++;
  }
  proxyFailed(reason: string): void {
    this.failed[reason] = (this.failed[reason] ?? 0) + 1;
  }
  proxyInflightDedup(): void {
    this.inflightDedup++;
  }
  proxyQueueDropped(): void {
    this.queueDropped++;
  }
  proxyDropped(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }
  recoveryLatency(ms: number): void {
    if (this.latencies.length < 100_000) this.latencies.push(ms);
  }
  upstreamReply(upstream: string, kind: string): void {
    if (this.replies.length < 100_000) this.replies.push({ upstream, kind });
  }
}
