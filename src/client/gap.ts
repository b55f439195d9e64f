import { SUBTREE_ID_SIZE, UINT64_MAX } from '../wire/constants.js';

/**
 * A missing frame, or a range of them, to recover. A decoded NACK (`decodeNack`) is a Gap.
 *
 * @example
 * ```ts
 * client.enqueue({ hashKey: 0x1234n, startSeq: 42n });
 * client.enqueue({ hashKey: 0x1234n, startSeq: 40n, endSeq: 47n }); // eight jobs
 * ```
 */
export interface Gap {
  /** Per-flow id (uint64). */
  hashKey: bigint;
  /** First missing sequence number, inclusive. */
  startSeq: bigint;
  /** Last missing sequence number, inclusive. @default startSeq */
  endSeq?: bigint;
  /** 32-byte SubtreeID, carried in the proxied NACK. @default zeros */
  subtreeId?: Uint8Array;
  /** NACK flags as received; a gap with `FLAG_PROXIED` is refused (one-hop bound). @default 0 */
  flags?: number;
}

function isU64(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= UINT64_MAX;
}

/** Why `value` is not a usable Gap, or undefined when it is. */
export function gapProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null)
    return `gap must be an object, got ${value === null ? 'null' : typeof value}`;
  const g = value as Record<string, unknown>;
  if (!isU64(g.hashKey)) return `gap.hashKey must be a uint64 bigint, got ${typeof g.hashKey}`;
  if (!isU64(g.startSeq)) return `gap.startSeq must be a uint64 bigint, got ${typeof g.startSeq}`;
  if (g.endSeq !== undefined) {
    if (!isU64(g.endSeq)) return `gap.endSeq must be a uint64 bigint, got ${typeof g.endSeq}`;
    if (g.endSeq < g.startSeq) return `gap.endSeq ${g.endSeq} is below gap.startSeq ${g.startSeq}`;
  }
  const st = g.subtreeId;
  if (st !== undefined && !(st instanceof Uint8Array && st.length === SUBTREE_ID_SIZE)) {
    return `gap.subtreeId must be ${SUBTREE_ID_SIZE} bytes`;
  }
  const f = g.flags;
  if (f !== undefined && !(typeof f === 'number' && Number.isInteger(f) && f >= 0 && f <= 0xff)) {
    return `gap.flags must be an integer 0..255`;
  }
  return undefined;
}
