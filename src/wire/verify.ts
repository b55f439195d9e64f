/**
 * Content check of one data-frame datagram: does the TxID / ContentID in its header match its
 * payload? Pure and never throws.
 * @module
 */
import {
  BUNDLE_FLAG_TXIDS,
  BUNDLE_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  FrameVer,
  TXID_SIZE,
} from './constants.js';
import { isDefect, isExtendedFormat, sameDigest, sha256dDigest, txIdDigest } from './ef.js';

// Offsets read here, from the specs in lightwebinc/bsv-multicast docs/:
// BRC-124 (brc-124-frame-format.md): TxID at 8..40, payload length (uint32) at 88, payload
// from 92; BRC-134 anchors and BRC-149 BEEF objects share that layout.
const ID_AT = 8;
const PAYLOAD_LENGTH_AT = 88;
// BRC-142 bundle (brc-142-coalescing-frame.md §2-§3; shard-common bundle/bundle.go): Flags at
// 7, TxCount (uint16) at 60, PayloadLen (uint32) at 62, members from 66, each
// `uint16 TxLen ∥ 32-byte TxID (when TxIDsPresent) ∥ tx`.
const BUNDLE_FLAGS_AT = 7;
const BUNDLE_TX_COUNT_AT = 60;
const BUNDLE_PAYLOAD_LENGTH_AT = 62;
const MEMBER_LENGTH_SIZE = 2;

/** What a verified frame carried. */
export type VerifiedContent =
  /** FrameVer `0x02` with a BRC-12 raw transaction: TxID = SHA256d(payload). */
  | 'raw-tx'
  /** FrameVer `0x02` with a BRC-30 EF transaction: TxID = SHA256d(its raw form). */
  | 'ef-tx'
  /** FrameVer `0x06` anchor, raw transaction. */
  | 'raw-anchor'
  /** FrameVer `0x06` anchor, EF transaction. */
  | 'ef-anchor'
  /** FrameVer `0x09` BEEF object: ContentID = SHA256d(payload). */
  | 'beef'
  /** FrameVer `0x08` bundle with TxIDs present: every member's TxID matches it. */
  | 'bundle';

/** Why a frame's content cannot be checked on its own (it is not wrong for that). */
export type UnverifiableContent =
  /** FrameVer `0x03`: the TxID covers the reassembled payload, not this piece. */
  | 'fragment'
  /** FrameVer `0x04` block control frame: carries no hash of its payload. */
  | 'block'
  /** FrameVer `0x05` subtree data: its id is a Merkle root, not a payload hash. */
  | 'subtree'
  /** FrameVer `0x07` block header frame. */
  | 'block-header'
  /** FrameVer `0x08` bundle without the TxIDsPresent flag: nothing to compare. */
  | 'bundle-without-txids'
  /** FrameVer `0x01` legacy frame (never accepted as a recovered frame anyway). */
  | 'legacy'
  /** A FrameVer this library does not know. */
  | 'unknown-version';

/** Why a frame's content contradicts its header. Stable names, suitable as metric labels. */
export type InvalidContent =
  /** A transaction (or bundle member) does not hash to the TxID carried for it. */
  | 'txid-mismatch'
  /** A BEEF object does not hash to the ContentID in the header. */
  | 'content-id-mismatch'
  /** A payload (or bundle member) carries the EF marker but is not well-formed EF. */
  | 'malformed-ef'
  /** A bundle's member section is inconsistent (truncated member, TxCount disagreement). */
  | 'malformed-bundle'
  /** The datagram is shorter than its header or disagrees with its payload length. */
  | 'malformed-frame';

/**
 * Outcome of {@link verifyFrameContent}. Accept a frame unless `status` is `'invalid'`:
 * unverifiable kinds pass as they always have.
 *
 * - `verified`: the header's TxID / ContentID (or every bundle member's TxID) matches the
 *   payload; `content` says what was checked.
 * - `unverifiable`: this kind of frame carries nothing to check per datagram; `reason` says
 *   which kind.
 * - `invalid`: the content contradicts the header; `reason` is a stable label (count by it),
 *   `detail` a short text for logs (which member, which EF defect).
 *
 * A verified frame is internally consistent, which catches corruption and payloads swapped
 * under a copied header. It does not prove who built the frame: a sender that can forge a
 * payload can also write a matching header, or use a kind that cannot be checked.
 *
 * @example
 * ```ts
 * const verdict = verifyFrameContent(frame);
 * if (verdict.status === 'invalid') {
 *   invalidFrames[verdict.reason] = (invalidFrames[verdict.reason] ?? 0) + 1;
 *   log.debug({ detail: verdict.detail }, 'frame content does not match its header');
 * } else {
 *   await cache.store(key, frame, ttl);
 * }
 * ```
 */
export type ContentVerdict =
  | {
      /** The content matches its header. */
      readonly status: 'verified';
      /** What was checked. */
      readonly content: VerifiedContent;
    }
  | {
      /** Nothing in this kind of frame can be checked per datagram. */
      readonly status: 'unverifiable';
      /** Which kind of frame it is. */
      readonly reason: UnverifiableContent;
    }
  | {
      /** The content contradicts its header. */
      readonly status: 'invalid';
      /** Stable label, one per kind of failure. */
      readonly reason: InvalidContent;
      /** Short human-readable context (never needed by programs). */
      readonly detail: string;
    };

const verified = (content: VerifiedContent): ContentVerdict =>
  Object.freeze({ status: 'verified', content });
const unverifiable = (reason: UnverifiableContent): ContentVerdict =>
  Object.freeze({ status: 'unverifiable', reason });
const invalid = (reason: InvalidContent, detail: string): ContentVerdict => ({
  status: 'invalid',
  reason,
  detail,
});

// Shared verdicts for the common outcomes: checking allocates nothing beyond the hashing.
const VERIFIED = {
  'raw-tx': verified('raw-tx'),
  'ef-tx': verified('ef-tx'),
  'raw-anchor': verified('raw-anchor'),
  'ef-anchor': verified('ef-anchor'),
  beef: verified('beef'),
  bundle: verified('bundle'),
} as const;
const UNVERIFIABLE = {
  fragment: unverifiable('fragment'),
  block: unverifiable('block'),
  subtree: unverifiable('subtree'),
  'block-header': unverifiable('block-header'),
  'bundle-without-txids': unverifiable('bundle-without-txids'),
  legacy: unverifiable('legacy'),
  'unknown-version': unverifiable('unknown-version'),
} as const;

/**
 * Checks a whole data-frame datagram's TxID / ContentID against its payload:
 *
 * - FrameVer `0x02` (BRC-124 raw / BRC-128 EF) and `0x06` (BRC-134 anchor): the TxID at
 *   bytes 8..40 (internal byte order) is SHA256d of the transaction's raw serialisation.
 * - FrameVer `0x09` (BRC-149 BEEF object): the ContentID at 8..40 is SHA256d(payload).
 * - FrameVer `0x08` (BRC-142 bundle) with Flags bit 0 (TxIDsPresent): every member's carried
 *   TxID is its transaction's TxID (raw or EF), and the members fill PayloadLen exactly.
 * - Everything else is `unverifiable`.
 *
 * The caller is expected to have checked magic, HashKey and SeqNum; the length is re-checked
 * here only so that no read leaves the datagram. Never throws, for any input; time is linear
 * in the datagram's length.
 *
 * @param frame - one whole datagram
 * @example
 * ```ts
 * const verdict = verifyFrameContent(buildFrame({ hashKey: 1n, seq: 2n }));
 * // { status: 'verified', content: 'raw-tx' }
 * ```
 */
export function verifyFrameContent(frame: Uint8Array): ContentVerdict {
  if (!(frame instanceof Uint8Array) || frame.length < ID_AT) {
    return invalid('malformed-frame', 'shorter than a frame prefix');
  }
  const frameVer = frame[6];
  switch (frameVer) {
    case FrameVer.Tx:
    case FrameVer.Anchor:
      return checkTransactionFrame(frame, frameVer === FrameVer.Anchor);
    case FrameVer.Beef:
      return checkBeefFrame(frame);
    case FrameVer.Bundle:
      return checkBundle(frame);
    case FrameVer.Fragment:
      return UNVERIFIABLE.fragment;
    case FrameVer.Block:
      return UNVERIFIABLE.block;
    case FrameVer.Subtree:
      return UNVERIFIABLE.subtree;
    case FrameVer.BlockHeader:
      return UNVERIFIABLE['block-header'];
    case FrameVer.Legacy:
      return UNVERIFIABLE.legacy;
    default:
      return UNVERIFIABLE['unknown-version'];
  }
}

/** The payload of a 92-byte-header frame, or undefined when the datagram disagrees with it. */
function payloadOf(frame: Uint8Array): Uint8Array | undefined {
  if (frame.length < FRAME_HEADER_SIZE) return undefined;
  const length = readUint32(frame, PAYLOAD_LENGTH_AT);
  if (frame.length !== FRAME_HEADER_SIZE + length) return undefined;
  return frame.subarray(FRAME_HEADER_SIZE);
}

function checkTransactionFrame(frame: Uint8Array, anchor: boolean): ContentVerdict {
  const payload = payloadOf(frame);
  if (payload === undefined) return invalid('malformed-frame', lengthDetail(frame));
  const ef = isExtendedFormat(payload);
  const id = txIdDigest(payload);
  if (isDefect(id)) return invalid('malformed-ef', id);
  if (!sameDigest(id, frame, ID_AT)) {
    return invalid('txid-mismatch', `${ef ? 'EF' : 'raw'} ${anchor ? 'anchor' : 'transaction'}`);
  }
  if (anchor) return ef ? VERIFIED['ef-anchor'] : VERIFIED['raw-anchor'];
  return ef ? VERIFIED['ef-tx'] : VERIFIED['raw-tx'];
}

function checkBeefFrame(frame: Uint8Array): ContentVerdict {
  const payload = payloadOf(frame);
  if (payload === undefined) return invalid('malformed-frame', lengthDetail(frame));
  if (!sameDigest(sha256dDigest(payload), frame, ID_AT)) {
    return invalid('content-id-mismatch', 'BEEF object');
  }
  return VERIFIED.beef;
}

function checkBundle(frame: Uint8Array): ContentVerdict {
  if (frame.length < BUNDLE_HEADER_SIZE) {
    return invalid('malformed-frame', `bundle of ${frame.length} bytes, header is 66`);
  }
  const payloadLength = readUint32(frame, BUNDLE_PAYLOAD_LENGTH_AT);
  if (frame.length !== BUNDLE_HEADER_SIZE + payloadLength) {
    return invalid(
      'malformed-frame',
      `PayloadLen ${payloadLength} + header 66 disagrees with datagram of ${frame.length} bytes`,
    );
  }
  if (((frame[BUNDLE_FLAGS_AT] ?? 0) & BUNDLE_FLAG_TXIDS) === 0) {
    return UNVERIFIABLE['bundle-without-txids'];
  }
  const count = readUint16(frame, BUNDLE_TX_COUNT_AT);
  // First the structure (cheap), so a broken bundle reads as broken, not as a hash mismatch.
  const members: number[] = [];
  let at = BUNDLE_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (at + MEMBER_LENGTH_SIZE + TXID_SIZE > frame.length) {
      return invalid('malformed-bundle', `member ${i + 1} of ${count} is truncated`);
    }
    const txAt = at + MEMBER_LENGTH_SIZE + TXID_SIZE;
    const txEnd = txAt + readUint16(frame, at);
    if (txEnd > frame.length) {
      return invalid('malformed-bundle', `member ${i + 1} of ${count} is truncated`);
    }
    members.push(at);
    at = txEnd;
  }
  if (at !== frame.length) {
    return invalid(
      'malformed-bundle',
      `${frame.length - at} bytes left after TxCount ${count} members`,
    );
  }
  for (let i = 0; i < members.length; i++) {
    const memberAt = members[i] ?? 0;
    const txAt = memberAt + MEMBER_LENGTH_SIZE + TXID_SIZE;
    const tx = frame.subarray(txAt, txAt + readUint16(frame, memberAt));
    const id = txIdDigest(tx);
    if (isDefect(id)) return invalid('malformed-ef', `member ${i + 1} of ${count}: ${id}`);
    if (!sameDigest(id, frame, memberAt + MEMBER_LENGTH_SIZE)) {
      return invalid('txid-mismatch', `member ${i + 1} of ${count}`);
    }
  }
  return VERIFIED.bundle;
}

function lengthDetail(frame: Uint8Array): string {
  if (frame.length < FRAME_HEADER_SIZE) {
    return `${frame.length} bytes, header is ${FRAME_HEADER_SIZE}`;
  }
  const length = readUint32(frame, PAYLOAD_LENGTH_AT);
  return `payload length ${length} + header ${FRAME_HEADER_SIZE} disagrees with datagram of ${frame.length} bytes`;
}

function readUint16(buf: Uint8Array, at: number): number {
  return ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
}

function readUint32(buf: Uint8Array, at: number): number {
  const b = (i: number): number => buf[at + i] ?? 0;
  return ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
}
