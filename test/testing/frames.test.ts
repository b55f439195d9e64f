import { createHash } from 'node:crypto';
import { Beef, Transaction } from '@bsv/sdk';
import { describe, expect, it } from 'vitest';
import { FrameVer, decodeFrameHeader, WireError } from '../../src/index.js';
import { matchFrame } from '../../src/wire/index.js';
import { verifyFrameContent } from '../../src/wire/verify.js';
import {
  FRAME_VERSIONS,
  buildFrame,
  buildFrames,
  defaultTransaction,
  defaultTxId,
  malformedFrame,
  sampleTransaction,
} from '../../src/testing/index.js';

const BUNDLE = 0x08;
const sha256d = (b: Uint8Array): Buffer =>
  createHash('sha256').update(createHash('sha256').update(b).digest()).digest();

describe('buildFrame', () => {
  // Bundles have their own 66-byte header (see below); every other version decodes here.
  const nackable = FRAME_VERSIONS.filter((v) => v !== FrameVer.Legacy && v !== BUNDLE);

  it.each(nackable)('builds FrameVer %i that decodes to its own gap', (frameVer) => {
    const frame = buildFrame({ hashKey: 7n, seq: 42n, frameVer });
    const h = decodeFrameHeader(frame);
    expect(h).toMatchObject({ frameVer, hashKey: 7n, seq: 42n });
    expect(matchFrame(frame, 7n, 42n)).not.toBeTypeOf('string');
  });

  it.each(FRAME_VERSIONS)('FrameVer %i: content matches the header by default', (frameVer) => {
    const v = verifyFrameContent(buildFrame({ hashKey: 7n, seq: 42n, frameVer }));
    expect(v.status).not.toBe('invalid');
    const checkable = [FrameVer.Tx, FrameVer.Anchor, FrameVer.Beef, BUNDLE] as number[];
    expect(v.status).toBe(checkable.includes(frameVer) ? 'verified' : 'unverifiable');
  });

  it('carries the default transaction of its gap, raw or EF, under its TxID', () => {
    const tx = defaultTransaction(7n, 42n);
    expect(tx.txId).toEqual(defaultTxId(7n, 42n));
    expect(tx.txId).toEqual(sha256d(tx.raw));
    for (const frameVer of [FrameVer.Tx, FrameVer.Anchor]) {
      const raw = buildFrame({ hashKey: 7n, seq: 42n, frameVer });
      expect(raw.subarray(92)).toEqual(tx.raw);
      expect(raw.subarray(8, 40)).toEqual(tx.txId);
      const ef = buildFrame({ hashKey: 7n, seq: 42n, frameVer, extendedFormat: true });
      expect(ef.subarray(92)).toEqual(tx.ef);
      expect(ef.subarray(8, 40)).toEqual(tx.txId);
      expect(verifyFrameContent(ef)).toMatchObject({ status: 'verified' });
    }
    // As the SDK reads it: the EF payload is the same transaction.
    const sdk = Transaction.fromEF(
      buildFrame({ hashKey: 7n, seq: 42n, extendedFormat: true }).subarray(92),
    );
    expect(Buffer.from(sdk.hash() as number[])).toEqual(tx.txId);
  });

  it('gives each gap its own transaction', () => {
    const ids = new Set<string>();
    for (const [h, s] of [
      [0n, 0n],
      [0n, 1n],
      [1n, 0n],
      [7n, 42n],
      [0xffff_ffff_ffff_ffffn, 0xffff_ffff_ffff_ffffn],
    ] as const) {
      ids.add(defaultTxId(h, s).toString('hex'));
    }
    expect(ids.size).toBe(5);
  });

  it('a BEEF frame carries a BEEF object holding the default transaction, under its ContentID', () => {
    const frame = buildFrame({ hashKey: 7n, seq: 42n, frameVer: FrameVer.Beef });
    const payload = frame.subarray(92);
    expect(frame.subarray(8, 40)).toEqual(sha256d(payload));
    const beef = Beef.fromBinary(Array.from(payload));
    expect(beef.txs).toHaveLength(1);
    expect(beef.txs[0]?.txid).toBe(Buffer.from(defaultTxId(7n, 42n)).reverse().toString('hex'));
  });

  it('computes the TxID of a given payload, or takes a given TxID verbatim', () => {
    const s = sampleTransaction(5n, { inputs: 2, outputs: 3 });
    for (const payload of [s.raw, s.ef]) {
      expect(buildFrame({ hashKey: 1n, seq: 2n, payload }).subarray(8, 40)).toEqual(s.txId);
    }
    const anything = Buffer.from('abc');
    expect(buildFrame({ hashKey: 1n, seq: 2n, payload: anything }).subarray(8, 40)).toEqual(
      sha256d(anything),
    );
    const forged = buildFrame({ hashKey: 1n, seq: 2n, payload: s.raw, txId: Buffer.alloc(32, 9) });
    expect(forged.subarray(8, 40)).toEqual(Buffer.alloc(32, 9));
    expect(verifyFrameContent(forged)).toMatchObject({
      status: 'invalid',
      reason: 'txid-mismatch',
    });
  });

  it('refuses a malformed EF payload unless a TxID is given', () => {
    const broken = Buffer.concat([s5().ef, Buffer.of(0)]);
    expect(() => buildFrame({ hashKey: 1n, seq: 2n, payload: broken })).toThrow(
      /malformed EF \(trailing-bytes\)/,
    );
    const frame = buildFrame({ hashKey: 1n, seq: 2n, payload: broken, txId: Buffer.alloc(32) });
    expect(verifyFrameContent(frame)).toMatchObject({ status: 'invalid', reason: 'malformed-ef' });
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
    expect(frame.length).toBe(44 + defaultTransaction(1n, 2n).raw.length);
    expect(frame.subarray(8, 40)).toEqual(defaultTxId(1n, 2n));
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
    expect(() => buildFrame({ hashKey: 1n, seq: 2n ** 64n })).toThrow(/seq must be a uint64/);
  });
});

describe('bundles (FrameVer 0x08)', () => {
  it('lays out the 66-byte header and members as BRC-142 §2-§3 say', () => {
    const members = [sampleTransaction(1n).raw, sampleTransaction(2n, { inputs: 2 }).ef];
    const subtreeId = Buffer.alloc(32, 0x5e);
    const frame = buildFrame({
      hashKey: 0x0102030405060708n,
      seq: 9n,
      frameVer: BUNDLE,
      members,
      subtreeId,
      groupIdx: 0x0abc,
      shardBits: 12,
    });
    expect(frame.readUInt32BE(0)).toBe(0xe3e1f3e8);
    expect(frame.readUInt16BE(4)).toBe(0x02bf);
    expect(frame[6]).toBe(0x08);
    expect(frame[7]).toBe(0x01); // TxIDsPresent
    expect(frame.subarray(8, 40)).toEqual(subtreeId);
    expect(frame.readBigUInt64BE(40)).toBe(0x0102030405060708n);
    expect(frame.readBigUInt64BE(48)).toBe(9n);
    expect(frame.readUInt16BE(56)).toBe(0x0abc);
    expect(frame[58]).toBe(12);
    expect(frame[59]).toBe(0);
    expect(frame.readUInt16BE(60)).toBe(2);
    expect(frame.readUInt32BE(62)).toBe(frame.length - 66);
    // Each member: uint16 length, its TxID (as the SDK computes it), the transaction.
    const sdkIds = [Transaction.fromBinary(members[0]!), Transaction.fromEF(members[1]!)].map((t) =>
      Buffer.from(t.hash() as number[]),
    );
    let at = 66;
    members.forEach((tx, i) => {
      expect(frame.readUInt16BE(at)).toBe(tx.length);
      expect(frame.subarray(at + 2, at + 34)).toEqual(sdkIds[i]);
      expect(frame.subarray(at + 34, at + 34 + tx.length)).toEqual(tx);
      at += 34 + tx.length;
    });
    expect(at).toBe(frame.length);
  });

  it("member TxIDs are the transactions' TxIDs (EF members: of their raw form)", () => {
    const a = sampleTransaction(1n);
    const b = sampleTransaction(2n, { inputs: 3 });
    const frame = buildFrame({ hashKey: 1n, seq: 1n, frameVer: BUNDLE, members: [a.raw, b.ef] });
    expect(frame.subarray(66 + 2, 66 + 34)).toEqual(a.txId);
    const second = 66 + 34 + a.raw.length;
    expect(frame.subarray(second + 2, second + 34)).toEqual(b.txId);
    expect(verifyFrameContent(frame)).toEqual({ status: 'verified', content: 'bundle' });
  });

  it('without TxIDs: members are `uint16 length ∥ tx` and Flags is 0', () => {
    const a = sampleTransaction(1n);
    const frame = buildFrame({
      hashKey: 1n,
      seq: 1n,
      frameVer: BUNDLE,
      members: [a.raw, a.raw],
      txIdsPresent: false,
    });
    expect(frame[7]).toBe(0);
    expect(frame.length).toBe(66 + 2 * (2 + a.raw.length));
    expect(frame.subarray(68, 68 + a.raw.length)).toEqual(a.raw);
  });

  it('by default holds three distinct transactions of its own', () => {
    const frame = buildFrame({ hashKey: 7n, seq: 42n, frameVer: BUNDLE });
    expect(frame.readUInt16BE(60)).toBe(3);
    const ids = new Set<string>([defaultTxId(7n, 42n).toString('hex')]);
    let at = 66;
    for (let i = 0; i < 3; i++) {
      ids.add(frame.subarray(at + 2, at + 34).toString('hex'));
      at += 34 + frame.readUInt16BE(at);
    }
    expect(ids.size).toBe(4);
    const ef = buildFrame({ hashKey: 7n, seq: 42n, frameVer: BUNDLE, extendedFormat: true });
    expect(ef.subarray(66 + 2, 66 + 34)).toEqual(frame.subarray(66 + 2, 66 + 34));
    expect(ef.length).toBeGreaterThan(frame.length);
  });

  it('refuses what a bundle cannot carry', () => {
    const bundle = { hashKey: 1n, seq: 1n, frameVer: BUNDLE };
    expect(() => buildFrame({ ...bundle, txId: Buffer.alloc(32) })).toThrow(/txId: a bundle/);
    expect(() => buildFrame({ ...bundle, payload: Buffer.alloc(3) })).toThrow(/payload: a bundle/);
    expect(() => buildFrame({ ...bundle, groupIdx: 0x10000 })).toThrow(/groupIdx/);
    expect(() => buildFrame({ ...bundle, shardBits: -1 })).toThrow(/shardBits/);
    expect(() => buildFrame({ ...bundle, members: [Buffer.alloc(0x10000)] })).toThrow(
      /members\[0\]/,
    );
    const brokenEf = Buffer.concat([s5().ef, Buffer.of(0)]);
    expect(() => buildFrame({ ...bundle, members: [brokenEf] })).toThrow(
      /members\[0\] is malformed EF/,
    );
    // Without TxIDs nothing is hashed, so any bytes may be a member.
    expect(buildFrame({ ...bundle, members: [brokenEf], txIdsPresent: false }).length).toBe(
      66 + 2 + brokenEf.length,
    );
  });
});

describe('sampleTransaction', () => {
  it('has the requested shape and a realistic size', () => {
    expect(sampleTransaction(1n).raw.length).toBe(226);
    const tx = Transaction.fromBinary(sampleTransaction(1n, { inputs: 3, outputs: 5 }).raw);
    expect(tx.inputs).toHaveLength(3);
    expect(tx.outputs).toHaveLength(5);
    expect(tx.outputs.every((o) => o.lockingScript.toHex().match(/^76a914[0-9a-f]{40}88ac$/))).toBe(
      true,
    );
  });

  it('is deterministic and writes the seed as the first previous TxID', () => {
    expect(sampleTransaction(42n)).toEqual(sampleTransaction(42n));
    const seed = 0x0102n;
    const raw = sampleTransaction(seed).raw;
    expect(raw.subarray(5, 37)).toEqual(Buffer.concat([Buffer.alloc(30), Buffer.of(1, 2)]));
  });

  it('refuses a seed or shape out of range', () => {
    expect(() => sampleTransaction(-1n)).toThrow(/seed/);
    expect(() => sampleTransaction(1n << 256n)).toThrow(/seed/);
    expect(() => sampleTransaction(1n, { inputs: 0 })).toThrow(/inputs/);
    expect(() => sampleTransaction(1n, { outputs: 1.5 })).toThrow(/outputs/);
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

function s5(): ReturnType<typeof sampleTransaction> {
  return sampleTransaction(5n);
}

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

describe('malformedFrame on a bundle', () => {
  it('breaks the bundle header fields, not the 92-byte ones', () => {
    const spec = { hashKey: 1n, seq: 2n, frameVer: BUNDLE };
    const genuine = buildFrame(spec);
    expect(malformedFrame('truncated', spec).length).toBe(65);
    const long = malformedFrame('length-mismatch', spec);
    expect(long.readUInt32BE(62)).toBe(genuine.readUInt32BE(62) + 1);
    expect(verifyFrameContent(long)).toMatchObject({ reason: 'malformed-frame' });
    expect(malformedFrame('bad-magic', spec).readUInt32BE(0)).toBe(0xdeadbeef);
  });
});
