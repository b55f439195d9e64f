/**
 * `verifyContent`: a frame whose TxID or ContentID does not match its content is never
 * cached or retransmitted, and is counted by reason; genuine frames of every kind pass;
 * kinds that cannot be checked per datagram pass unchecked.
 */
import { describe, expect, it } from 'vitest';
import { FrameVer } from '../../src/index.js';
import { buildFrame, type FrameSpec } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { A, B, harness } from '../helpers/harness.js';

const BUNDLE = 0x08;
const BLOCK_HEADER = 0x07;

/** Checkable kinds, each as a FrameSpec for one gap. */
const checkable: [string, Omit<FrameSpec, 'hashKey' | 'seq'>][] = [
  ['raw transaction', {}],
  ['EF transaction', { extendedFormat: true }],
  ['raw anchor', { frameVer: FrameVer.Anchor }],
  ['EF anchor', { frameVer: FrameVer.Anchor, extendedFormat: true }],
  ['BEEF object', { frameVer: FrameVer.Beef }],
  ['bundle with TxIDs', { frameVer: BUNDLE }],
];

const unverifiable: [string, Omit<FrameSpec, 'hashKey' | 'seq'>][] = [
  ['fragment', { frameVer: FrameVer.Fragment }],
  ['block control', { frameVer: FrameVer.Block }],
  ['subtree data', { frameVer: FrameVer.Subtree }],
  ['block header', { frameVer: BLOCK_HEADER }],
  ['bundle without TxIDs', { frameVer: BUNDLE, txIdsPresent: false }],
];

/** The same frame with one payload byte changed: a genuine header over forged content. */
function forged(frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  copy[copy.length - 5] = (copy[copy.length - 5] ?? 0) ^ 0x5a;
  return copy;
}

describe('verifyContent: true', () => {
  it.each(checkable)(
    'a forged %s is refused; the genuine one from the next upstream is recovered',
    async (_, spec) => {
      const genuine = buildFrame({ hashKey: 9n, seq: 1n, ...spec });
      const h = harness({ upstreams: [A, B], verifyContent: true, hedgeAfterMs: false });
      h.transport.intercept(A).serve(forged(genuine));
      h.transport.intercept(B).serve(genuine);
      h.client.enqueue({ hashKey: 9n, startSeq: 1n });
      await h.client.onIdle();
      expect(h.events.recovered).toMatchObject([{ upstream: B }]);
      expect(h.cache.stored.map((s) => Buffer.from(s.frame).equals(genuine))).toEqual([true]);
      expect(h.retransmitter.frames.map((f) => Buffer.from(f.frame).equals(genuine))).toEqual([
        true,
      ]);
      const reasons = h.client.stats().invalidFrames;
      expect(Object.values(reasons)).toEqual([1]);
      expect(Object.keys(reasons)[0]).toMatch(/mismatch|malformed-bundle/);
      expect(h.recorder.invalidFrames).toEqual(Object.keys(reasons));
      expectAccounting(h.client.stats(), h.events);
    },
  );

  it.each([...checkable, ...unverifiable])('a genuine %s is recovered', async (_, spec) => {
    const genuine = buildFrame({ hashKey: 9n, seq: 2n, ...spec });
    const h = harness({ upstreams: [A], verifyContent: true });
    h.transport.intercept(A).serve(genuine);
    h.client.enqueue({ hashKey: 9n, startSeq: 2n });
    await h.client.onIdle();
    expect(h.events.recovered).toHaveLength(1);
    expect(h.client.stats().invalidFrames).toEqual({});
  });

  it.each(unverifiable)(
    'a %s with a changed payload passes (nothing to check it against)',
    async (_, spec) => {
      const frame = forged(buildFrame({ hashKey: 9n, seq: 3n, ...spec }));
      const h = harness({ upstreams: [A], verifyContent: true });
      h.transport.intercept(A).serve(frame);
      h.client.enqueue({ hashKey: 9n, startSeq: 3n });
      await h.client.onIdle();
      expect(h.events.recovered).toHaveLength(1);
    },
  );

  it('malformed EF is counted, not thrown', async () => {
    const genuine = buildFrame({ hashKey: 9n, seq: 4n, extendedFormat: true });
    const payload = genuine.subarray(92, genuine.length - 40); // cut inside the outputs
    const broken = buildFrame({
      hashKey: 9n,
      seq: 4n,
      payload,
      txId: genuine.subarray(8, 40),
    });
    const h = harness({ upstreams: [A], verifyContent: true, timeoutMs: 30 });
    h.transport.intercept(A).serve(broken);
    h.client.enqueue({ hashKey: 9n, startSeq: 4n });
    await h.client.onIdle();
    expect(h.events.failed).toMatchObject([{ reason: 'exhausted' }]);
    expect(h.client.stats().invalidFrames).toEqual({ 'malformed-ef': 1 });
    expect(h.cache.stored).toHaveLength(0);
    expect(h.events.error).toEqual([]);
  });

  it('is off by default: a forged frame is taken as it is today', async () => {
    const frame = forged(buildFrame({ hashKey: 9n, seq: 5n }));
    const h = harness({ upstreams: [A] });
    h.transport.intercept(A).serve(frame);
    h.client.enqueue({ hashKey: 9n, startSeq: 5n });
    await h.client.onIdle();
    expect(h.events.recovered).toHaveLength(1);
  });
});
