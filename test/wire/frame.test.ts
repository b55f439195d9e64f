import { describe, expect, it } from 'vitest';
import { FrameVer, WireError, cacheKey, decodeFrameHeader } from '../../src/index.js';
import { cacheKeyHex, matchFrame } from '../../src/wire/index.js';
import { buildFrame } from '../../src/testing/index.js';

describe('frame header', () => {
  it('reads every field at its offset in the 92-byte data frame header', () => {
    const frame = Buffer.alloc(92 + 3);
    frame.writeUInt32BE(0xe3e1f3e8, 0);
    frame.writeUInt16BE(0x02bf, 4);
    frame[6] = 0x05;
    frame[7] = 0x42;
    frame.fill(0x11, 8, 40);
    frame.writeBigUInt64BE(0xaabbn, 40);
    frame.writeBigUInt64BE(0x77n, 48);
    frame.fill(0x22, 56, 88);
    frame.writeUInt32BE(3, 88);
    const h = decodeFrameHeader(frame);
    expect(h).toMatchObject({
      frameVer: 5,
      msgType: 0x42,
      protoVer: 0x02bf,
      hashKey: 0xaabbn,
      seq: 0x77n,
      payloadLength: 3,
      headerSize: 92,
      originalFrameVer: 5,
      ttlClass: 'subtree',
    });
    expect(Buffer.from(h.txId).equals(Buffer.alloc(32, 0x11))).toBe(true);
    expect(Buffer.from(h.subtreeId).equals(Buffer.alloc(32, 0x22))).toBe(true);
  });

  it.each([
    [FrameVer.Tx, 'tx'],
    [FrameVer.Block, 'block'],
    [FrameVer.Subtree, 'subtree'],
    [FrameVer.Anchor, 'anchor'],
    [FrameVer.Beef, 'beef'],
    [FrameVer.BlockHeader, 'tx'],
    [0x0a, 'tx'],
    [0xff, 'tx'],
  ])('FrameVer 0x%s maps to TTL class %s', (frameVer, ttlClass) => {
    // A block header frame always carries one 80-byte block header.
    const payload = Buffer.alloc(frameVer === FrameVer.BlockHeader ? 80 : 16);
    expect(
      decodeFrameHeader(buildFrame({ hashKey: 1n, seq: 1n, frameVer, payload })).ttlClass,
    ).toBe(ttlClass);
  });

  it.each([
    [0x00, FrameVer.Tx, 'tx'],
    [FrameVer.Block, FrameVer.Block, 'block'],
    [FrameVer.Beef, FrameVer.Beef, 'beef'],
    [FrameVer.Anchor, FrameVer.Anchor, 'anchor'],
  ])(
    'a fragment with original version 0x%s uses that version class',
    (orig, resolved, ttlClass) => {
      const f = buildFrame({
        hashKey: 3n,
        seq: 4n,
        frameVer: FrameVer.Fragment,
        originalFrameVer: orig,
      });
      expect(f.length).toBe(104 + 16);
      expect(f[100]).toBe(orig);
      const h = decodeFrameHeader(f);
      expect(h).toMatchObject({
        headerSize: 104,
        frameVer: 3,
        originalFrameVer: resolved,
        ttlClass,
        hashKey: 3n,
        seq: 4n,
      });
    },
  );

  it('refuses legacy frames, bad magic, short headers and a payload length that disagrees', () => {
    const codes = [
      buildFrame({ hashKey: 1n, seq: 1n, frameVer: FrameVer.Legacy }),
      Buffer.alloc(100),
      buildFrame({ hashKey: 1n, seq: 1n }).subarray(0, 91),
      buildFrame({ hashKey: 1n, seq: 1n, frameVer: FrameVer.Fragment }).subarray(0, 100),
      buildFrame({ hashKey: 1n, seq: 1n }).subarray(0, 100),
      Buffer.concat([buildFrame({ hashKey: 1n, seq: 1n }), Buffer.alloc(1)]),
    ].map((b) => {
      try {
        decodeFrameHeader(b);
        return 'decoded';
      } catch (err) {
        return err instanceof WireError ? err.code : 'other';
      }
    });
    expect(codes).toEqual(['legacy', 'magic', 'length', 'length', 'length', 'length']);
  });

  it('reads a header alone when exact is false', () => {
    const header = buildFrame({ hashKey: 1n, seq: 2n }).subarray(0, 92);
    expect(decodeFrameHeader(header, false).seq).toBe(2n);
  });

  it('matchFrame accepts only the requested gap', () => {
    const f = buildFrame({ hashKey: 9n, seq: 10n });
    expect(matchFrame(f, 9n, 10n)).toMatchObject({ seq: 10n });
    expect(matchFrame(f, 9n, 11n)).toBe('wrong-gap');
    expect(matchFrame(f, 8n, 10n)).toBe('wrong-gap');
    expect(matchFrame(buildFrame({ hashKey: 9n, seq: 10n, frameVer: 1 }), 9n, 10n)).toBe('legacy');
    expect(matchFrame(f.subarray(0, 50), 9n, 10n)).toBe('malformed');
  });
});

describe('cacheKey', () => {
  it('is HashKey ∥ SeqNum, big-endian, 16 bytes', () => {
    expect(Buffer.from(cacheKey(0x0102n, 0xffn)).toString('hex')).toBe(
      '0000000000000102' + '00000000000000ff',
    );
    expect(cacheKeyHex(0x0102n, 0xffn)).toBe('000000000000010200000000000000ff');
  });

  it('returns a fresh key each call', () => {
    const a = cacheKey(0x8000_0000_0000_0001n, 2n);
    const b = cacheKey(3n, 4n);
    expect(b).not.toBe(a);
    expect(Buffer.from(a).toString('hex')).toBe('8000000000000001' + '0000000000000002');
  });

  it('writes into the caller buffer and refuses non-uint64 values', () => {
    const buf = Buffer.alloc(18);
    expect(cacheKey(1n, 2n, buf, 2)).toBe(buf);
    expect(buf.subarray(2).toString('hex')).toBe('0000000000000001' + '0000000000000002');
    expect(() => cacheKey(-1n, 0n)).toThrow(WireError);
    expect(() => cacheKeyHex(1n, 1n << 64n)).toThrow(/seq must be a uint64 bigint/);
    expect(() => cacheKey(1n, 2n, Buffer.alloc(16), 1)).toThrow(/16 bytes at offset 1/);
  });
});
