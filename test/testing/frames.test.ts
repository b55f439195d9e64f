import { describe, expect, it } from 'vitest';
import { FrameVer, decodeFrameHeader, matchFrame, WireError } from '../../src/index.js';
import {
  FRAME_VERSIONS,
  buildFrame,
  buildFrames,
  defaultTxId,
  malformedFrame,
} from '../../src/testing/index.js';

describe('buildFrame', () => {
  const nackable = FRAME_VERSIONS.filter((v) => v !== FrameVer.Legacy);

  it.each(nackable)('builds FrameVer %i that decodes to its own gap', (frameVer) => {
    const frame = buildFrame({ hashKey: 7n, seq: 42n, frameVer });
    const h = decodeFrameHeader(frame);
    expect(h).toMatchObject({ frameVer, hashKey: 7n, seq: 42n, payloadLength: 16 });
    expect(Buffer.from(h.txId)).toEqual(defaultTxId(7n, 42n));
    expect(matchFrame(frame, 7n, 42n)).not.toBeTypeOf('string');
  });

  it('gives each version the TTL class of the design table', () => {
    const cls = (frameVer: number, originalFrameVer?: number) =>
      decodeFrameHeader(buildFrame({ hashKey: 1n, seq: 1n, frameVer, originalFrameVer })).ttlClass;
    expect(cls(FrameVer.Tx)).toBe('tx');
    expect(cls(FrameVer.Block)).toBe('block');
    expect(cls(FrameVer.Subtree)).toBe('subtree');
    expect(cls(FrameVer.Anchor)).toBe('anchor');
    expect(cls(FrameVer.Beef)).toBe('beef');
    expect(cls(0x7f)).toBe('tx');
    expect(cls(FrameVer.Fragment, FrameVer.Block)).toBe('block');
    expect(cls(FrameVer.Fragment, 0)).toBe('tx');
  });

  it('builds a 104-byte fragment header with the original version at byte 100', () => {
    const frame = buildFrame({
      hashKey: 1n,
      seq: 2n,
      frameVer: FrameVer.Fragment,
      originalFrameVer: FrameVer.Anchor,
      payload: Buffer.from('abc'),
    });
    expect(frame.length).toBe(104 + 3);
    expect(frame[100]).toBe(FrameVer.Anchor);
    expect(decodeFrameHeader(frame).headerSize).toBe(104);
  });

  it('builds a 44-byte legacy frame that cannot be NACKed', () => {
    const frame = buildFrame({ hashKey: 1n, seq: 2n, frameVer: FrameVer.Legacy });
    expect(frame.length).toBe(44 + 16);
    expect(() => decodeFrameHeader(frame)).toThrow(WireError);
    expect(matchFrame(frame, 1n, 2n)).toBe('legacy');
  });

  it('writes the given fields verbatim', () => {
    const txId = Buffer.alloc(32, 0xaa);
    const subtreeId = Buffer.alloc(32, 0xbb);
    const frame = buildFrame({ hashKey: 3n, seq: 4n, txId, subtreeId, msgType: 9 });
    const h = decodeFrameHeader(frame);
    expect(Buffer.from(h.txId)).toEqual(txId);
    expect(Buffer.from(h.subtreeId)).toEqual(subtreeId);
    expect(h.msgType).toBe(9);
  });

  it('refuses fields of the wrong size or range', () => {
    expect(() => buildFrame({ hashKey: 1n, seq: 1n, txId: Buffer.alloc(31) })).toThrow(/txId/);
    expect(() => buildFrame({ hashKey: 1n, seq: 1n, subtreeId: Buffer.alloc(1) })).toThrow(
      /subtreeId/,
    );
    expect(() => buildFrame({ hashKey: -1n, seq: 1n })).toThrow(RangeError);
  });
});

describe('buildFrames', () => {
  it('builds one frame per sequence number, inclusive', () => {
    const frames = buildFrames(5n, 10n, 12n, { frameVer: FrameVer.Beef });
    expect(frames.map((f) => decodeFrameHeader(f).seq)).toEqual([10n, 11n, 12n]);
    expect(frames.every((f) => f[6] === FrameVer.Beef)).toBe(true);
    expect(buildFrames(5n, 3n, 2n)).toEqual([]);
  });
});

describe('malformedFrame', () => {
  it.each([
    ['bad-magic', 'malformed'],
    ['truncated', 'malformed'],
    ['length-mismatch', 'malformed'],
    ['legacy', 'legacy'],
  ] as const)('%s is refused by matchFrame as %s', (how, why) => {
    expect(matchFrame(malformedFrame(how, { hashKey: 1n, seq: 2n }), 1n, 2n)).toBe(why);
  });
});
