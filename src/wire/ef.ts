/**
 * Transaction ids of frame payloads: BRC-12 raw transactions and BRC-30 Extended Format (EF)
 * transactions, as BRC-124 / BRC-128 frames carry them. Pure functions; hashing with
 * `node:crypto`; malformed input is a returned defect, never a throw.
 *
 * Layout facts (lightwebinc/bsv-multicast `docs/brc-128-ef-frame-format.md`,
 * lightwebinc/shard-common `frame/ef.go`): an EF payload is the 4-byte version, the 6-byte
 * marker `00 00 00 00 00 EF`, the inputs (each followed by the spent output's 8-byte satoshis
 * and its locking script), the outputs and the 4-byte locktime. Its TxID is the hash of the
 * same transaction without the marker and without those per-input extensions.
 * @module
 */
import * as crypto from 'node:crypto';

/** Offset of the EF marker inside a transaction: right after the 4-byte version. */
export const EF_MARKER_OFFSET = 4;

/** The BRC-30 Extended Format marker, found at {@link EF_MARKER_OFFSET}. */
export const EF_MARKER: readonly number[] = Object.freeze([0x00, 0x00, 0x00, 0x00, 0x00, 0xef]);

const VERSION_SIZE = 4;
const LOCKTIME_SIZE = 4;
const OUTPOINT_SIZE = 36; // previous TxID (32) and output index (4)
const SEQUENCE_SIZE = 4;
const SATOSHIS_SIZE = 8;
// Smallest encodings, with empty scripts: they bound the counts a payload can hold.
const MIN_EF_INPUT = OUTPOINT_SIZE + 1 + SEQUENCE_SIZE + SATOSHIS_SIZE + 1;
const MIN_OUTPUT = SATOSHIS_SIZE + 1;

/**
 * Why an EF payload has no TxID:
 * - `truncated`: a field runs past the end of the payload
 * - `varint-overflow`: a count or length does not fit 32 bits (no datagram holds that much)
 * - `too-many-inputs` / `too-many-outputs`: the count could not fit in the bytes that follow
 * - `trailing-bytes`: bytes left over after the locktime
 */
export type EfDefect =
  'truncated' | 'varint-overflow' | 'too-many-inputs' | 'too-many-outputs' | 'trailing-bytes';

/** A transaction's TxID, or why an EF payload has none. Raw transactions always have one. */
export type TxIdResult =
  | {
      /** The payload yielded a TxID. */
      readonly ok: true;
      /** SHA256d of the raw transaction, internal byte order (as frames carry it at 8..40). */
      readonly txId: Buffer;
    }
  | {
      /** The payload is malformed EF. */
      readonly ok: false;
      /** What is wrong with it. */
      readonly defect: EfDefect;
    };

/**
 * Whether `tx` is a BRC-30 Extended Format transaction: at least 10 bytes with
 * `00 00 00 00 00 EF` at bytes 4..10. Anything else is treated as a BRC-12 raw transaction.
 *
 * @example
 * ```ts
 * const kind = isExtendedFormat(payload) ? 'ef' : 'raw';
 * ```
 */
export function isExtendedFormat(tx: Uint8Array): boolean {
  if (tx.length < EF_MARKER_OFFSET + EF_MARKER.length) return false;
  for (let i = 0; i < EF_MARKER.length; i++) {
    if (tx[EF_MARKER_OFFSET + i] !== EF_MARKER[i]) return false;
  }
  return true;
}

// crypto.hash hashes in one call, about twice as fast as a createHash object on
// transaction-sized inputs (bench/verify.ts); Node 20 releases before 20.12 lack it.
// Digests come back as latin1 ('binary') strings (one byte per character, on the V8 heap): a 'buffer'
// digest has a backing store of its own, and two per verified frame measured twice the CPU
// of the whole check under load (BENCHMARKS.md). The 32 bytes go back in for the second
// pass through the shared Buffer pool.
const sha256: (data: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'binary')
    : (data) => crypto.createHash('sha256').update(data).digest('binary');

/** SHA256d of `data` as a latin1 string of 32 characters (see {@link sameDigest}). */
export function sha256dDigest(data: Uint8Array): string {
  return sha256(Buffer.from(sha256(data), 'latin1'));
}

/** True when the 32 bytes of `bytes` at `at` are `digest` (a latin1 digest string). */
export function sameDigest(digest: string, bytes: Uint8Array, at: number): boolean {
  if (at + digest.length > bytes.length) return false;
  for (let i = 0; i < digest.length; i++) if (digest.charCodeAt(i) !== bytes[at + i]) return false;
  return true;
}

/** SHA256d (SHA-256 applied twice) of `data`: how transactions and BEEF objects are named. */
export function sha256d(data: Uint8Array): Buffer {
  return Buffer.from(sha256dDigest(data), 'latin1');
}

/**
 * The TxID of a transaction in either serialisation: SHA256d of a raw transaction, or of the
 * raw form of an EF transaction (EF and raw forms of one transaction share a TxID).
 * Never throws; work and memory are bounded by the payload's length.
 *
 * @example
 * ```ts
 * const r = transactionId(payload);
 * if (r.ok && r.txId.equals(frame.subarray(8, 40))) accept(frame);
 * ```
 */
export function transactionId(tx: Uint8Array): TxIdResult {
  const digest = txIdDigest(tx);
  if (isDefect(digest)) return { ok: false, defect: digest };
  return { ok: true, txId: Buffer.from(digest, 'latin1') };
}

/**
 * {@link transactionId} as a latin1 digest string (see {@link sameDigest}), or the
 * {@link EfDefect} of a malformed EF payload: tell them apart with {@link isDefect}.
 */
export function txIdDigest(tx: Uint8Array): string {
  const raw = isExtendedFormat(tx) ? rawTransaction(tx) : tx;
  return typeof raw === 'string' ? raw : sha256dDigest(raw);
}

const DEFECTS: ReadonlySet<string> = new Set<EfDefect>([
  'truncated',
  'varint-overflow',
  'too-many-inputs',
  'too-many-outputs',
  'trailing-bytes',
]);

/** True for an {@link EfDefect} (a 32-character digest is never one). */
export function isDefect(value: string): value is EfDefect {
  return value.length !== 32 && DEFECTS.has(value);
}

/**
 * The raw (BRC-12) serialisation of a transaction: an EF transaction loses its marker and each
 * input's satoshis and locking script, every other byte kept as it was; a raw transaction is
 * returned as a copy. Never throws.
 *
 * @returns the raw transaction, or the defect when `tx` is malformed EF.
 * @example
 * ```ts
 * const raw = rawTransaction(payload);
 * if (Buffer.isBuffer(raw)) forwardToRawOnlyConsumer(raw);
 * ```
 */
export function rawTransaction(tx: Uint8Array): Buffer | EfDefect {
  if (!isExtendedFormat(tx)) return Buffer.from(tx);
  const parts: Uint8Array[] = [];
  const defect = walkExtendedFormat(tx, (start, end) => parts.push(tx.subarray(start, end)));
  return defect ?? Buffer.concat(parts);
}

/**
 * Walks an EF transaction (marker already checked) and reports, in order, the byte ranges
 * `[start, end)` that make up its raw serialisation. Returns a defect on malformed input;
 * spans reported before a defect are then meaningless.
 */
function walkExtendedFormat(
  ef: Uint8Array,
  span: (start: number, end: number) => void,
): EfDefect | undefined {
  const end = ef.length;
  span(0, VERSION_SIZE);
  let at = EF_MARKER_OFFSET + EF_MARKER.length;
  // Runs of raw bytes are reported whole: from here up to the first input's extension.
  let runStart = at;

  const inputs = readVarInt(ef, at);
  if (typeof inputs === 'string') return inputs;
  at += varIntSize(ef[at]);
  if (inputs > (end - at) / MIN_EF_INPUT) return 'too-many-inputs';
  for (let i = 0; i < inputs; i++) {
    at += OUTPOINT_SIZE;
    const script = readVarInt(ef, at);
    if (typeof script === 'string') return script;
    at += varIntSize(ef[at]) + script + SEQUENCE_SIZE;
    if (at > end) return 'truncated';
    span(runStart, at);
    // The extension: the spent output's satoshis and locking script, not part of the TxID.
    at += SATOSHIS_SIZE;
    const locking = readVarInt(ef, at);
    if (typeof locking === 'string') return locking;
    at += varIntSize(ef[at]) + locking;
    if (at > end) return 'truncated';
    runStart = at;
  }

  const outputs = readVarInt(ef, at);
  if (typeof outputs === 'string') return outputs;
  at += varIntSize(ef[at]);
  if (outputs > (end - at) / MIN_OUTPUT) return 'too-many-outputs';
  for (let i = 0; i < outputs; i++) {
    at += SATOSHIS_SIZE;
    const script = readVarInt(ef, at);
    if (typeof script === 'string') return script;
    at += varIntSize(ef[at]) + script;
    if (at > end) return 'truncated';
  }

  at += LOCKTIME_SIZE;
  if (at > end) return 'truncated';
  if (at < end) return 'trailing-bytes';
  span(runStart, at);
  return undefined;
}

/** Encoded size of the Bitcoin CompactSize varint whose first byte is `first`. */
function varIntSize(first: number | undefined): number {
  if (first === undefined || first < 0xfd) return 1;
  return first === 0xfd ? 3 : first === 0xfe ? 5 : 9;
}

/**
 * Reads the CompactSize varint at `at` (little-endian after a 0xFD / 0xFE / 0xFF prefix).
 * Values of 2^32 and more are an overflow: no datagram is that large.
 */
function readVarInt(buf: Uint8Array, at: number): number | 'truncated' | 'varint-overflow' {
  const first = buf[at];
  if (first === undefined) return 'truncated';
  const size = varIntSize(first);
  if (at + size > buf.length) return 'truncated';
  if (size === 1) return first;
  const b = (i: number): number => buf[at + i] ?? 0;
  if (size === 3) return b(1) | (b(2) << 8);
  const low = (b(1) | (b(2) << 8) | (b(3) << 16) | (b(4) << 24)) >>> 0;
  if (size === 5) return low;
  return b(5) | b(6) | b(7) | b(8) ? 'varint-overflow' : low;
}
