/**
 * One test vector per FrameVer, each written byte by byte from the published layouts
 * (lightwebinc/shard-common frame/*.go and bundle/bundle.go; BRC-124, -130, -131, -132,
 * -134, -135, -142 and -149 in lightwebinc/bsv-multicast docs/), never through the
 * library's own builders.
 */
import { describe, expect, it } from 'vitest';
import {
  WireError,
  decodeFrameHeader,
  matchFrame,
  type FrameHeader,
} from '../../src/wire/index.js';

/** Writes `hex` at `at`; the tables below give every field as hex at its published offset. */
function put(buf: Buffer, at: number, hex: string): void {
  buf.write(hex, at, 'hex');
}

const MAGIC_HEX = 'e3e1f3e8';
const VER_HEX = '02bf';
const AT8 = 'a1'.repeat(32); // the 32 bytes at offset 8
const AT56 = 'b2'.repeat(32); // the 32 bytes at offset 56 of a 92/104-byte header

/** The HashKey/SeqNum pairs every vector is stamped with: both bigint read paths. */
const STAMPS: [hashKey: bigint, seq: bigint][] = [
  [0xfedc_ba98_7654_3210n, 0x0102n],
  [1n, 0xffff_ffff_ffff_fffen],
];

function u64hex(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

/** BRC-124 layout (92 bytes): versions 0x02, 0x04, 0x05, 0x06, 0x07, 0x09 and unknown ones. */
function standardFrame(
  ver: number,
  byte7: number,
  payload: Buffer,
  stamp: [bigint, bigint],
): Buffer {
  const f = Buffer.alloc(92 + payload.length);
  put(f, 0, MAGIC_HEX);
  put(f, 4, VER_HEX);
  f[6] = ver;
  f[7] = byte7;
  put(f, 8, AT8);
  put(f, 40, u64hex(stamp[0]));
  put(f, 48, u64hex(stamp[1]));
  put(f, 56, AT56);
  f.writeUInt32BE(payload.length, 88);
  payload.copy(f, 92);
  return f;
}

/** BRC-130 fragment (104 bytes): the 92-byte header plus the fragment extension. */
function fragmentFrame(original: number, data: Buffer, stamp: [bigint, bigint]): Buffer {
  const f = Buffer.alloc(104 + data.length);
  put(f, 0, MAGIC_HEX);
  put(f, 4, VER_HEX);
  f[6] = 0x03;
  put(f, 8, AT8);
  put(f, 40, u64hex(stamp[0]));
  put(f, 48, u64hex(stamp[1]));
  put(f, 56, AT56);
  f.writeUInt32BE(data.length, 88); // this fragment's data, not the whole payload
  f.writeUInt32BE(5000, 92); // OrigPayloadLen
  f.writeUInt16BE(1, 96); // FragIndex
  f.writeUInt16BE(4, 98); // FragTotal
  f[100] = original; // OrigFrameVer; 101..103 reserved zeros
  data.copy(f, 104);
  return f;
}

/** BRC-142 bundle (66 bytes): members are `u16 length ∥ (32-byte TxID if flag) ∥ tx`. */
function bundleFrame(
  stamp: [bigint, bigint],
  members: Buffer[],
  opts: { txIds?: boolean; txCount?: number } = {},
): Buffer {
  const section = Buffer.concat(
    members.map((tx, i) => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(tx.length);
      return opts.txIds
        ? Buffer.concat([len, Buffer.alloc(32, 0xc0 + i), tx])
        : Buffer.concat([len, tx]);
    }),
  );
  const f = Buffer.alloc(66 + section.length);
  put(f, 0, MAGIC_HEX);
  put(f, 4, VER_HEX);
  f[6] = 0x08;
  f[7] = opts.txIds ? 0x01 : 0x00; // Flags
  put(f, 8, AT8); // SubtreeID shared by all members
  put(f, 40, u64hex(stamp[0]));
  put(f, 48, u64hex(stamp[1]));
  put(f, 56, '0a2b'); // GroupIdx 0x0a2b
  f[58] = 12; // ShardBits
  f[59] = 0; // reserved
  f.writeUInt16BE(opts.txCount ?? members.length, 60); // TxCount
  f.writeUInt32BE(section.length, 62); // PayloadLen
  section.copy(f, 66);
  return f;
}

/** BRC-12 legacy (44 bytes): no HashKey, no SeqNum. */
function legacyFrame(payload: Buffer): Buffer {
  const f = Buffer.alloc(44 + payload.length);
  put(f, 0, MAGIC_HEX);
  put(f, 4, VER_HEX);
  f[6] = 0x01;
  put(f, 8, AT8);
  f.writeUInt32BE(payload.length, 40);
  payload.copy(f, 44);
  return f;
}

const tx = (n: number, fill = 0x5a): Buffer => Buffer.alloc(n, fill);

interface Vector {
  name: string;
  build: (stamp: [bigint, bigint]) => Buffer;
  want: Partial<FrameHeader>;
  at56: string; // hex of what `subtreeId` must hold
}

const VECTORS: Vector[] = [
  {
    name: '0x02 transaction',
    build: (s) => standardFrame(0x02, 0, tx(7), s),
    want: { frameVer: 0x02, headerSize: 92, payloadLength: 7, ttlClass: 'tx', msgType: 0 },
    at56: AT56,
  },
  ...(
    [
      [0x00, 0x02, 'tx'],
      [0x02, 0x02, 'tx'],
      [0x04, 0x04, 'block'],
      [0x05, 0x05, 'subtree'],
      [0x06, 0x06, 'anchor'],
      [0x09, 0x09, 'beef'],
    ] as const
  ).map(([original, resolved, ttlClass]): Vector => ({
    name: `0x03 fragment of 0x0${original}`,
    build: (s) => fragmentFrame(original, tx(300), s),
    want: {
      frameVer: 0x03,
      headerSize: 104,
      payloadLength: 300,
      originalFrameVer: resolved,
      ttlClass,
    },
    at56: AT56,
  })),
  {
    name: '0x04 block control (BlockAnnounce)',
    build: (s) => standardFrame(0x04, 0x01, tx(180), s),
    want: { frameVer: 0x04, headerSize: 92, payloadLength: 180, ttlClass: 'block', msgType: 1 },
    at56: AT56,
  },
  {
    name: '0x05 subtree data (FullNodes)',
    build: (s) => standardFrame(0x05, 0x02, tx(48 * 3), s),
    want: { frameVer: 0x05, headerSize: 92, payloadLength: 144, ttlClass: 'subtree', msgType: 2 },
    at56: AT56,
  },
  {
    name: '0x06 anchor transaction',
    build: (s) => standardFrame(0x06, 0, tx(250), s),
    want: { frameVer: 0x06, headerSize: 92, payloadLength: 250, ttlClass: 'anchor' },
    at56: AT56,
  },
  {
    name: '0x07 block header',
    build: (s) => standardFrame(0x07, 0, tx(80), s),
    want: { frameVer: 0x07, headerSize: 92, payloadLength: 80, ttlClass: 'tx' },
    at56: AT56,
  },
  {
    name: '0x08 bundle without member TxIDs',
    build: (s) => bundleFrame(s, [tx(150, 1), tx(0), tx(201, 2)]),
    want: {
      frameVer: 0x08,
      headerSize: 66,
      payloadLength: 2 + 150 + 2 + 0 + 2 + 201,
      ttlClass: 'tx',
      msgType: 0,
      bundle: { flags: 0, txIdsPresent: false, groupIdx: 0x0a2b, shardBits: 12, txCount: 3 },
    },
    at56: AT8, // a bundle's SubtreeID is the one at offset 8
  },
  {
    name: '0x08 bundle with member TxIDs',
    build: (s) => bundleFrame(s, [tx(150, 1), tx(99, 2)], { txIds: true }),
    want: {
      frameVer: 0x08,
      headerSize: 66,
      payloadLength: 2 * (2 + 32) + 150 + 99,
      ttlClass: 'tx',
      msgType: 1,
      bundle: { flags: 1, txIdsPresent: true, groupIdx: 0x0a2b, shardBits: 12, txCount: 2 },
    },
    at56: AT8,
  },
  {
    name: '0x09 BEEF object',
    build: (s) => standardFrame(0x09, 0, tx(512), s),
    want: { frameVer: 0x09, headerSize: 92, payloadLength: 512, ttlClass: 'beef' },
    at56: AT56, // TopicID
  },
  {
    name: '0x0a unknown version (read as the 92-byte layout)',
    build: (s) => standardFrame(0x0a, 0, tx(10), s),
    want: { frameVer: 0x0a, headerSize: 92, payloadLength: 10, ttlClass: 'tx' },
    at56: AT56,
  },
];

function wireCode(fn: () => unknown): string {
  try {
    fn();
    return 'decoded';
  } catch (err) {
    if (err instanceof WireError) return err.code;
    throw err;
  }
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe.each(VECTORS)('FrameVer $name', ({ build, want, at56 }) => {
  it.each(STAMPS)('decodes HashKey %s, SeqNum %s at the published offsets', (hashKey, seq) => {
    const f = build([hashKey, seq]);
    expect(f.length).toBe(want.headerSize! + want.payloadLength!);
    const h = decodeFrameHeader(f);
    expect(h).toMatchObject({ ...want, protoVer: 0x02bf, hashKey, seq });
    expect(hexOf(h.txId)).toBe(AT8);
    expect(hexOf(h.subtreeId)).toBe(at56);
    if (want.bundle === undefined) expect(h.bundle).toBeUndefined();
  });

  it.each(STAMPS)('matchFrame accepts only HashKey %s, SeqNum %s', (hashKey, seq) => {
    const f = build([hashKey, seq]);
    expect(matchFrame(f, hashKey, seq)).toEqual(decodeFrameHeader(f));
    expect(matchFrame(f, hashKey ^ 1n, seq)).toBe('wrong-gap');
    expect(matchFrame(f, hashKey ^ (1n << 63n), seq)).toBe('wrong-gap');
    expect(matchFrame(f, hashKey, seq ^ 1n)).toBe('wrong-gap');
    expect(matchFrame(f, hashKey, seq ^ (1n << 40n))).toBe('wrong-gap');
  });

  it('refuses the datagram one byte short or one byte long', () => {
    const [hashKey, seq] = STAMPS[0]!;
    const f = build([hashKey, seq]);
    for (const bad of [f.subarray(0, f.length - 1), Buffer.concat([f, Buffer.alloc(1)])]) {
      expect(wireCode(() => decodeFrameHeader(bad))).toBe('length');
      expect(matchFrame(bad, hashKey, seq)).toBe('malformed');
    }
  });

  it('refuses a datagram cut inside the header, even when not exact', () => {
    const [hashKey, seq] = STAMPS[0]!;
    const head = build([hashKey, seq]).subarray(0, want.headerSize! - 1);
    expect(wireCode(() => decodeFrameHeader(head, false))).toBe('length');
    expect(matchFrame(head, hashKey, seq)).toBe('malformed');
  });

  it('reads the header alone when not exact', () => {
    const [hashKey, seq] = STAMPS[1]!;
    const head = build([hashKey, seq]).subarray(0, want.headerSize);
    expect(decodeFrameHeader(head, false)).toMatchObject({ ...want, hashKey, seq });
  });
});

describe('FrameVer 0x01 legacy', () => {
  it('is refused as legacy by decodeFrameHeader and matchFrame, whatever its length', () => {
    const f = legacyFrame(tx(30));
    for (const bad of [f, f.subarray(0, f.length - 1), Buffer.concat([f, Buffer.alloc(1)])]) {
      expect(wireCode(() => decodeFrameHeader(bad))).toBe('legacy');
      expect(matchFrame(bad, 0n, 0n)).toBe('legacy');
    }
  });
});

describe('layout rules beyond the length', () => {
  const stamp: [bigint, bigint] = [9n, 10n];

  it('refuses a block header frame whose payload is not 80 bytes', () => {
    for (const n of [79, 81, 0]) {
      const f = standardFrame(0x07, 0, tx(n), stamp);
      expect(() => decodeFrameHeader(f)).toThrow(
        /block header frame: payload length \d+, must be 80/,
      );
      expect(wireCode(() => decodeFrameHeader(f.subarray(0, 92), false))).toBe('length');
      expect(matchFrame(f, ...stamp)).toBe('malformed');
    }
  });

  it('refuses a bundle whose TxCount disagrees with its members', () => {
    const members = [tx(40), tx(41)];
    for (const txCount of [1, 3, 0]) {
      const f = bundleFrame(stamp, members, { txCount });
      expect(() => decodeFrameHeader(f)).toThrow(/bundle: \d+ members do not fill the 85-byte/);
      expect(matchFrame(f, ...stamp)).toBe('malformed');
      expect(decodeFrameHeader(f.subarray(0, 66), false).bundle?.txCount).toBe(txCount);
    }
  });

  it('refuses a bundle whose member length runs past the member section', () => {
    const f = bundleFrame(stamp, [tx(40), tx(41)]);
    f.writeUInt16BE(42, 66 + 2 + 40); // second member claims one byte more than there is
    expect(wireCode(() => decodeFrameHeader(f))).toBe('length');
    expect(matchFrame(f, ...stamp)).toBe('malformed');
  });

  it('walks members by the TxIDs flag', () => {
    const without = bundleFrame(stamp, [tx(40), tx(41)]);
    const flagged = Buffer.from(without);
    flagged[7] = 0x01; // now each member should carry 32 more bytes than it does
    expect(matchFrame(flagged, ...stamp)).toBe('malformed');
    const withIds = bundleFrame(stamp, [tx(40), tx(41)], { txIds: true });
    const unflagged = Buffer.from(withIds);
    unflagged[7] = 0x00;
    expect(matchFrame(unflagged, ...stamp)).toBe('malformed');
    expect(matchFrame(withIds, ...stamp)).toMatchObject({ bundle: { txIdsPresent: true } });
  });

  it('accepts an empty bundle only when it says it is empty', () => {
    expect(matchFrame(bundleFrame(stamp, []), ...stamp)).toMatchObject({
      headerSize: 66,
      payloadLength: 0,
      bundle: { txCount: 0 },
    });
  });

  it('reads the bundle payload length at 62, not at 88', () => {
    // A bundle whose bytes 88..91 (inside its members) happen to hold another length.
    const f = bundleFrame(stamp, [tx(60, 0)]);
    f.writeUInt32BE(5, 88);
    expect(decodeFrameHeader(f).payloadLength).toBe(62);
  });

  it('reads a fragment payload length at 88 and its HashKey/SeqNum at 40/48, not in the extension', () => {
    const f = fragmentFrame(0x02, tx(3), [0x1111n, 0x2222n]);
    expect(decodeFrameHeader(f)).toMatchObject({
      payloadLength: 3,
      hashKey: 0x1111n,
      seq: 0x2222n,
    });
  });
});

describe('refusals that name the problem', () => {
  it.each([
    ['not bytes', 'frame' as unknown as Uint8Array, 'length', /expected bytes, got "frame"/],
    ['7 bytes', Buffer.alloc(7), 'length', /7 bytes, need at least 8/],
    ['bad magic', Buffer.alloc(100), 'magic', /bad magic 0x00000000 \(want 0xe3e1f3e8\)/],
    [
      'a short fragment header',
      fragmentFrame(0x02, tx(1), [1n, 1n]).subarray(0, 100),
      'length',
      /fragment: 100 bytes, need at least 104/,
    ],
    [
      'a short bundle header',
      bundleFrame([1n, 1n], [tx(1)]).subarray(0, 65),
      'length',
      /bundle: 65 bytes, need at least 66/,
    ],
    [
      'a payload length that disagrees',
      standardFrame(0x02, 0, tx(3), [1n, 1n]).subarray(0, 94),
      'length',
      /frame 0x02: payload length 3 \+ header 92 disagrees with datagram of 94 bytes/,
    ],
  ])('%s', (_name, datagram, code, message) => {
    let caught: unknown;
    try {
      decodeFrameHeader(datagram);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect(caught).toMatchObject({ code, message: expect.stringMatching(message) as unknown });
    expect(matchFrame(datagram, 1n, 1n)).toBe('malformed');
  });
});
