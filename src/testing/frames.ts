import {
  BLOCK_HEADER_PAYLOAD_SIZE,
  BUNDLE_FLAG_TXIDS,
  BUNDLE_HEADER_SIZE,
  FRAGMENT_HEADER_SIZE,
  FRAGMENT_ORIGINAL_VER_OFFSET,
  FRAME_HEADER_SIZE,
  FrameVer,
  LEGACY_HEADER_SIZE,
  MAGIC,
  PROTO_VER,
  SUBTREE_ID_SIZE,
  TXID_SIZE,
  UINT64_MAX,
} from '../wire/constants.js';
import { sha256d, transactionId } from '../wire/ef.js';
import { beefObject, sampleTransaction, type SampleTransaction } from './transactions.js';

// BRC-142 bundle layout (lightwebinc/bsv-multicast docs/brc-142-coalescing-frame.md §2-§3):
// Flags at 7 (bit 0 = TxIDsPresent), SubtreeID at 8, HashKey 40, SeqNum 48, GroupIdx (uint16)
// 56, ShardBits 58, reserved 59, TxCount (uint16) 60, PayloadLen (uint32) 62, members from 66.
const BUNDLE_PAYLOAD_LENGTH_AT = 62;
const UINT16_MAX = 0xffff;
const DEFAULT_BUNDLE_MEMBERS = 3;

/**
 * Fields of a data frame built by {@link buildFrame}. By default the frame's content matches
 * its header, so frames pass `verifyFrameContent` (and a client with content verification on):
 * transaction frames carry a real-looking transaction and its TxID, BEEF frames a BEEF object
 * and its ContentID, bundles members with their TxIDs.
 */
export interface FrameSpec {
  /** Per-flow id (uint64). */
  hashKey: bigint;
  /** Sequence number (uint64). */
  seq: bigint;
  /**
   * Frame version; `FrameVer.Fragment` builds a 104-byte fragment header,
   * `FrameVer.Legacy` a 44-byte legacy header (no HashKey/SeqNum) and `0x08` a 66-byte
   * BRC-142 bundle (see {@link FrameSpec.members}). Any other byte builds a standard 92-byte
   * header with that version.
   * @default FrameVer.Tx
   */
  frameVer?: number;
  /**
   * For a fragment: the version of the frame it belongs to, written at byte 100
   * (`0x00` reads as `FrameVer.Tx`).
   * @default FrameVer.Tx
   */
  originalFrameVer?: number;
  /**
   * 32 bytes at offset 8, written verbatim: give it to build a frame whose content does not
   * match (a forged frame). Not allowed for a bundle, which has no TxID field.
   * @default the payload's id: for `Tx`, `Anchor` and `Legacy` frames its TxID (raw or EF),
   * for `Beef` SHA256d(payload) (the ContentID); for kinds that carry no payload hash
   * (fragment, block, subtree, unknown versions) {@link defaultTxId}.
   */
  txId?: Uint8Array;
  /** 32 bytes at offset 56 (offset 8 in a bundle). @default zeros */
  subtreeId?: Uint8Array;
  /**
   * Byte 7: reserved, a per-version message type, or a bundle's Flags.
   * @default 0; for a bundle, `0x01` (TxIDsPresent) when {@link FrameSpec.txIdsPresent}
   */
  msgType?: number;
  /**
   * Payload bytes: a raw or EF transaction for `Tx` / `Anchor`, a BEEF object for `Beef`,
   * anything for other kinds. A payload carrying the EF marker must be well-formed EF unless
   * `txId` is given. Not allowed for a bundle (give {@link FrameSpec.members}).
   * @default by version: for `Tx`, `Anchor` and `Legacy` the gap's {@link defaultTransaction}
   * (in EF with {@link FrameSpec.extendedFormat}); for `Beef` a BEEF object holding it; for
   * other kinds 16 bytes derived from seq.
   */
  payload?: Uint8Array;
  /**
   * Build default transactions (the payload, or default bundle members) in BRC-30 Extended
   * Format instead of raw. Their TxIDs do not change.
   * @default false
   */
  extendedFormat?: boolean;
  /**
   * A bundle's member transactions (raw or EF), in order.
   * @default three sample transactions derived from hashKey and seq
   */
  members?: readonly Uint8Array[];
  /**
   * A bundle carries each member's TxID (Flags bit 0), which makes it verifiable.
   * @default true
   */
  txIdsPresent?: boolean;
  /** A bundle's GroupIdx (uint16 at 56). @default 0 */
  groupIdx?: number;
  /** A bundle's ShardBits (byte 58; 0 = unset). @default 0 */
  shardBits?: number;
}

/**
 * Every frame version the wire format defines, for table-driven tests over all of them.
 *
 * @example
 * ```ts
 * it.each(FRAME_VERSIONS)('re-caches FrameVer %i with its class TTL', async (frameVer) => {
 *   transport.intercept(A).serve(buildFrame({ hashKey: 1n, seq: 2n, frameVer }));
 *   // ...
 * });
 * ```
 */
export const FRAME_VERSIONS: readonly number[] = Object.freeze([
  FrameVer.Legacy,
  FrameVer.Tx,
  FrameVer.Fragment,
  FrameVer.Block,
  FrameVer.Subtree,
  FrameVer.Anchor,
  FrameVer.BlockHeader,
  FrameVer.Bundle,
  FrameVer.Beef,
]);

/**
 * Builds a well-formed data frame of any version, for tests and emulators: BRC-124 and its
 * relatives, or a BRC-142 bundle for FrameVer `0x08`. The result is a fresh Buffer; the
 * datagram length always equals header + payload length, and unless `txId` is given the
 * content matches the header (see {@link FrameSpec}).
 *
 * @throws RangeError when `hashKey`/`seq` is not a uint64, `txId`/`subtreeId` is not 32
 * bytes, a bundle field is out of range, or a payload with the EF marker is malformed EF
 * (and no `txId` is given).
 * @example
 * ```ts
 * const tx = buildFrame({ hashKey: 7n, seq: 42n });
 * const ef = buildFrame({ hashKey: 7n, seq: 42n, extendedFormat: true }); // same TxID
 * const beef = buildFrame({ hashKey: 7n, seq: 43n, frameVer: FrameVer.Beef });
 * const bundle = buildFrame({ hashKey: 7n, seq: 44n, frameVer: 0x08 });
 * const part = buildFrame({
 *   hashKey: 7n, seq: 45n, frameVer: FrameVer.Fragment, originalFrameVer: FrameVer.Subtree,
 * });
 * const forged = buildFrame({ hashKey: 7n, seq: 46n, txId: Buffer.alloc(32) });
 * ```
 */
export function buildFrame(spec: FrameSpec): Buffer {
  u64(spec.hashKey, 'hashKey');
  u64(spec.seq, 'seq');
  const frameVer = spec.frameVer ?? FrameVer.Tx;
  if (frameVer === FrameVer.Bundle) return buildBundle(spec);
  const { payload, id } =
    spec.payload === undefined
      ? defaultContent(frameVer, spec)
      : { payload: spec.payload, id: undefined };
  const txId = fixed(spec.txId ?? id ?? contentId(frameVer, payload, spec), TXID_SIZE, 'txId');
  if (frameVer === FrameVer.Legacy) {
    // The legacy header stops after the TxID: no HashKey, SeqNum or payload length.
    const out = Buffer.alloc(LEGACY_HEADER_SIZE + payload.length);
    out.writeUInt32BE(MAGIC, 0);
    out.writeUInt16BE(PROTO_VER, 4);
    out[6] = FrameVer.Legacy;
    out[7] = spec.msgType ?? 0;
    out.set(txId, 8);
    out.set(payload, LEGACY_HEADER_SIZE);
    return out;
  }
  const headerSize = frameVer === FrameVer.Fragment ? FRAGMENT_HEADER_SIZE : FRAME_HEADER_SIZE;
  const out = Buffer.alloc(headerSize + payload.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt16BE(PROTO_VER, 4);
  out[6] = frameVer;
  out[7] = spec.msgType ?? 0;
  out.set(txId, 8);
  out.writeBigUInt64BE(spec.hashKey, 40);
  out.writeBigUInt64BE(spec.seq, 48);
  if (spec.subtreeId !== undefined) {
    out.set(fixed(spec.subtreeId, SUBTREE_ID_SIZE, 'subtreeId'), 56);
  }
  out.writeUInt32BE(payload.length, 88);
  if (frameVer === FrameVer.Fragment) {
    out[FRAGMENT_ORIGINAL_VER_OFFSET] = spec.originalFrameVer ?? FrameVer.Tx;
  }
  out.set(payload, headerSize);
  return out;
}

/**
 * Builds one frame per sequence number in `first..last` (inclusive) for one flow.
 *
 * @param rest - fields shared by every frame (version, payload, ...)
 * @throws RangeError when `last - first` exceeds 1,000,000 (a guard against typos).
 * @example
 * ```ts
 * const upstream = await UpstreamEmulator.start({ frames: buildFrames(1n, 0n, 99n) });
 * ```
 */
export function buildFrames(
  hashKey: bigint,
  first: bigint,
  last: bigint,
  rest: Omit<FrameSpec, 'hashKey' | 'seq'> = {},
): Buffer[] {
  if (last < first) return [];
  if (last - first > 1_000_000n) {
    throw new RangeError(`buildFrames: ${last - first + 1n} frames is more than 1000001`);
  }
  const frames: Buffer[] = [];
  for (let seq = first; seq <= last; seq++) frames.push(buildFrame({ ...rest, hashKey, seq }));
  return frames;
}

/** How {@link malformedFrame} breaks a frame. */
export type Malformation =
  /** The first four bytes are not the magic number. */
  | 'bad-magic'
  /** Cut inside the header. */
  | 'truncated'
  /** The payload-length field disagrees with the datagram size. */
  | 'length-mismatch'
  /** A legacy (`FrameVer.Legacy`) frame, which carries no HashKey/SeqNum. */
  | 'legacy';

/**
 * A frame for the requested gap that a client must refuse: use it to check that invalid
 * frames are never cached or retransmitted.
 *
 * @example
 * ```ts
 * transport.intercept(A).serve(malformedFrame('bad-magic', { hashKey: 1n, seq: 2n }));
 * transport.intercept(B).serve();
 * ```
 */
export function malformedFrame(how: Malformation, spec: FrameSpec): Buffer {
  if (how === 'legacy') return buildFrame({ ...spec, frameVer: FrameVer.Legacy });
  // The other breakages edit header fields a legacy frame does not have.
  const frame = buildFrame(
    spec.frameVer === FrameVer.Legacy ? { ...spec, frameVer: FrameVer.Tx } : spec,
  );
  const bundle = frame[6] === FrameVer.Bundle;
  const lengthAt = bundle ? BUNDLE_PAYLOAD_LENGTH_AT : 88;
  switch (how) {
    case 'bad-magic':
      frame.writeUInt32BE(0xdeadbeef, 0);
      return frame;
    case 'truncated':
      return frame.subarray(0, (bundle ? BUNDLE_HEADER_SIZE : FRAME_HEADER_SIZE) - 1);
    case 'length-mismatch':
      frame.writeUInt32BE(frame.readUInt32BE(lengthAt) + 1, lengthAt);
      return frame;
  }
}

/**
 * The transaction that default-built transaction frames for a gap carry:
 * `sampleTransaction((hashKey << 64n) | seq)`, distinct per (hashKey, seq).
 *
 * @example
 * ```ts
 * const { raw, ef, txId } = defaultTransaction(7n, 42n);
 * expect(buildFrame({ hashKey: 7n, seq: 42n }).subarray(92)).toEqual(raw);
 * ```
 */
export function defaultTransaction(hashKey: bigint, seq: bigint): SampleTransaction {
  return sampleTransaction((u64(hashKey, 'hashKey') << 64n) | u64(seq, 'seq'));
}

/**
 * The TxID default-built frames for a gap carry: that of {@link defaultTransaction} (raw and
 * EF forms share it), for `Tx`, `Anchor` and `Legacy` frames; kinds without a payload hash
 * (fragment, block, subtree, unknown versions) carry it too. BEEF frames carry their
 * ContentID instead, and bundles no TxID field.
 *
 * @example
 * ```ts
 * const frame = buildFrame({ hashKey: 7n, seq: 42n });
 * expect(frame.subarray(8, 40)).toEqual(defaultTxId(7n, 42n));
 * ```
 */
export function defaultTxId(hashKey: bigint, seq: bigint): Buffer {
  return defaultTransaction(hashKey, seq).txId;
}

/** Kinds whose payload is a transaction: their TxID is checkable. */
function carriesTransaction(frameVer: number): boolean {
  return frameVer === FrameVer.Tx || frameVer === FrameVer.Anchor || frameVer === FrameVer.Legacy;
}

/** The default payload of a kind of frame, and the id that matches it. */
function defaultContent(frameVer: number, spec: FrameSpec): { payload: Buffer; id: Buffer } {
  const tx = defaultTransaction(spec.hashKey, spec.seq);
  if (carriesTransaction(frameVer)) {
    return { payload: spec.extendedFormat === true ? tx.ef : tx.raw, id: tx.txId };
  }
  if (frameVer === FrameVer.Beef) {
    const beef = beefObject([tx.raw]);
    return { payload: beef, id: sha256d(beef) };
  }
  // Kinds without a payload hash: a short filler, as distinct per gap as the TxID (a block
  // header is always exactly 80 bytes).
  const filler = Buffer.alloc(frameVer === FrameVer.BlockHeader ? BLOCK_HEADER_PAYLOAD_SIZE : 16);
  filler.writeBigUInt64BE(spec.seq, 0);
  filler.write('payload!', 8, 'latin1');
  return { payload: filler, id: tx.txId };
}

/** The TxID / ContentID that matches `payload` for this kind of frame. */
function contentId(frameVer: number, payload: Uint8Array, spec: FrameSpec): Buffer {
  if (frameVer === FrameVer.Beef) return sha256d(payload);
  if (!carriesTransaction(frameVer)) return defaultTxId(spec.hashKey, spec.seq);
  const id = transactionId(payload);
  if (!id.ok) {
    throw new RangeError(
      `payload carries the EF marker but is malformed EF (${id.defect}); give txId to build it anyway`,
    );
  }
  return id.txId;
}

function buildBundle(spec: FrameSpec): Buffer {
  if (spec.txId !== undefined) {
    throw new RangeError('txId: a bundle (FrameVer 0x08) has no TxID field; give its members');
  }
  if (spec.payload !== undefined) {
    throw new RangeError('payload: a bundle (FrameVer 0x08) is built from its members');
  }
  const members = spec.members ?? defaultMembers(spec);
  if (members.length > UINT16_MAX) {
    throw new RangeError(`members: ${members.length} is more than TxCount can hold (65535)`);
  }
  const withTxIds = spec.txIdsPresent ?? true;
  const section: Uint8Array[] = [];
  members.forEach((tx, i) => {
    if (!(tx instanceof Uint8Array) || tx.length > UINT16_MAX) {
      throw new RangeError(
        `members[${i}] must be bytes of at most 65535, got ${String(tx?.length)}`,
      );
    }
    const length = Buffer.alloc(2);
    length.writeUInt16BE(tx.length);
    section.push(length);
    if (withTxIds) {
      const id = transactionId(tx);
      if (!id.ok) throw new RangeError(`members[${i}] is malformed EF (${id.defect})`);
      section.push(id.txId);
    }
    section.push(tx);
  });
  const body = Buffer.concat(section);
  const out = Buffer.alloc(BUNDLE_HEADER_SIZE + body.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt16BE(PROTO_VER, 4);
  out[6] = FrameVer.Bundle;
  out[7] = spec.msgType ?? (withTxIds ? BUNDLE_FLAG_TXIDS : 0);
  if (spec.subtreeId !== undefined) {
    out.set(fixed(spec.subtreeId, SUBTREE_ID_SIZE, 'subtreeId'), 8);
  }
  out.writeBigUInt64BE(spec.hashKey, 40);
  out.writeBigUInt64BE(spec.seq, 48);
  out.writeUInt16BE(byteRange(spec.groupIdx ?? 0, UINT16_MAX, 'groupIdx'), 56);
  out[58] = byteRange(spec.shardBits ?? 0, 0xff, 'shardBits');
  out.writeUInt16BE(members.length, 60);
  out.writeUInt32BE(body.length, BUNDLE_PAYLOAD_LENGTH_AT);
  out.set(body, BUNDLE_HEADER_SIZE);
  return out;
}

function defaultMembers(spec: FrameSpec): Buffer[] {
  const gap = (spec.hashKey << 64n) | spec.seq;
  const members: Buffer[] = [];
  for (let i = 1; i <= DEFAULT_BUNDLE_MEMBERS; i++) {
    // Above the gap's own seed (bits 128+), so members never repeat a default transaction.
    const tx = sampleTransaction((BigInt(i) << 128n) | gap);
    members.push(spec.extendedFormat === true ? tx.ef : tx.raw);
  }
  return members;
}

function u64(value: bigint, name: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) {
    throw new RangeError(`${name} must be a uint64 bigint, got ${String(value)}`);
  }
  return value;
}

function byteRange(value: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

function fixed(bytes: Uint8Array, size: number, name: string): Uint8Array {
  if (bytes.length !== size) {
    throw new RangeError(`${name} must be ${size} bytes, got ${bytes.length}`);
  }
  return bytes;
}
