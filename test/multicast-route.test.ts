import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BLOCK_GROUP_INDEX,
  DEFAULT_GROUP_ID,
  SCOPE_PREFIX,
  SUBTREE_GROUP_INDEX,
  formatIPv6,
  groupAddressBytes,
  groupAddressFor,
  groupIndexFor,
  resolveGroupOptions,
} from '../src/multicast/index.js';
import type { Scope } from '../src/multicast/index.js';
import { FrameVer, WireError } from '../src/wire/index.js';
import { buildFrame } from '../src/testing/frames.js';

/** A frame of `frameVer` whose TxID starts with the 4 bytes of `prefix`. */
function frameOf(frameVer: number, prefix = 0xa1b2c3d4, originalFrameVer?: number): Buffer {
  const txId = Buffer.alloc(32, 0x5a);
  txId.writeUInt32BE(prefix >>> 0, 0);
  if (frameVer === FrameVer.Legacy) return buildFrame({ hashKey: 0n, seq: 0n, frameVer, txId });
  const frame = buildFrame({ hashKey: 9n, seq: 3n, frameVer: FrameVer.Tx, txId });
  frame[6] = frameVer; // any version byte, including unassigned ones
  if (frameVer !== FrameVer.Fragment) return frame;
  return buildFrame({
    hashKey: 9n,
    seq: 3n,
    frameVer,
    txId,
    originalFrameVer: originalFrameVer ?? 0,
  });
}

/** Reference shard computation in bigint arithmetic, independent of the implementation. */
function shardOf(prefix: number, bits: number): number {
  return bits === 0 ? 0 : Number(BigInt(prefix >>> 0) >> BigInt(32 - bits));
}

/** Independent oracle for canonical IPv6 text: the WHATWG URL parser. */
function canonical(bytes: Uint8Array): string {
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

const SCOPES = Object.keys(SCOPE_PREFIX) as Scope[];
const REUSED_BLOCK = new Set<number>([FrameVer.Block, FrameVer.Anchor]);

function expectedIndex(version: number, prefix: number, bits: number): number {
  if (REUSED_BLOCK.has(version)) return BLOCK_GROUP_INDEX;
  if (version === FrameVer.Subtree) return SUBTREE_GROUP_INDEX;
  return shardOf(prefix, bits);
}

describe('groupIndexFor', () => {
  it('routes every FrameVer byte 0x00..0xFF (fragments as their original)', () => {
    for (let v = 0; v <= 0xff; v++) {
      const routed = v === FrameVer.Fragment ? FrameVer.Tx : v; // original byte 0x00 = tx
      expect(groupIndexFor(frameOf(v), 8), `FrameVer 0x${v.toString(16)}`).toBe(
        expectedIndex(routed, 0xa1b2c3d4, 8),
      );
    }
  });

  it('sends block and anchor frames to 0xFFFE and subtree data to 0xFFFB', () => {
    expect(groupIndexFor(frameOf(FrameVer.Block))).toBe(0xfffe);
    expect(groupIndexFor(frameOf(FrameVer.Anchor))).toBe(0xfffe);
    expect(groupIndexFor(frameOf(FrameVer.Subtree))).toBe(0xfffb);
  });

  it('shards transactions, BEEF, legacy and unknown versions by the TxID prefix', () => {
    for (const v of [FrameVer.Tx, FrameVer.Beef, FrameVer.Legacy, 0x00, 0x07, 0x42, 0xff]) {
      expect(groupIndexFor(frameOf(v, 0xa1b2c3d4), 8)).toBe(0xa1);
      expect(groupIndexFor(frameOf(v, 0xa1b2c3d4), 4)).toBe(0xa);
      expect(groupIndexFor(frameOf(v, 0xa1b2c3d4), 15)).toBe(0xa1b2 >> 1);
    }
  });

  it('routes fragments by their original version (0x00 means transaction)', () => {
    const frag = (orig: number) => frameOf(FrameVer.Fragment, 0xf0000000, orig);
    expect(groupIndexFor(frag(0x00), 8)).toBe(0xf0);
    expect(groupIndexFor(frag(FrameVer.Tx), 8)).toBe(0xf0);
    expect(groupIndexFor(frag(FrameVer.Beef), 8)).toBe(0xf0);
    expect(groupIndexFor(frag(FrameVer.Block), 8)).toBe(0xfffe);
    expect(groupIndexFor(frag(FrameVer.Anchor), 8)).toBe(0xfffe);
    expect(groupIndexFor(frag(FrameVer.Subtree), 8)).toBe(0xfffb);
    expect(frag(0x00).length).toBe(104 + 16);
  });

  it('handles shard-bit boundaries 0..15 at the extremes of the TxID prefix', () => {
    for (let bits = 0; bits <= 15; bits++) {
      for (const prefix of [0x00000000, 0xffffffff, 0x80000000, 0x7fffffff, 0x00010000]) {
        expect(groupIndexFor(frameOf(FrameVer.Tx, prefix), bits)).toBe(shardOf(prefix, bits));
      }
      expect(groupIndexFor(frameOf(FrameVer.Tx, 0xffffffff), bits)).toBe(2 ** bits - 1);
    }
    expect(groupIndexFor(frameOf(FrameVer.Tx, 0xffffffff), 0)).toBe(0);
  });

  it('matches the reference formula for random TxIDs and shard bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 15 }),
        (p, b) => {
          const index = groupIndexFor(frameOf(FrameVer.Tx, p), b);
          return index === shardOf(p, b) && index < BLOCK_GROUP_INDEX;
        },
      ),
    );
  });

  it('refuses bytes that are not a data frame', () => {
    const bad = frameOf(FrameVer.Tx);
    bad[0] = 0;
    expect(() => groupIndexFor(bad)).toThrow(WireError);
    expect(() => groupIndexFor(frameOf(FrameVer.Tx).subarray(0, 7))).toThrow(/at least 8/);
    expect(() => groupIndexFor(frameOf(FrameVer.Tx).subarray(0, 11))).toThrow(/no TxID/);
    const shortFragment = frameOf(FrameVer.Fragment).subarray(0, 100);
    expect(() => groupIndexFor(shortFragment)).toThrow(/original version/);
    // Block frames do not need a TxID to be routed.
    expect(groupIndexFor(frameOf(FrameVer.Block).subarray(0, 8))).toBe(0xfffe);
  });
});

describe('groupAddressBytes / groupAddressFor', () => {
  it('writes scope prefix, zeros, group id in bytes 12-13 and index in bytes 14-15', () => {
    for (const scope of SCOPES) {
      for (const [v, index] of [
        [FrameVer.Tx, 0xa1],
        [FrameVer.Block, 0xfffe],
        [FrameVer.Subtree, 0xfffb],
      ] as const) {
        const bytes = groupAddressBytes(frameOf(v), { scope, groupId: 0x1234 });
        const expected = Buffer.alloc(16);
        expected.writeUInt16BE(SCOPE_PREFIX[scope], 0);
        expected.writeUInt16BE(0x1234, 12);
        expected.writeUInt16BE(index, 14);
        expect(Buffer.from(bytes).toString('hex')).toBe(expected.toString('hex'));
      }
    }
  });

  it('uses site scope, group id 0x000B and 8 shard bits by default', () => {
    expect(resolveGroupOptions()).toEqual({
      scope: 'site',
      groupId: DEFAULT_GROUP_ID,
      shardBits: 8,
    });
    expect(groupAddressFor(frameOf(FrameVer.Tx, 0xa1b2c3d4))).toBe('ff05::b:a1');
    expect(groupAddressFor(frameOf(FrameVer.Block))).toBe('ff05::b:fffe');
    expect(groupAddressFor(frameOf(FrameVer.Anchor))).toBe('ff05::b:fffe');
    expect(groupAddressFor(frameOf(FrameVer.Subtree))).toBe('ff05::b:fffb');
  });

  it('formats every scope', () => {
    const f = frameOf(FrameVer.Block);
    expect(groupAddressFor(f, { scope: 'site' })).toBe('ff05::b:fffe');
    expect(groupAddressFor(f, { scope: 'org' })).toBe('ff08::b:fffe');
    expect(groupAddressFor(f, { scope: 'global' })).toBe('ff0e::b:fffe');
    expect(groupAddressFor(f, { scope: 'ssm-site' })).toBe('ff35::b:fffe');
    expect(groupAddressFor(f, { scope: 'ssm-global' })).toBe('ff3e::b:fffe');
    expect(groupAddressFor(frameOf(FrameVer.Tx, 0), { groupId: 0, shardBits: 0 })).toBe('ff05::');
    expect(groupAddressFor(frameOf(FrameVer.Tx, 0x00ffffff), { groupId: 0 })).toBe('ff05::');
    expect(groupAddressFor(frameOf(FrameVer.Tx, 0x01ffffff), { groupId: 0 })).toBe('ff05::1');
  });

  it('rejects out-of-range options, naming the option', () => {
    const f = frameOf(FrameVer.Tx);
    expect(() => groupAddressFor(f, { shardBits: 16 })).toThrow(/shardBits .*got 16/);
    expect(() => groupAddressFor(f, { shardBits: -1 })).toThrow(/shardBits/);
    expect(() => groupAddressFor(f, { shardBits: 1.5 })).toThrow(/shardBits/);
    expect(() => groupAddressFor(f, { groupId: 0x10000 })).toThrow(/groupId/);
    expect(() => groupAddressFor(f, { groupId: -1 })).toThrow(/groupId/);
    expect(() => groupAddressFor(f, { scope: 'link' as Scope })).toThrow(/scope .*got link/);
  });
});

describe('formatIPv6', () => {
  it('agrees with the WHATWG URL parser on canonical form', () => {
    const word = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (words) => {
        const bytes = new Uint8Array(16);
        words.forEach((w, i) => new DataView(bytes.buffer).setUint16(i * 2, w));
        return formatIPv6(bytes) === canonical(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('does not compress a single zero word and picks the first longest run', () => {
    const b = (...w: number[]) => {
      const out = new Uint8Array(16);
      w.forEach((x, i) => new DataView(out.buffer).setUint16(i * 2, x));
      return out;
    };
    expect(formatIPv6(b(1, 0, 2, 3, 4, 5, 6, 7))).toBe('1:0:2:3:4:5:6:7');
    expect(formatIPv6(b(1, 0, 0, 2, 0, 0, 3, 4))).toBe('1::2:0:0:3:4');
    expect(formatIPv6(b(0, 0, 0, 0, 0, 0, 0, 0))).toBe('::');
    expect(() => formatIPv6(new Uint8Array(4))).toThrow(RangeError);
  });
});
