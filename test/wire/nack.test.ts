import { describe, expect, it } from 'vitest';
import { FLAG_PROXIED, WireError, decodeNack, encodeNack } from '../../src/index.js';
import { NACK_SIZE } from '../../src/wire/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('NACK codec', () => {
  it('lays out the 64-byte NACK of BRC-126', () => {
    const subtreeId = Buffer.alloc(32, 0xab);
    const bytes = encodeNack({
      hashKey: 0x0102030405060708n,
      startSeq: 0x1112131415161718n,
      endSeq: 0x2122232425262728n,
      subtreeId,
      flags: FLAG_PROXIED,
    });
    expect(bytes.length).toBe(NACK_SIZE);
    expect(hex(bytes)).toBe(
      'e3e1f3e8' + // magic
        '02bf' + // protocol version
        '10' + // MsgType NACK
        '01' + // flags: proxied
        '0102030405060708' + // HashKey
        '1112131415161718' + // StartSeq
        '2122232425262728' + // EndSeq
        'ab'.repeat(32), // SubtreeID
    );
  });

  it('defaults endSeq to startSeq, flags to 0 and SubtreeID to zeros', () => {
    const bytes = encodeNack({ hashKey: 1n, startSeq: 42n });
    expect(hex(bytes.subarray(6, 8))).toBe('1000');
    expect(hex(bytes.subarray(16, 32))).toBe('000000000000002a000000000000002a');
    expect(hex(bytes.subarray(32))).toBe('00'.repeat(32));
  });

  it('writes into the caller buffer at an offset without touching the rest', () => {
    const buf = Buffer.alloc(80, 0xff);
    const out = encodeNack({ hashKey: 7n, startSeq: 9n }, buf, 8);
    expect(out).toBe(buf);
    expect(hex(buf.subarray(0, 8))).toBe('ff'.repeat(8));
    expect(hex(buf.subarray(72))).toBe('ff'.repeat(8));
    expect(decodeNack(buf.subarray(8, 72))).toMatchObject({
      hashKey: 7n,
      startSeq: 9n,
      endSeq: 9n,
    });
  });

  it('leaves the caller buffer untouched when it refuses a value', () => {
    const buf = Buffer.alloc(64, 0xee);
    for (const bad of [
      { hashKey: 1n, startSeq: 2n, endSeq: 1n },
      { hashKey: 1n, startSeq: 2n, flags: 0x100 },
      { hashKey: 1n, startSeq: 2n, subtreeId: new Uint8Array(33) },
      { hashKey: 1n << 64n, startSeq: 2n },
    ]) {
      expect(() => encodeNack(bad, buf)).toThrow(WireError);
    }
    expect(hex(buf)).toBe('ee'.repeat(64));
  });

  it('gives every call its own bytes (no state shared between calls)', () => {
    const subtreeId = Buffer.alloc(32, 0x33);
    const a = encodeNack({ hashKey: 1n, startSeq: 2n, subtreeId });
    const before = hex(a);
    const b = encodeNack({ hashKey: 0xffff_ffff_ffff_ffffn, startSeq: 1n << 60n });
    expect(b).not.toBe(a);
    expect(hex(a)).toBe(before);
    expect(decodeNack(a)).toMatchObject({ hashKey: 1n, startSeq: 2n, endSeq: 2n });
  });

  it('round-trips every field and copies the SubtreeID', () => {
    const subtreeId = Buffer.alloc(32);
    subtreeId[31] = 5;
    const datagram = Buffer.from(
      encodeNack({ hashKey: 2n ** 64n - 1n, startSeq: 0n, endSeq: 3n, subtreeId, flags: 0x81 }),
    );
    const nack = decodeNack(datagram);
    datagram.fill(0);
    expect(nack).toEqual({
      hashKey: 2n ** 64n - 1n,
      startSeq: 0n,
      endSeq: 3n,
      flags: 0x81,
      subtreeId: Uint8Array.from(subtreeId),
    });
  });

  it.each([
    ['short', Buffer.alloc(63), 'length', /63 bytes, need at least 64/],
    [
      'long',
      Buffer.concat([encodeNack({ hashKey: 1n, startSeq: 1n }), Buffer.alloc(1)]),
      'length',
      /exactly 64/,
    ],
    ['magic', Buffer.alloc(64), 'magic', /bad magic 0x00000000/],
  ])('refuses a %s datagram with a WireError', (_name, bytes, code, message) => {
    const err = catchWire(() => decodeNack(bytes));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('refuses a wrong protocol version, message type or reversed range', () => {
    const base = (): Buffer => Buffer.from(encodeNack({ hashKey: 1n, startSeq: 5n }));
    const v = base();
    v.writeUInt16BE(0x0200, 4);
    expect(catchWire(() => decodeNack(v)).code).toBe('version');
    const t = base();
    t[6] = 0x11;
    expect(catchWire(() => decodeNack(t))).toMatchObject({
      code: 'type',
      message: expect.stringMatching(/0x11/) as unknown,
    });
    const r = base();
    r.writeBigUInt64BE(4n, 24);
    expect(catchWire(() => decodeNack(r)).code).toBe('range');
  });

  it('refuses out-of-range values when encoding', () => {
    expect(catchWire(() => encodeNack({ hashKey: -1n, startSeq: 0n })).code).toBe('range');
    expect(catchWire(() => encodeNack({ hashKey: 2n ** 64n, startSeq: 0n })).code).toBe('range');
    expect(catchWire(() => encodeNack({ hashKey: 1n, startSeq: 5n, endSeq: 4n })).code).toBe(
      'range',
    );
    expect(catchWire(() => encodeNack({ hashKey: 1n, startSeq: 5n, flags: 256 })).code).toBe(
      'range',
    );
    expect(
      catchWire(() => encodeNack({ hashKey: 1n, startSeq: 5n, subtreeId: new Uint8Array(31) }))
        .code,
    ).toBe('range');
    expect(
      catchWire(() => encodeNack({ hashKey: 1n, startSeq: 5n }, Buffer.alloc(64), 1)).code,
    ).toBe('buffer');
  });

  it('refuses non-bytes input with a WireError', () => {
    expect(catchWire(() => decodeNack('nack' as unknown as Uint8Array)).code).toBe('length');
  });
});

function catchWire(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error('expected a WireError');
}
