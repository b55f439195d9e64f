import fc from 'fast-check';
import {
  FRAGMENT_ORIGINAL_VER_OFFSET,
  FrameVer,
  MAGIC,
  MsgType,
  PROTO_VER,
  UINT64_MAX,
} from '../../src/wire/constants.js';
import { encodeNack } from '../../src/wire/nack.js';
import { decodeResponse, encodeResponse } from '../../src/wire/response.js';
import { matchFrame } from '../../src/wire/match.js';
import { buildFrame } from '../../src/testing/frames.js';

/** Any uint64 value. */
export const u64 = (): fc.Arbitrary<bigint> => fc.bigInt({ min: 0n, max: UINT64_MAX });

/** Exactly `n` arbitrary bytes. */
export const bytes = (n: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: n, maxLength: n });

/** Every frame version the wire knows, plus unknown ones (read as transactions). */
export const KNOWN_FRAME_VERSIONS = [
  FrameVer.Tx,
  FrameVer.Fragment,
  FrameVer.Block,
  FrameVer.Subtree,
  FrameVer.Anchor,
  FrameVer.BlockHeader,
  FrameVer.Beef,
] as const;

/** Fields of one data frame (any version but legacy). */
export interface FrameFields {
  hashKey: bigint;
  seq: bigint;
  frameVer: number;
  originalFrameVer: number;
  msgType: number;
  txId: Uint8Array;
  subtreeId: Uint8Array;
  payload: Uint8Array;
}

/** A data frame's fields: known and unknown versions, fragments with any original version. */
export const frameFields = (maxPayload = 512): fc.Arbitrary<FrameFields> =>
  fc
    .record({
      hashKey: u64(),
      seq: u64(),
      frameVer: fc.oneof(
        fc.constantFrom(...KNOWN_FRAME_VERSIONS),
        // 0x08 is a BRC-142 bundle: another header layout, built from members (not these fields).
        fc
          .integer({ min: 0, max: 255 })
          .filter((v) => v !== FrameVer.Legacy && v !== FrameVer.Bundle),
      ),
      originalFrameVer: fc.oneof(
        fc.constantFrom(0, ...KNOWN_FRAME_VERSIONS),
        fc.integer({ min: 0, max: 255 }),
      ),
      msgType: fc.integer({ min: 0, max: 255 }),
      txId: bytes(32),
      subtreeId: bytes(32),
      payload: fc.uint8Array({ maxLength: maxPayload }),
    })
    .map(fitBlockHeader);

/** Builds the frame described by `f`. */
export function frameOf(f: FrameFields): Buffer {
  return buildFrame(f);
}

/** The payload of every BRC-135 block header frame. */
const BLOCK_HEADER_BYTES = 80;

/** A block header frame's payload is always 80 bytes: cut or pad the drawn one. */
function fitBlockHeader(f: FrameFields): FrameFields {
  if (f.frameVer !== FrameVer.BlockHeader) return f;
  const payload = new Uint8Array(BLOCK_HEADER_BYTES);
  payload.set(f.payload.subarray(0, BLOCK_HEADER_BYTES));
  return { ...f, payload };
}

/** A legacy (44-byte header) frame. */
export const legacyFrame = (): fc.Arbitrary<Buffer> =>
  fc
    .record({ txId: bytes(32), payload: fc.uint8Array({ maxLength: 256 }) })
    .map(({ txId, payload }) =>
      buildFrame({ hashKey: 0n, seq: 0n, frameVer: FrameVer.Legacy, txId, payload }),
    );

/** A valid 64-byte NACK with any field values. */
export const nackBytes = (): fc.Arbitrary<Uint8Array> =>
  fc
    .record({
      hashKey: u64(),
      a: u64(),
      b: u64(),
      subtreeId: bytes(32),
      flags: fc.integer({ min: 0, max: 255 }),
    })
    .map(({ hashKey, a, b, subtreeId, flags }) =>
      encodeNack({
        hashKey,
        startSeq: a < b ? a : b,
        endSeq: a < b ? b : a,
        subtreeId,
        flags,
      }),
    );

/** A valid 16-byte MISS, ACK or THROTTLED response, any flags and sequence number. */
export const responseBytes = (): fc.Arbitrary<Uint8Array> =>
  fc
    .record({
      type: fc.constantFrom(MsgType.Miss, MsgType.Ack, MsgType.Throttled),
      flags: fc.integer({ min: 0, max: 255 }),
      seq: u64(),
    })
    .map(({ type, flags, seq }) => rawResponse(type, flags, seq));

/** A 16-byte response with these raw fields (valid magic and version). */
export function rawResponse(type: number, flags: number, seq: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(MAGIC, 0);
  b.writeUInt16BE(PROTO_VER, 4);
  b[6] = type;
  b[7] = flags;
  b.writeBigUInt64BE(seq, 8);
  return b;
}

/** A valid frame of any kind (including fragments and unknown versions, not legacy). */
export const anyFrame = (): fc.Arbitrary<Buffer> => frameFields().map(frameOf);

/** Any valid datagram of the protocol: NACK, response, frame, legacy frame. */
export const anyValidDatagram = (): fc.Arbitrary<Uint8Array> =>
  fc.oneof(nackBytes(), responseBytes(), anyFrame(), legacyFrame());

/**
 * Byte strings worth feeding a decoder: pure noise; noise behind a valid magic and version;
 * valid datagrams truncated, extended or with bytes overwritten.
 */
export const hostileBytes = (): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc
      .record({
        type: fc.integer({ min: 0, max: 255 }),
        rest: fc.uint8Array({ maxLength: 200 }),
      })
      .map(({ type, rest }) => {
        const head = Buffer.alloc(8);
        head.writeUInt32BE(MAGIC, 0);
        head.writeUInt16BE(PROTO_VER, 4);
        head[6] = type;
        return Buffer.concat([head, rest]);
      }),
    fc
      .record({ d: anyValidDatagram(), cut: fc.nat() })
      .map(({ d, cut }) => d.subarray(0, cut % (d.length + 1))),
    fc
      .record({ d: anyValidDatagram(), tail: fc.uint8Array({ minLength: 1, maxLength: 64 }) })
      .map(({ d, tail }) => Buffer.concat([d, tail])),
    fc
      .record({
        d: anyValidDatagram(),
        edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
      })
      .map(({ d, edits }) => {
        const out = Buffer.from(d);
        for (const [at, v] of edits) out[at % out.length] = v;
        return out;
      }),
  );

/** Flips bit `bit` (0 = most significant of byte 0) of a copy of `d`. */
export function flipBit(d: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(d);
  const at = Math.floor(bit / 8);
  out[at] = (out[at] ?? 0) ^ (0x80 >> (bit % 8));
  return out;
}

/** Offset of a fragment's original-version byte. */
export const ORIGINAL_VER_AT = FRAGMENT_ORIGINAL_VER_OFFSET;

/** Which `UdpTransport` counter a datagram from the asked upstream lands in. */
export type Verdict =
  'answer' | 'acks' | 'mismatchedSeq' | 'malformed' | 'legacyFrame' | 'wrongGap';

/**
 * What the spec says a datagram from the asked upstream means for a request of
 * (`hashKey`, `seq`): an answer that ends the exchange (the frame, MISS, THROTTLED for this
 * seq), an ACK to count, or junk by reason. Written from the BRC-126 response and frame
 * layouts (a frame answers only with the requested HashKey and SeqNum), using the codecs.
 * A 16-byte datagram is read as a response (no frame is that short): one the response codec
 * refuses is malformed, whatever its type byte says.
 */
export function verdictFor(d: Uint8Array, hashKey: bigint, seq: bigint): Verdict {
  if (d.length === 16) {
    let res;
    try {
      res = decodeResponse(d);
    } catch {
      return 'malformed';
    }
    if (res.kind === 'miss') return 'answer';
    if (res.seq !== seq) return 'mismatchedSeq';
    return res.kind === 'ack' ? 'acks' : 'answer';
  }
  const m = matchFrame(d, hashKey, seq);
  if (m === 'malformed') return 'malformed';
  if (m === 'legacy') return 'legacyFrame';
  if (m === 'wrong-gap') return 'wrongGap';
  return 'answer';
}

/** An ACK for `seq`. */
export const ack = (seq: bigint): Uint8Array =>
  encodeResponse({ kind: 'ack', seq, unicastSent: true });
/** A MISS. */
export const miss = (): Uint8Array => encodeResponse({ kind: 'miss' });
/** A THROTTLED echoing `seq` with `bucket`. */
export const throttled = (seq: bigint, bucket = 0): Uint8Array =>
  encodeResponse({ kind: 'throttled', seq, bucket });
