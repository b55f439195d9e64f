/**
 * The BRC-124 / BRC-126 / BRC-142 wire layer: constants and pure codecs, no I/O.
 *
 * BRC-124 frames carry one transaction (or block, subtree, anchor, BEEF object, fragment)
 * over multicast, each stamped with a per-flow HashKey and SeqNum; BRC-142 bundles pack
 * several transactions of one flow into a single frame with a 66-byte header. BRC-126 lets
 * a listener that saw a gap in the SeqNums ask a retry endpoint for the frame with a 64-byte
 * NACK, answered by a 16-byte MISS, ACK or THROTTLED (the frame itself comes separately).
 *
 * Every encoder takes an optional `(buf, offset)` to write into the caller's buffer and
 * returns it; every decoder and encoder throws only {@link WireError}.
 *
 * @example
 * ```ts
 * // decodeNack, encodeNack, matchFrame and FLAG_PROXIED from 'nack-proxy/wire'
 * const gap = decodeNack(datagram);
 * socket.send(encodeNack({ ...gap, flags: FLAG_PROXIED }), 9300, upstream);
 * const m = matchFrame(reply, gap.hashKey, gap.startSeq); // FrameHeader or why not
 * ```
 * @module nack-proxy/wire
 */
export {
  AckFlag,
  CACHE_KEY_SIZE,
  FLAG_PROXIED,
  FrameVer,
  MAGIC,
  MsgType,
  NACK_SIZE,
  PROTO_VER,
  RESPONSE_SIZE,
} from './constants.js';
export { WireError, type WireErrorCode } from './errors.js';
export { decodeNack, encodeNack, isProxied, type DecodedNack, type Nack } from './nack.js';
export {
  decodeResponse,
  encodeResponse,
  throttleBackoffMs,
  type AckResponse,
  type MissResponse,
  type NackResponse,
  type ResponseInit,
  type ThrottledResponse,
} from './response.js';
export { decodeFrameHeader, type BundleFields, type FrameHeader, type TtlClass } from './frame.js';
export { cacheKey, cacheKeyHex } from './key.js';
export { frameMismatch, matchFrame, type FrameMismatch } from './match.js';
export {
  verifyFrameContent,
  type ContentVerdict,
  type InvalidContent,
  type UnverifiableContent,
  type VerifiedContent,
} from './verify.js';
export {
  isExtendedFormat,
  rawTransaction,
  transactionId,
  type EfDefect,
  type TxIdResult,
} from './ef.js';
