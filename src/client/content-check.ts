import { verifyFrameContent } from '../wire/verify.js';
import type { Reporter } from './report.js';
import type { Counters } from './stats.js';

/**
 * The `verifyContent` check, handed to the transport as `accept`: a frame whose TxID or
 * ContentID does not match its content is refused and counted by reason. A frame that
 * passed once (checked by the transport) is not hashed again when the walk judges it.
 */
export function contentCheck(counters: Counters, report: Reporter): (frame: Uint8Array) => boolean {
  const passed = new WeakSet<Uint8Array>();
  return (frame) => {
    if (passed.has(frame)) return true;
    const verdict = verifyFrameContent(frame);
    if (verdict.status !== 'invalid') {
      passed.add(frame);
      return true;
    }
    const { reason } = verdict;
    counters.invalidFrames[reason] = (counters.invalidFrames[reason] ?? 0) + 1;
    report.record('invalidFrame', reason);
    report.debug({ reason, detail: verdict.detail }, 'frame refused by the content check');
    return false;
  };
}
