import { decodeFrameHeader, type FrameHeader } from './frame.js';
import { WireError } from './errors.js';

/** Why a datagram was not accepted as the requested frame. */
export type FrameMismatch = 'malformed' | 'legacy' | 'wrong-gap';

/**
 * Checks that `datagram` is a well-formed frame (magic, full header, payload length equal to
 * the datagram's) carrying exactly `hashKey` and `seq`. Returns the header, or why not.
 * Never throws.
 */
export function matchFrame(
  datagram: Uint8Array,
  hashKey: bigint,
  seq: bigint,
): FrameHeader | FrameMismatch {
  let header: FrameHeader;
  try {
    header = decodeFrameHeader(datagram, true);
  } catch (err) {
    return err instanceof WireError && err.code === 'legacy' ? 'legacy' : 'malformed';
  }
  return header.hashKey === hashKey && header.seq === seq ? header : 'wrong-gap';
}
