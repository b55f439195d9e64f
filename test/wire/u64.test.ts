/**
 * Every uint64 field against Node's own big-endian reader and writer, over the values where
 * the codecs switch between their Number and bigint paths (around 2^31, 2^32 and 2^53).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cacheKey,
  decodeFrameHeader,
  decodeNack,
  decodeResponse,
  encodeNack,
  encodeResponse,
  matchFrame,
} from '../../src/wire/index.js';

const EDGES = [
  0n,
  1n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x1_8000_0001n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  0x3f_ffff_ffff_ffffn,
  (1n << 54n) + 3n,
  1n << 63n,
  0xffff_ffff_ffff_ffffn,
];
const u64 = fc.oneof(fc.constantFrom(...EDGES), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
const RUNS = { numRuns: 400 };

describe('uint64 fields', () => {
  it('cacheKey writes what Buffer.writeBigUInt64BE writes', () => {
    fc.assert(
      fc.property(u64, u64, (hashKey, seq) => {
        const want = Buffer.alloc(16);
        want.writeBigUInt64BE(hashKey, 0);
        want.writeBigUInt64BE(seq, 8);
        expect(Buffer.from(cacheKey(hashKey, seq)).equals(want)).toBe(true);
      }),
      RUNS,
    );
  });

  it('encodeNack writes, and decodeNack reads, what Node reads', () => {
    fc.assert(
      fc.property(u64, u64, u64, (hashKey, a, b) => {
        const [startSeq, endSeq] = a <= b ? [a, b] : [b, a];
        const bytes = Buffer.from(encodeNack({ hashKey, startSeq, endSeq }));
        expect([8, 16, 24].map((at) => bytes.readBigUInt64BE(at))).toEqual([
          hashKey,
          startSeq,
          endSeq,
        ]);
        expect(decodeNack(bytes)).toMatchObject({ hashKey, startSeq, endSeq });
      }),
      RUNS,
    );
  });

  it('response SeqNum round-trips through Node', () => {
    fc.assert(
      fc.property(u64, (seq) => {
        const ack = Buffer.from(encodeResponse({ kind: 'ack', seq }));
        expect(ack.readBigUInt64BE(8)).toBe(seq);
        expect(decodeResponse(ack)).toMatchObject({ seq });
        const throttled = Buffer.alloc(16);
        encodeResponse({ kind: 'throttled', seq, bucket: 1 }, throttled);
        expect(decodeResponse(throttled)).toMatchObject({ seq });
      }),
      RUNS,
    );
  });

  it('frames stamped by Node decode and match exactly their own HashKey and SeqNum', () => {
    fc.assert(
      fc.property(u64, u64, fc.integer({ min: 0, max: 63 }), (hashKey, seq, bit) => {
        const f = Buffer.alloc(92);
        f.writeUInt32BE(0xe3e1f3e8, 0);
        f[6] = 0x02;
        f.writeBigUInt64BE(hashKey, 40);
        f.writeBigUInt64BE(seq, 48);
        expect(decodeFrameHeader(f)).toMatchObject({ hashKey, seq });
        expect(matchFrame(f, hashKey, seq)).toMatchObject({ hashKey, seq });
        const flip = 1n << BigInt(bit);
        expect(matchFrame(f, hashKey ^ flip, seq)).toBe('wrong-gap');
        expect(matchFrame(f, hashKey, seq ^ flip)).toBe('wrong-gap');
      }),
      RUNS,
    );
  });

  it('matchFrame refuses values that are not uint64 bigints instead of throwing', () => {
    const f = Buffer.alloc(92);
    f.writeUInt32BE(0xe3e1f3e8, 0);
    f[6] = 0x02;
    for (const bad of [-1n, 1n << 64n, 0, '0', undefined]) {
      expect(matchFrame(f, bad as bigint, 0n)).toBe('wrong-gap');
      expect(matchFrame(f, 0n, bad as bigint)).toBe('wrong-gap');
    }
    expect(matchFrame(f, 0n, 0n)).toMatchObject({ hashKey: 0n, seq: 0n });
  });
});
