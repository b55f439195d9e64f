import { growingLru } from '../shared/growing-lru.js';

/** A claim this process won: what it wrote and when Redis confirmed it. */
interface WonClaim {
  value: string;
  px: number;
  /** `performance.now()` when the `SET … NX` reply arrived. */
  confirmedAt: number;
}

/** Most won claims remembered for release; beyond it the oldest are forgotten (and kept). */
const MAX_REMEMBERED = 100_000;

/**
 * Claims a RedisDeduper won, remembered until their window ends, so that `release` can tell
 * whether the claim in Redis is still ours. The claim value (`"1"`, the layout existing
 * endpoints use) cannot tell: every endpoint writes the same. Its remaining TTL can: a claim
 * re-made by anyone after ours vanished (Redis restarted, flushed or evicted it) carries more
 * time than ours can have left.
 */
export class WonClaims {
  private readonly claims = growingLru<string, WonClaim>(MAX_REMEMBERED);

  /** Remembers a claim Redis has just confirmed. */
  add(keyHex: string, value: string, px: number): void {
    this.claims.set(keyHex, { value, px, confirmedAt: performance.now() }, { ttl: px });
  }

  /**
   * Forgets the claim on `keyHex` and returns what `release` needs to check it in Redis, or
   * undefined when this process holds no live claim there (never won, already released, or
   * past its window).
   */
  take(keyHex: string): { value: string; maxPttl: number } | undefined {
    const claim = this.claims.get(keyHex);
    this.claims.delete(keyHex);
    if (claim === undefined) return undefined;
    const elapsed = performance.now() - claim.confirmedAt;
    const left = claim.px - elapsed;
    if (left <= 0) return undefined;
    // Redis set the expiry before its reply reached us, so our claim has at most `left` ms.
    // Slack: whole-millisecond rounding on both sides, and clocks differing by up to 0.1 %.
    return { value: claim.value, maxPttl: Math.ceil(left + 2 + elapsed / 1_000) };
  }
}

/**
 * Deletes KEYS[1] only while it holds ARGV[1] with an expiry of at most ARGV[2] ms: our own
 * claim. A key without expiry (PTTL -1) or with more time left was made by someone else.
 */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left < 0 or left > tonumber(ARGV[2]) then return 0 end
return redis.call('DEL', KEYS[1])
`;
