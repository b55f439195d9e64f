import { FrameVer } from '../../wire/constants.js';
import type { TokenBucketLimit, WindowLimit } from './options.js';
import type { RateLimitTier } from './records.js';

/**
 * One token bucket with the semantics of golang.org/x/time/rate, which the reference
 * server uses: it starts full, refills continuously (capped at `burst`), and a request
 * that finds less than one token is refused without spending anything.
 */
class TokenBucket {
  private tokens: number;
  private last: number;
  private burst: number;

  constructor(
    private readonly perSecond: number,
    burst: number,
    now: number,
  ) {
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    if (this.perSecond === Infinity) return true;
    // x/time/rate treats a zero rate apart: the burst is spent once and never comes back.
    if (this.perSecond === 0) {
      if (this.burst < 1) return false;
      this.burst--;
      return true;
    }
    const elapsed = Math.max(0, now - this.last);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A token bucket per key. */
class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly limit: TokenBucketLimit) {}

  take(key: string, now: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.limit.perSecond, this.limit.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }
}

/** Below this many keys a sliding-window map is never swept. */
const SWEEP_FLOOR = 10_000;

/** A sliding window per key: at most `max` admissions in any `windowMs`. */
class KeyedWindows {
  private readonly stamps = new Map<string, number[]>();
  private sweepAt = SWEEP_FLOOR;

  constructor(private readonly limit: WindowLimit) {}

  take(key: string, now: number): boolean {
    const cutoff = now - this.limit.windowMs;
    const live = (this.stamps.get(key) ?? []).filter((t) => t > cutoff);
    const allowed = live.length < this.limit.max;
    if (allowed) live.push(now);
    this.stamps.set(key, live);
    if (this.stamps.size >= this.sweepAt) this.sweep(cutoff);
    return allowed;
  }

  /** Forgets keys whose whole window has passed; they limit nothing any more. */
  private sweep(cutoff: number): void {
    for (const [key, stamps] of this.stamps) {
      if (stamps.every((t) => t <= cutoff)) this.stamps.delete(key);
    }
    this.sweepAt = Math.max(SWEEP_FLOOR, this.stamps.size * 2);
  }
}

/** The resolved tiers; `undefined` = off. */
export interface LimitSettings {
  ip?: TokenBucketLimit;
  sequence?: WindowLimit;
  chain?: WindowLimit;
  group?: TokenBucketLimit;
}

/** The four tiers of the reference server's limiter, with its keys and order. */
export class TieredLimiter {
  private readonly ip?: KeyedBuckets;
  private readonly sequence?: KeyedWindows;
  private readonly chain?: KeyedWindows;
  private readonly group?: KeyedBuckets;

  constructor(settings: LimitSettings) {
    if (settings.ip) this.ip = new KeyedBuckets(settings.ip);
    if (settings.sequence) this.sequence = new KeyedWindows(settings.sequence);
    if (settings.chain) this.chain = new KeyedWindows(settings.chain);
    if (settings.group) this.group = new KeyedBuckets(settings.group);
  }

  /** The tiers checked before the cache lookup; returns the one that drops the NACK. */
  beforeLookup(ip: string, hashKey: bigint, seq: bigint, now: number): RateLimitTier | undefined {
    if (this.ip && !this.ip.take(ip, now)) return 'ip';
    // Scoped to the flow, shared by every source (the newer server; older builds keyed it by SeqNum alone).
    if (this.sequence && !this.sequence.take(`${hashKey}:${seq}`, now)) return 'sequence';
    // HashKey 0 (an unstamped frame) skips the chain tier.
    if (this.chain && hashKey !== 0n && !this.chain.take(`${ip}/${hashKey}`, now)) return 'chain';
    return undefined;
  }

  /** The group tier, checked on a cache hit only. */
  allowGroup(ip: string, group: number, now: number): boolean {
    return this.group === undefined || this.group.take(`${ip}/${group}`, now);
  }
}

/** First index of the BEEF object plane (domain 1 << 12), at `BEEF_SHARD_BITS` 0. */
const BEEF_PLANE = 0x1000;

/** The shard group the server charges a held frame to, for the group tier. */
export function groupOf(frame: Uint8Array, shardBits: number): number {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame[6] === FrameVer.Bundle && frame.length >= 58) return view.getUint16(56);
  if (frame[6] === FrameVer.Beef && frame.length >= 88) return BEEF_PLANE;
  const prefix = frame.length >= 12 ? view.getUint32(8) : 0;
  return prefix >>> (32 - shardBits);
}
