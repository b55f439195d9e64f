import { describe, expect, it } from 'vitest';
import {
  FLAG_PROXIED,
  FrameVer,
  cacheKey,
  decodeFrameHeader,
  encodeNack,
  matchFrame,
} from '../../src/index.js';
import {
  fastCacheKey,
  frameFacts,
  frameMismatch,
  half,
  isZeroId,
  proxiedNack,
  splitHalves,
} from '../../src/wire/fast.js';
import { buildFrame, malformedFrame } from '../../src/testing/index.js';

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const VALUES = [
  0n,
  1n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  1n << 63n,
  U64_MAX,
];

function mismatch(frame: Buffer, hashKey: bigint, seq: bigint): string | undefined {
  splitHalves(hashKey, seq);
  return frameMismatch(frame, half(0), half(1), half(2), half(3));
}

describe('hot-path codecs agree with the public ones', () => {
  it('proxiedNack is byte-for-byte encodeNack with FLAG_PROXIED and StartSeq = EndSeq', () => {
    const subtreeId = new Uint8Array(32).map((_, i) => i + 1);
    for (const hashKey of VALUES) {
      for (const seq of VALUES) {
        for (const st of [undefined, subtreeId]) {
          const want = encodeNack({
            hashKey,
            startSeq: seq,
            endSeq: seq,
            subtreeId: st,
            flags: FLAG_PROXIED,
          });
          expect(Buffer.from(proxiedNack(hashKey, seq, st))).toEqual(Buffer.from(want));
        }
      }
    }
  });

  it('each proxiedNack is its own buffer (a later one does not overwrite it)', () => {
    const a = proxiedNack(1n, 2n, undefined);
    const copy = Buffer.from(a);
    proxiedNack(3n, 4n, new Uint8Array(32).fill(9));
    expect(Buffer.from(a)).toEqual(copy);
  });

  it('fastCacheKey equals cacheKey and is a fresh Buffer each time', () => {
    for (const hashKey of VALUES) {
      for (const seq of VALUES) {
        expect(fastCacheKey(hashKey, seq)).toEqual(cacheKey(hashKey, seq));
      }
    }
    const a = fastCacheKey(1n, 2n);
    fastCacheKey(5n, 6n);
    expect(a).toEqual(cacheKey(1n, 2n));
    expect(Buffer.isBuffer(a)).toBe(true);
  });

  it('splitHalves/half give the big-endian int32 halves', () => {
    splitHalves(0x0102_0304_8506_0708n, U64_MAX);
    expect([half(0), half(1), half(2), half(3)]).toEqual([0x01020304, 0x85060708 | 0, -1, -1]);
  });

  it('frameMismatch answers as matchFrame does', () => {
    const cases: [Buffer, bigint, bigint][] = [];
    for (const frameVer of [FrameVer.Tx, FrameVer.Block, FrameVer.Fragment, FrameVer.Beef]) {
      for (const v of [0n, 0x8000_0000n, U64_MAX]) {
        const frame = buildFrame({ hashKey: v, seq: v, frameVer });
        cases.push([frame, v, v], [frame, v, v ^ 1n], [frame, v ^ (1n << 40n), v]);
      }
    }
    for (const how of ['bad-magic', 'truncated', 'length-mismatch', 'legacy'] as const) {
      cases.push([malformedFrame(how, { hashKey: 7n, seq: 8n }), 7n, 8n]);
    }
    cases.push([Buffer.alloc(0), 1n, 1n], [Buffer.alloc(7), 1n, 1n]);
    for (const [frame, hashKey, seq] of cases) {
      const want = matchFrame(frame, hashKey, seq);
      expect(mismatch(frame, hashKey, seq)).toBe(typeof want === 'string' ? want : undefined);
    }
  });

  it('frameFacts reports the TTL class and TxID decodeFrameHeader reports', () => {
    const versions = [FrameVer.Tx, FrameVer.Block, FrameVer.Subtree, FrameVer.Anchor, 0x7f];
    for (const frameVer of versions) {
      const frame = buildFrame({ hashKey: 1n, seq: 2n, frameVer });
      const h = decodeFrameHeader(frame);
      expect(frameFacts(frame)).toEqual({ ttlClass: h.ttlClass, txId: h.txId });
    }
    for (const originalFrameVer of [0, FrameVer.Block, FrameVer.Subtree, FrameVer.Beef]) {
      const frame = buildFrame({
        hashKey: 1n,
        seq: 2n,
        frameVer: FrameVer.Fragment,
        originalFrameVer,
      });
      const h = decodeFrameHeader(frame);
      expect(frameFacts(frame).ttlClass).toBe(h.ttlClass);
    }
  });

  it('isZeroId tells unset SubtreeIDs', () => {
    expect(isZeroId(new Uint8Array(32))).toBe(true);
    const id = new Uint8Array(32);
    id[31] = 1;
    expect(isZeroId(id)).toBe(false);
  });
});
