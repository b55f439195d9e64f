import { MsgType, RESPONSE_SIZE, THROTTLE_BASE_MS } from './constants.js';
import {
  checkBytes,
  checkMinLength,
  checkObject,
  checkPrefix,
  checkU64,
  describe,
  hex,
  target,
  viewOf,
  writePrefix,
} from './bytes.js';
import { WireError } from './errors.js';

/** The endpoint does not hold the frame. Carries no sequence number. */
export interface MissResponse {
  /** Discriminant. */
  kind: 'miss';
}

/** The endpoint sent the frame; the frame itself is a separate datagram. */
export interface AckResponse {
  /** Discriminant. */
  kind: 'ack';
  /** Sequence number of the frame that was sent. */
  seq: bigint;
  /** The frame was multicast-retransmitted (`AckFlag.MulticastSent`). */
  multicastSent: boolean;
  /** The frame was sent by unicast to the requester (`AckFlag.UnicastSent`). */
  unicastSent: boolean;
}

/** Healthy but congested: hold `backoffMs`, then ask the same endpoint again. */
export interface ThrottledResponse {
  /** Discriminant. */
  kind: 'throttled';
  /** Echo of the NACK's StartSeq. */
  seq: bigint;
  /** Backoff bucket, 0..15 (low nibble of the flags byte). */
  bucket: number;
  /** Hold time: `125 ms << bucket`. */
  backoffMs: number;
}

/** Any BRC-126 response to a NACK. */
export type Response = MissResponse | AckResponse | ThrottledResponse;

/** Hold time for a THROTTLED backoff bucket: `125 ms << bucket`. */
export function throttleBackoffMs(bucket: number): number {
  return THROTTLE_BASE_MS * 2 ** (bucket & 0x0f);
}

/**
 * Encodes a 16-byte response. Writes into `buf` at `offset` when given.
 *
 * @throws {@link WireError} `range` for a bad bucket or sequence, `buffer` for a short buffer.
 * @example
 * ```ts
 * socket.send(encodeResponse({ kind: 'miss' }), rinfo.port, rinfo.address);
 * socket.send(encodeResponse({ kind: 'ack', seq, multicastSent: false, unicastSent: true }), port, host);
 * ```
 */
export function encodeResponse(
  res:
    | MissResponse
    | (Omit<AckResponse, 'multicastSent' | 'unicastSent'> &
        Partial<Pick<AckResponse, 'multicastSent' | 'unicastSent'>>)
    | (Omit<ThrottledResponse, 'backoffMs'> & { backoffMs?: number }),
  buf?: Uint8Array,
  offset = 0,
): Uint8Array {
  checkObject(res, 'response');
  let type: number;
  let flags = 0;
  let seq = 0n;
  switch (res.kind) {
    case 'miss':
      type = MsgType.Miss;
      break;
    case 'ack':
      type = MsgType.Ack;
      seq = checkU64(res.seq, 'seq');
      flags = (res.multicastSent ? 0x01 : 0) | (res.unicastSent === false ? 0 : 0x02);
      break;
    case 'throttled':
      type = MsgType.Throttled;
      seq = checkU64(res.seq, 'seq');
      if (!Number.isInteger(res.bucket) || res.bucket < 0 || res.bucket > 15) {
        throw new WireError(
          'range',
          `bucket must be an integer 0..15, got ${describe(res.bucket)}`,
        );
      }
      flags = res.bucket;
      break;
    default:
      throw new WireError(
        'type',
        `unknown response kind ${describe((res as { kind: unknown }).kind)}`,
      );
  }
  const out = target(RESPONSE_SIZE, buf, offset, 'response');
  const dv = new DataView(out.buffer, out.byteOffset + offset, RESPONSE_SIZE);
  writePrefix(dv, 0, type, flags);
  dv.setBigUint64(8, seq);
  return out;
}

/**
 * Decodes a 16-byte MISS, ACK or THROTTLED response.
 *
 * @throws {@link WireError} `length`, `magic`, `version` or `type`.
 */
export function decodeResponse(buf: Uint8Array): Response {
  checkBytes(buf, 'response');
  checkMinLength(buf, RESPONSE_SIZE, 'response');
  if (buf.length !== RESPONSE_SIZE) {
    throw new WireError(
      'length',
      `response: ${buf.length} bytes, must be exactly ${RESPONSE_SIZE}`,
    );
  }
  const dv = viewOf(buf);
  checkPrefix(buf, dv, 'response');
  const type = dv.getUint8(6);
  const flags = dv.getUint8(7);
  const seq = dv.getBigUint64(8);
  switch (type) {
    case MsgType.Miss:
      return { kind: 'miss' };
    case MsgType.Ack:
      return {
        kind: 'ack',
        seq,
        multicastSent: (flags & 0x01) !== 0,
        unicastSent: (flags & 0x02) !== 0,
      };
    case MsgType.Throttled: {
      const bucket = flags & 0x0f;
      return { kind: 'throttled', seq, bucket, backoffMs: throttleBackoffMs(bucket) };
    }
    default:
      throw new WireError(
        'type',
        `response: message type 0x${hex(type, 2)} is not MISS, ACK or THROTTLED`,
      );
  }
}
