import { MsgType, RESPONSE_SIZE, THROTTLE_BASE_MS } from './constants.js';
import {
  checkMessage,
  checkObject,
  checkU64,
  describe,
  hex,
  readU64,
  target,
  writePrefix,
  writeU64,
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

/** Any BRC-126 response to a NACK (named so it does not shadow the global `Response`). */
export type NackResponse = MissResponse | AckResponse | ThrottledResponse;

/**
 * What {@link encodeResponse} takes: a {@link NackResponse}, where an ACK's flags default to
 * "unicast sent" only and a THROTTLED's `backoffMs` is derived from its bucket (ignored).
 */
export type ResponseInit =
  | MissResponse
  | (Omit<AckResponse, 'multicastSent' | 'unicastSent'> &
      Partial<Pick<AckResponse, 'multicastSent' | 'unicastSent'>>)
  | (Omit<ThrottledResponse, 'backoffMs'> & {
      /** Ignored: the hold time is always derived from `bucket`. */
      backoffMs?: number;
    });

/**
 * Hold time for a THROTTLED backoff bucket: `125 ms << bucket` (only the low nibble counts).
 *
 * @example
 * ```ts
 * throttleBackoffMs(2); // 500
 * ```
 */
export function throttleBackoffMs(bucket: number): number {
  return THROTTLE_BASE_MS * 2 ** (bucket & 0x0f);
}

/**
 * Encodes a 16-byte response. Writes into `buf` at `offset` when given and returns `buf`;
 * otherwise returns a new zeroed Buffer.
 *
 * @param res - the response; see {@link ResponseInit} for the defaults
 * @param buf - where to write; needs {@link RESPONSE_SIZE} bytes free at `offset`
 * @param offset - where in `buf` the response starts. @default 0
 * @throws {@link WireError} `range` for a bad bucket or sequence, `type` for an unknown kind,
 * `buffer` for a short buffer.
 * @example
 * ```ts
 * socket.send(encodeResponse({ kind: 'miss' }), rinfo.port, rinfo.address);
 * socket.send(encodeResponse({ kind: 'ack', seq, multicastSent: false, unicastSent: true }), port, host);
 * ```
 */
export function encodeResponse<T extends Uint8Array = Buffer>(
  res: ResponseInit,
  buf?: T,
  offset = 0,
): T {
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
  writePrefix(out, offset, type, flags);
  writeU64(out, offset + 8, seq);
  return out as T;
}

/**
 * Decodes a 16-byte MISS, ACK or THROTTLED response.
 *
 * @throws {@link WireError} `length`, `magic`, `version` or `type`.
 */
export function decodeResponse(buf: Uint8Array): NackResponse {
  checkMessage(buf, RESPONSE_SIZE, 'response');
  const flags = buf[7]!;
  switch (buf[6]) {
    case MsgType.Miss:
      return { kind: 'miss' };
    case MsgType.Ack:
      return {
        kind: 'ack',
        seq: readU64(buf, 8),
        multicastSent: (flags & 0x01) !== 0,
        unicastSent: (flags & 0x02) !== 0,
      };
    case MsgType.Throttled: {
      const bucket = flags & 0x0f;
      return {
        kind: 'throttled',
        seq: readU64(buf, 8),
        bucket,
        backoffMs: throttleBackoffMs(bucket),
      };
    }
    default:
      throw new WireError(
        'type',
        `response: message type 0x${hex(buf[6]!, 2)} is not MISS, ACK or THROTTLED`,
      );
  }
}
