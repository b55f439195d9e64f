import { FrameVer, MAGIC } from '../../wire/constants.js';
import { WireError } from '../../wire/errors.js';

/** Bytes up to the end of the SeqNum field (offset 48 + 8). */
const KEY_END = 56;

/**
 * The cache key fields of a data frame of any version but legacy: HashKey at 40 and SeqNum
 * at 48 (the same offsets in the 92-byte header, the fragment header and the 66-byte
 * bundle header).
 * @throws WireError when the frame is too short, has a wrong magic or is a legacy frame.
 */
export function frameKey(frame: Uint8Array): { hashKey: bigint; seq: bigint } {
  if (!(frame instanceof Uint8Array) || frame.length < KEY_END) {
    throw new WireError(
      'length',
      `frame: ${String(frame?.length)} bytes, need at least ${KEY_END}`,
    );
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0) !== MAGIC) {
    throw new WireError('magic', `frame: magic 0x${view.getUint32(0).toString(16)}`);
  }
  if (frame[6] === FrameVer.Legacy) {
    throw new WireError('legacy', 'frame: a legacy frame has no HashKey/SeqNum to be NACKed by');
  }
  return { hashKey: view.getBigUint64(40), seq: view.getBigUint64(48) };
}
