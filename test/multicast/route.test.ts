import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_GROUP_ID,
  MAX_BEEF_SHARD_BITS,
  MAX_SHARD_BITS,
  SCOPE_PREFIX,
  formatIPv6,
  groupAddressBytes,
  groupAddressFor,
  groupIndexFor,
  resolveGroupOptions,
} from '../../src/multicast/index.js';
import type { Scope } from '../../src/multicast/index.js';
import { WireError } from '../../src/wire/index.js';
import {
  beefFrame,
  bundleFrame,
  fragmentFrame,
  frame92,
  key32,
  legacyFrame,
  topicId,
} from '../helpers/spec-frames.js';

// Expected values come from the published rules, computed here in bigint arithmetic:
// BRC-129 shard = top `bits` bits of the key's first 4 bytes; BRC-148 BEEF plane = 0x1000 + shard
// of the TopicID; control groups 0xFFFE (block, anchor) and 0xFFFB (subtree data).
function shardOf(key: Uint8Array, bits: number): number {
  const prefix = BigInt(Buffer.from(key).readUInt32BE(0));
  return bits === 0 ? 0 : Number(prefix >> BigInt(32 - bits));
}
const BLOCK = 0xfffe;
const SUBTREE = 0xfffb;
const BEEF_BASE = 0x1000;

const TX_WIDTHS = [0, 1, 4, 8, 11, 12];
const BEEF_WIDTHS = [0, 1, 4, 8, 12, 13, 15];
const EDGE_PREFIXES = [0x00000000, 0xffffffff, 0x80000000, 0x7fffffff, 0x00010000, 0xabcdef01];

describe('transaction plane (BRC-129): shard of the TxID at offset 8', () => {
  it('shards transaction frames at every width 0..12', () => {
    for (const bits of TX_WIDTHS) {
      for (const prefix of EDGE_PREFIXES) {
        const txId = key32(prefix);
        const index = groupIndexFor(frame92({ frameVer: 0x02, id: txId }), { shardBits: bits });
        expect(index, `prefix ${prefix.toString(16)} at ${bits} bits`).toBe(shardOf(txId, bits));
      }
    }
    const top = frame92({ frameVer: 0x02, id: key32(0xffffffff) });
    expect(groupIndexFor(top, { shardBits: 12 })).toBe(0x0fff);
    expect(groupIndexFor(frame92({ frameVer: 0x02, id: key32(0xa1b2c3d4) }))).toBe(0xa1);
  });

  it('matches the BRC-129 formula and stays below 0x1000 for random TxIDs and widths', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: MAX_SHARD_BITS }),
        (txId, bits) => {
          const index = groupIndexFor(frame92({ frameVer: 0x02, id: txId }), { shardBits: bits });
          return index === shardOf(txId, bits) && index < 0x1000;
        },
      ),
    );
  });

  it('shards legacy (44-byte header) frames by the TxID at offset 8 too', () => {
    const txId = key32(0x3c000000);
    expect(groupIndexFor(legacyFrame(txId), { shardBits: 8 })).toBe(0x3c);
    expect(groupIndexFor(legacyFrame(txId), { shardBits: 12 })).toBe(0x3c0);
  });

  it('shards every version without a rule of its own by offset 8', () => {
    const own = new Set([0x03, 0x04, 0x05, 0x06, 0x08, 0x09]);
    const id = key32(0xc4d50000);
    for (let v = 0; v <= 0xff; v++) {
      if (own.has(v)) continue;
      const frame = frame92({ frameVer: v, id, at56: key32(0x11111111) });
      expect(groupIndexFor(frame, { shardBits: 8 }), `FrameVer 0x${v.toString(16)}`).toBe(0xc4);
    }
  });

  it('refuses 13..16 transaction shard bits with a RangeError naming shardBits', () => {
    const tx = frame92({ frameVer: 0x02, id: key32(0xffffffff) });
    expect(MAX_SHARD_BITS).toBe(12);
    for (const bits of [13, 14, 15, 16]) {
      const message = new RegExp(`shardBits must be an integer in 0\\.\\.12 .*got ${bits}$`);
      expect(() => groupIndexFor(tx, { shardBits: bits })).toThrow(RangeError);
      expect(() => groupIndexFor(tx, { shardBits: bits })).toThrow(message);
      expect(() => groupAddressFor(tx, { shardBits: bits })).toThrow(message);
      expect(() => resolveGroupOptions({ shardBits: bits })).toThrow(message);
      // An explicit BEEF width does not make a wide transaction plane acceptable.
      expect(() => resolveGroupOptions({ shardBits: bits, beefShardBits: 4 })).toThrow(message);
    }
    expect(() => resolveGroupOptions({ shardBits: 13 })).toThrow(
      /0x1000 up belong to object planes/,
    );
    for (const bad of [-1, 1.5, Number.NaN, '8' as unknown as number]) {
      expect(() => resolveGroupOptions({ shardBits: bad })).toThrow(/^shardBits must be/);
    }
  });
});

describe('BRC-142 bundle (FrameVer 0x08): the GroupIdx its header carries', () => {
  it('routes by the uint16 at offset 56, not by the SubtreeID at offset 8', () => {
    const subtreeId = key32(0xee000000); // would be shard 0xEE at 8 bits
    for (const groupIdx of [0x0000, 0x0001, 0x00a1, 0x07ff, 0x0fff]) {
      for (const shardBits of [0, 4, 8, 12]) {
        const bundle = bundleFrame({ groupIdx, subtreeId, shardBits: 8 });
        expect(groupIndexFor(bundle, { shardBits }), `0x${groupIdx.toString(16)}`).toBe(groupIdx);
      }
    }
  });

  it('uses the carried index as is, whatever its ShardBits byte or member bytes say', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 255 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 4 }),
        (groupIdx, subtreeId, shardBits, members) =>
          groupIndexFor(bundleFrame({ groupIdx, subtreeId, shardBits, members })) === groupIdx,
      ),
    );
  });

  it('addresses the bundle group and refuses a bundle that ends before GroupIdx', () => {
    expect(groupAddressFor(bundleFrame({ groupIdx: 0x00a1 }))).toBe('ff05::b:a1');
    expect(groupAddressFor(bundleFrame({ groupIdx: 0x0fff }), { scope: 'ssm-site' })).toBe(
      'ff35::b:fff',
    );
    const short = bundleFrame({ groupIdx: 0x00a1 }).subarray(0, 57);
    expect(() => groupIndexFor(short)).toThrow(WireError);
    expect(() => groupIndexFor(short)).toThrow(/bundle: 57 bytes, no GroupIdx/);
  });
});

describe('BRC-149 BEEF object (FrameVer 0x09): BEEF plane, by TopicID', () => {
  const topics = ['tm_uhrp_files', 'tm_ship', 'tm_slap', 'tm_retrans', 'tm_tokens'].map(topicId);

  it('routes to 0x1000 + the TopicID shard at every BEEF plane width', () => {
    for (const bits of BEEF_WIDTHS) {
      for (const topic of [...topics, ...EDGE_PREFIXES.map((p) => key32(p))]) {
        const index = groupIndexFor(beefFrame({ topicId: topic }), { beefShardBits: bits });
        expect(index).toBe(BEEF_BASE + shardOf(topic, bits));
        expect(index).toBeGreaterThanOrEqual(0x1000);
        expect(index).toBeLessThan(0x1000 + 2 ** bits);
      }
    }
  });

  it('gives hand-computed indices for TopicID prefix 0xABCDEF01', () => {
    const beef = beefFrame({ topicId: key32(0xabcdef01) });
    expect(groupIndexFor(beef, { beefShardBits: 0 })).toBe(0x1000);
    expect(groupIndexFor(beef, { beefShardBits: 4 })).toBe(0x100a);
    expect(groupIndexFor(beef, { beefShardBits: 12 })).toBe(0x1abc);
    expect(groupIndexFor(beef, { beefShardBits: 15 })).toBe(0x1000 + 0x55e6); // 0xABCD >> 1
    expect(groupAddressFor(beef, { beefShardBits: 12 })).toBe('ff05::b:1abc');
    // The widest plane's last group, 0x8FFF, stays below the control groups at 0xF800.
    const top = beefFrame({ topicId: key32(0xffffffff) });
    expect(groupIndexFor(top, { beefShardBits: MAX_BEEF_SHARD_BITS })).toBe(0x8fff);
  });

  it('never routes by the ContentID at offset 8', () => {
    const topic = topicId('tm_uhrp_files');
    const contentIds = EDGE_PREFIXES.map((p) => key32(p, 0x33));
    for (const bits of BEEF_WIDTHS) {
      const indices = contentIds.map((contentId) =>
        groupIndexFor(beefFrame({ topicId: topic, contentId }), {
          shardBits: Math.min(bits, MAX_SHARD_BITS),
          beefShardBits: bits,
        }),
      );
      expect(new Set(indices)).toEqual(new Set([BEEF_BASE + shardOf(topic, bits)]));
    }
    // One object sent to two topics: same ContentID, different groups.
    const contentId = key32(0x12345678);
    const a = beefFrame({ contentId, topicId: key32(0x10000000) });
    const b = beefFrame({ contentId, topicId: key32(0xf0000000) });
    expect(groupIndexFor(a, { beefShardBits: 4 })).toBe(0x1001);
    expect(groupIndexFor(b, { beefShardBits: 4 })).toBe(0x100f);
    // The transaction-plane group of the ContentID (what a TxID rule would pick) is not used.
    expect(groupIndexFor(a)).not.toBe(shardOf(contentId, 8));
  });

  it('takes the BEEF width from shardBits unless beefShardBits is set', () => {
    const topic = key32(0xabcdef01);
    const beef = beefFrame({ topicId: topic });
    const tx = frame92({ frameVer: 0x02, id: topic });
    expect(resolveGroupOptions({ shardBits: 4 }).beefShardBits).toBe(4);
    expect(groupIndexFor(beef, { shardBits: 4 })).toBe(0x100a);
    expect(groupIndexFor(beef)).toBe(0x10ab); // default shardBits 8
    expect(groupIndexFor(beef, { shardBits: 4, beefShardBits: 12 })).toBe(0x1abc);
    expect(groupIndexFor(beef, { shardBits: 12, beefShardBits: 0 })).toBe(0x1000);
    // The BEEF width never changes where transactions go.
    expect(groupIndexFor(tx, { shardBits: 4, beefShardBits: 12 })).toBe(0xa);
    expect(groupIndexFor(tx, { shardBits: 12, beefShardBits: 1 })).toBe(0xabc);
  });

  it('refuses BEEF plane widths that reach the control groups, naming beefShardBits', () => {
    const beef = beefFrame({ topicId: topicId('tm_ship') });
    expect(MAX_BEEF_SHARD_BITS).toBe(15);
    for (const bad of [16, 17, 32, -1, 1.5, Number.NaN, '4' as unknown as number]) {
      const shown = String(bad);
      expect(() => groupIndexFor(beef, { beefShardBits: bad })).toThrow(RangeError);
      expect(() => resolveGroupOptions({ beefShardBits: bad })).toThrow(
        new RegExp(`^beefShardBits must be an integer in 0\\.\\.15 .*0xF800.*got ${shown}$`),
      );
    }
    for (const ok of BEEF_WIDTHS) {
      expect(resolveGroupOptions({ beefShardBits: ok }).beefShardBits).toBe(ok);
    }
  });

  it('refuses a BEEF frame that ends before its TopicID', () => {
    const short = beefFrame({ topicId: topicId('tm_ship') }).subarray(0, 87);
    expect(() => groupIndexFor(short)).toThrow(WireError);
    expect(() => groupIndexFor(short)).toThrow(
      /87 bytes, too short for its TopicID \(bytes 56\.\.88\)/,
    );
  });
});

describe('control groups (BRC-131, BRC-132, BRC-134)', () => {
  it('sends block control and anchor frames to 0xFFFE, subtree data to 0xFFFB', () => {
    for (const shardBits of [0, 8, 12]) {
      const id = key32(0x12345678);
      expect(groupIndexFor(frame92({ frameVer: 0x04, msgType: 1, id }), { shardBits })).toBe(BLOCK);
      expect(groupIndexFor(frame92({ frameVer: 0x04, msgType: 2, id }), { shardBits })).toBe(BLOCK);
      expect(groupIndexFor(frame92({ frameVer: 0x06, id }), { shardBits })).toBe(BLOCK);
      expect(groupIndexFor(frame92({ frameVer: 0x05, msgType: 1, id }), { shardBits })).toBe(
        SUBTREE,
      );
    }
    // Only the version byte is needed to route these.
    expect(groupIndexFor(frame92({ frameVer: 0x04 }).subarray(0, 8))).toBe(BLOCK);
  });
});

describe('BRC-130 fragment (FrameVer 0x03): the group its original version uses', () => {
  const id = key32(0x9c000000); // a transaction-plane shard of 0x9C at 8 bits

  it('sends transaction fragments to the TxID shard, as the whole transaction', () => {
    const whole = groupIndexFor(frame92({ frameVer: 0x02, id }));
    for (const origFrameVer of [0x00, 0x02]) {
      for (const fragIndex of [0, 1, 2]) {
        const frag = fragmentFrame({ origFrameVer, id, fragIndex });
        expect(groupIndexFor(frag)).toBe(0x9c);
        expect(groupIndexFor(frag)).toBe(whole);
      }
    }
  });

  it('sends block, anchor and subtree fragments to their control group, not a TxID shard', () => {
    for (const [origFrameVer, msgType, group] of [
      [0x04, 2, BLOCK],
      [0x06, 0, BLOCK],
      [0x05, 1, SUBTREE],
    ] as const) {
      const frag = fragmentFrame({ origFrameVer, msgType, id });
      const whole = frame92({ frameVer: origFrameVer, msgType, id });
      expect(groupIndexFor(frag)).toBe(group);
      expect(groupIndexFor(frag)).toBe(groupIndexFor(whole));
      expect(groupIndexFor(frag)).not.toBe(shardOf(id, 8));
    }
  });

  it('sends BEEF fragments to the BEEF plane by the TopicID at 56, as the whole object', () => {
    const contentId = key32(0x9c000000);
    for (const topic of ['tm_uhrp_files', 'tm_ship'].map(topicId)) {
      for (const bits of BEEF_WIDTHS) {
        const options = { beefShardBits: bits };
        const frag = fragmentFrame({ origFrameVer: 0x09, id: contentId, at56: topic });
        const whole = beefFrame({ contentId, topicId: topic });
        expect(groupIndexFor(frag, options)).toBe(BEEF_BASE + shardOf(topic, bits));
        expect(groupIndexFor(frag, options)).toBe(groupIndexFor(whole, options));
      }
    }
  });

  it('shards fragments of any other original version by offset 8', () => {
    for (const origFrameVer of [0x01, 0x03, 0x07, 0x08, 0x42, 0xff]) {
      const frag = fragmentFrame({ origFrameVer, id, at56: key32(0x00a10000) });
      expect(groupIndexFor(frag), `original 0x${origFrameVer.toString(16)}`).toBe(0x9c);
    }
  });

  it('refuses a fragment that ends before its original version', () => {
    const frag = fragmentFrame({ origFrameVer: 0x05 });
    expect(frag.length).toBe(104 + 'fragment data'.length);
    expect(() => groupIndexFor(frag.subarray(0, 100))).toThrow(/fragment: 100 bytes, no original/);
    expect(groupIndexFor(frag.subarray(0, 101))).toBe(SUBTREE);
  });
});

describe('bytes that are not a routable data frame', () => {
  it('throws a WireError, never routes them', () => {
    const bad = frame92({ frameVer: 0x02 });
    bad[0] = 0;
    expect(() => groupIndexFor(bad)).toThrow(WireError);
    expect(() => groupIndexFor(bad)).toThrow(/magic/);
    expect(() => groupIndexFor(frame92({ frameVer: 0x02 }).subarray(0, 7))).toThrow(/at least 8/);
    expect(() => groupIndexFor(frame92({ frameVer: 0x02 }).subarray(0, 39))).toThrow(
      /39 bytes, too short for its TxID \(bytes 8\.\.40\)/,
    );
  });
});

describe('groupAddressBytes / groupAddressFor', () => {
  const SCOPES = Object.keys(SCOPE_PREFIX) as Scope[];

  it('writes scope prefix, zeros, group id in bytes 12-13 and index in bytes 14-15', () => {
    for (const scope of SCOPES) {
      for (const [frame, index] of [
        [frame92({ frameVer: 0x02, id: key32(0xa1000000) }), 0xa1],
        [frame92({ frameVer: 0x04 }), 0xfffe],
        [frame92({ frameVer: 0x05 }), 0xfffb],
        [bundleFrame({ groupIdx: 0x0321 }), 0x0321],
        [beefFrame({ topicId: key32(0xc0000000) }), 0x10c0],
      ] as const) {
        const bytes = groupAddressBytes(frame, { scope, groupId: 0x1234 });
        const expected = Buffer.alloc(16);
        expected.writeUInt16BE(SCOPE_PREFIX[scope], 0);
        expected.writeUInt16BE(0x1234, 12);
        expected.writeUInt16BE(index, 14);
        expect(Buffer.from(bytes).toString('hex')).toBe(expected.toString('hex'));
      }
    }
  });

  it('uses site scope, group id 0x000B and 8 shard bits on both planes by default', () => {
    expect(resolveGroupOptions()).toEqual({
      scope: 'site',
      groupId: DEFAULT_GROUP_ID,
      shardBits: 8,
      beefShardBits: 8,
    });
    expect(groupAddressFor(frame92({ frameVer: 0x02, id: key32(0xa1b2c3d4) }))).toBe('ff05::b:a1');
    expect(groupAddressFor(frame92({ frameVer: 0x04 }))).toBe('ff05::b:fffe');
    expect(groupAddressFor(frame92({ frameVer: 0x06 }))).toBe('ff05::b:fffe');
    expect(groupAddressFor(frame92({ frameVer: 0x05 }))).toBe('ff05::b:fffb');
    expect(groupAddressFor(beefFrame({ topicId: key32(0xa1b2c3d4) }))).toBe('ff05::b:10a1');
  });

  it('formats every scope', () => {
    const f = frame92({ frameVer: 0x04 });
    expect(groupAddressFor(f, { scope: 'site' })).toBe('ff05::b:fffe');
    expect(groupAddressFor(f, { scope: 'org' })).toBe('ff08::b:fffe');
    expect(groupAddressFor(f, { scope: 'global' })).toBe('ff0e::b:fffe');
    expect(groupAddressFor(f, { scope: 'ssm-site' })).toBe('ff35::b:fffe');
    expect(groupAddressFor(f, { scope: 'ssm-global' })).toBe('ff3e::b:fffe');
    const tx = (prefix: number) => frame92({ frameVer: 0x02, id: key32(prefix) });
    expect(groupAddressFor(tx(0), { groupId: 0, shardBits: 0 })).toBe('ff05::');
    expect(groupAddressFor(tx(0x00ffffff), { groupId: 0 })).toBe('ff05::');
    expect(groupAddressFor(tx(0x01ffffff), { groupId: 0 })).toBe('ff05::1');
  });

  it('rejects out-of-range scope and group id, naming the option', () => {
    const f = frame92({ frameVer: 0x02 });
    expect(() => groupAddressFor(f, { groupId: 0x10000 })).toThrow(/groupId/);
    expect(() => groupAddressFor(f, { groupId: -1 })).toThrow(/groupId/);
    expect(() => groupAddressFor(f, { scope: 'link' as Scope })).toThrow(/scope .*got link/);
  });
});

describe('formatIPv6', () => {
  /** Independent oracle for canonical IPv6 text: the WHATWG URL parser. */
  function canonical(bytes: Uint8Array): string {
    const words = [];
    for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
  }

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
