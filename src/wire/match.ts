import { readU64 } from './bytes.js';
import { frameDefect, headerOf, type FrameHeader } from './frame.js';

/**
 * Why a datagram was not accepted as the requested frame:
 * `malformed` (not bytes, bad magic, short header, length or bundle members that disagree
 * with the header), `legacy` (a legacy frame, which has no HashKey/SeqNum), or `wrong-gap`
 * (a well-formed frame for another HashKey or SeqNum).
 */
export type FrameMismatch = 'malformed' | 'legacy' | 'wrong-gap';

/**
 * Checks that `datagram` is a well-formed frame (magic, full header, payload length equal to
 * the datagram's, as {@link decodeFrameHeader} with `exact`) carrying exactly `hashKey` and
 * `seq`. Returns the header, or why not. Never throws; builds nothing for a datagram it
 * refuses, so a transport can run it on everything it receives.
 *
 * @param datagram - what arrived
 * @param hashKey - the HashKey that was asked for
 * @param seq - the SeqNum that was asked for
 * @example
 * ```ts
 * const m = matchFrame(datagram, gap.hashKey, gap.startSeq);
 * if (typeof m === 'string') stats[m]++;
 * else await cache.store(cacheKey(m.hashKey, m.seq), datagram, ttls[m.ttlClass]);
 * ```
 */
export function matchFrame(
  datagram: Uint8Array,
  hashKey: bigint,
  seq: bigint,
): FrameHeader | FrameMismatch {
  return frameMismatch(datagram, hashKey, seq) ?? headerOf(datagram, hashKey, seq);
}

/**
 * The check of {@link matchFrame} without decoding the header: undefined when `datagram`
 * is the well-formed frame for `hashKey` and `seq`, or why not. Allocates nothing, for a
 * receive path that only needs the verdict.
 *
 * @example
 * ```ts
 * if (frameMismatch(datagram, gap.hashKey, gap.startSeq) === undefined) resolve(datagram);
 * ```
 */
export function frameMismatch(
  datagram: Uint8Array,
  hashKey: bigint,
  seq: bigint,
): FrameMismatch | undefined {
  const defect = frameDefect(datagram, true);
  if (defect !== undefined) return defect === 'legacy' ? 'legacy' : 'malformed';
  // Reading the datagram's fields as bigints and comparing costs less than splitting the
  // wanted bigints into 32-bit halves (bench/wire.ts), and === is false for any non-bigint.
  if (readU64(datagram, 40) !== hashKey || readU64(datagram, 48) !== seq) return 'wrong-gap';
  return undefined;
}
