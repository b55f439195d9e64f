/**
 * Machine-readable reason a datagram or value was refused by a codec.
 *
 * - `length`: too short, too long, or the payload length disagrees with the datagram
 * - `magic`: the first four bytes are not `MAGIC`
 * - `version`: the protocol version is not `PROTO_VER`
 * - `type`: the message type is not the one this decoder reads
 * - `legacy`: a legacy frame, which carries no HashKey/SeqNum
 * - `range`: a field value out of range (negative, over 64 bits, `endSeq < startSeq`)
 * - `buffer`: the caller's buffer is too small at the given offset
 */
export type WireErrorCode = 'length' | 'magic' | 'version' | 'type' | 'legacy' | 'range' | 'buffer';

/**
 * Error thrown by every codec in this package. Decoders throw nothing else for any input.
 *
 * @example
 * ```ts
 * try {
 *   decodeNack(datagram);
 * } catch (err) {
 *   if (err instanceof WireError && err.code === 'magic') dropped++;
 *   else throw err;
 * }
 * ```
 */
export class WireError extends Error {
  /** What was wrong, for programs. The message says it for people. */
  readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string) {
    super(message);
    this.name = 'WireError';
    this.code = code;
  }
}
