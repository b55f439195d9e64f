import { isIP } from 'node:net';
import { SUBTREE_ID_SIZE, UINT64_MAX } from '../wire/constants.js';
import type { Requester } from './components.js';

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
  /**
   * The listener whose NACK missed (e.g. the `rinfo` of the host's NACK socket). With
   * `delivery.unicast` the recovered frame is sent to every requester of the gap.
   * @default undefined
   */
  requester?: Requester;
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
  return g.requester === undefined ? undefined : requesterProblem(g.requester);
}

function requesterProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) {
    return `gap.requester must be { address, port }, got ${value === null ? 'null' : typeof value}`;
  }
  const { address, port } = value as Record<string, unknown>;
  if (typeof address !== 'string' || isIP(address) === 0) {
    return `gap.requester.address must be an IPv4 or IPv6 address, got ${
      typeof address === 'string' ? JSON.stringify(address.slice(0, 64)) : typeof address
    }`;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    return `gap.requester.port must be an integer 1..65535, got ${
      typeof port === 'number' ? port : typeof port
    }`;
  }
  return undefined;
}

/**
 * Reads each field of `value` once into a plain Gap (copying `subtreeId`) and validates
 * that copy, so getters, proxies or later mutation cannot change a gap between its check
 * and its use. Returns the copy, or why it is unusable. Never throws.
 */
export function readGap(value: unknown): Gap | string {
  if (typeof value !== 'object' || value === null) return gapProblem(value) ?? 'not a gap';
  let copy: Record<string, unknown>;
  try {
    const g = value as Record<string, unknown>;
    const st = g.subtreeId;
    copy = {
      hashKey: g.hashKey,
      startSeq: g.startSeq,
      endSeq: g.endSeq,
      subtreeId: st instanceof Uint8Array ? copyId(st) : st,
      flags: g.flags,
      requester: copyRequester(g.requester),
    };
  } catch {
    return 'gap could not be read (a getter or proxy threw)';
  }
  return gapProblem(copy) ?? (copy as unknown as Gap);
}

/** A plain copy of a requester (`rinfo` carries more fields; a getter is read once). */
function copyRequester(r: unknown): unknown {
  if (typeof r !== 'object' || r === null) return r;
  const { address, port } = r as Record<string, unknown>;
  return { address, port };
}

/**
 * A private copy of a SubtreeID. An all-zero ID means "unset" on the wire and is encoded
 * the same as none, so it is dropped: nothing to copy, nothing held per queued gap.
 */
function copyId(id: Uint8Array): Uint8Array | undefined {
  if (id.length === SUBTREE_ID_SIZE && isZeroId(id)) return undefined;
  return new Uint8Array(id);
}

function isZeroId(id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false;
  return true;
}
