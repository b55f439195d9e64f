/**
 * Property and fuzz tests of every decoder and encoder: any input decodes or fails with a
 * WireError (never another exception), valid values round-trip, and truncated, extended and
 * bit-flipped datagrams of every kind are refused (or, where the byte carries no check,
 * decode to exactly the changed field).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FLAG_PROXIED,
  FrameVer,
  MsgType,
  WireError,
  cacheKey,
  decodeFrameHeader,
  decodeNack,
  decodeResponse,
  encodeNack,
  encodeResponse,
  type WireErrorCode,
} from '../../src/index.js';
import { matchFrame } from '../../src/wire/index.js';
import { ttlClassOf } from '../../src/wire/frame.js';
import { buildFrame } from '../../src/testing/frames.js';
import {
  KNOWN_FRAME_VERSIONS,
  ORIGINAL_VER_AT,
  anyFrame,
  anyValidDatagram,
  bytes,
  flipBit,
  frameFields,
  frameOf,
  hostileBytes,
  legacyFrame,
  nackBytes,
  rawResponse,
  responseBytes,
  u64,
} from '../helpers/datagrams.js';

const RUNS = { numRuns: 400 };

/** Runs `fn`; returns its value, or the WireError code; any other exception fails the test. */
function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false; code: WireErrorCode } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof WireError) return { ok: false, code: err.code };
    throw new Error(`threw something other than WireError: ${String(err)}`, { cause: err });
  }
}

function codeOf(fn: () => unknown): WireErrorCode | 'decoded' {
  const r = outcome(fn);
  return r.ok ? 'decoded' : r.code;
}

describe('decoders never throw anything but WireError', () => {
  it('decodeNack on hostile bytes', () => {
    fc.assert(
      fc.property(hostileBytes(), (d) => {
        const r = outcome(() => decodeNack(d));
        if (r.ok) {
          expect(d.length).toBe(64);
          // Whatever decodes re-encodes to the very same bytes.
          expect(Buffer.from(encodeNack(r.value)).equals(Buffer.from(d))).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeResponse on hostile bytes', () => {
    fc.assert(
      fc.property(hostileBytes(), (d) => {
        const r = outcome(() => decodeResponse(d));
        if (r.ok) {
          expect(d.length).toBe(16);
          expect([MsgType.Miss, MsgType.Ack, MsgType.Throttled]).toContain(d[6]);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeFrameHeader (exact and lenient) on hostile bytes', () => {
    fc.assert(
      fc.property(hostileBytes(), fc.boolean(), (d, exact) => {
        const r = outcome(() => decodeFrameHeader(d, exact));
        if (r.ok) {
          const h = r.value;
          expect(d.length).toBeGreaterThanOrEqual(h.headerSize);
          if (exact) expect(d.length).toBe(h.headerSize + h.payloadLength);
          expect(h.frameVer).not.toBe(FrameVer.Legacy);
          expect(['tx', 'block', 'subtree', 'anchor', 'beef']).toContain(h.ttlClass);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('matchFrame never throws and agrees with decodeFrameHeader', () => {
    fc.assert(
      fc.property(hostileBytes(), u64(), u64(), (d, hashKey, seq) => {
        const m = matchFrame(d, hashKey, seq);
        const r = outcome(() => decodeFrameHeader(d, true));
        if (!r.ok) expect(m).toBe(r.code === 'legacy' ? 'legacy' : 'malformed');
        else if (r.value.hashKey === hashKey && r.value.seq === seq)
          expect(typeof m).toBe('object');
        else expect(m).toBe('wrong-gap');
      }),
      { numRuns: 2000 },
    );
  });

  it('decoders refuse values that are not bytes with a WireError', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => !(v instanceof Uint8Array)),
        (v) => {
          const decoders: (() => unknown)[] = [
            () => decodeNack(v as Uint8Array),
            () => decodeResponse(v as Uint8Array),
            () => decodeFrameHeader(v as Uint8Array),
            () => decodeFrameHeader(v as Uint8Array, false),
          ];
          for (const decode of decoders) {
            expect(outcome(decode).ok).toBe(false);
          }
          expect(matchFrame(v as Uint8Array, 1n, 1n)).toBe('malformed');
        },
      ),
      RUNS,
    );
  });

  it('decoders read views at any offset of a larger buffer (pooled Buffers)', () => {
    fc.assert(
      fc.property(anyValidDatagram(), fc.nat({ max: 64 }), fc.nat({ max: 64 }), (d, pre, post) => {
        const big = Buffer.alloc(pre + d.length + post, 0xa5);
        big.set(d, pre);
        const view = big.subarray(pre, pre + d.length);
        expect(codeOf(() => decodeNack(view))).toBe(codeOf(() => decodeNack(d)));
        expect(codeOf(() => decodeResponse(view))).toBe(codeOf(() => decodeResponse(d)));
        expect(codeOf(() => decodeFrameHeader(view))).toBe(codeOf(() => decodeFrameHeader(d)));
      }),
      RUNS,
    );
  });

  it('each decoder refuses the other kinds of datagram', () => {
    fc.assert(
      fc.property(nackBytes(), responseBytes(), anyFrame(), legacyFrame(), (n, r, f, l) => {
        for (const d of [r, f, l]) expect(codeOf(() => decodeNack(d))).not.toBe('decoded');
        for (const d of [n, f, l]) expect(codeOf(() => decodeResponse(d))).not.toBe('decoded');
        for (const d of [n, r]) expect(codeOf(() => decodeFrameHeader(d))).toBe('length');
        expect(codeOf(() => decodeFrameHeader(l))).toBe('legacy');
      }),
      RUNS,
    );
  });
});

describe('encoders refuse bad values with a WireError', () => {
  it('encodeNack on arbitrary values', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            {
              hashKey: fc.oneof(u64(), fc.bigInt(), fc.anything()),
              startSeq: fc.oneof(u64(), fc.bigInt(), fc.anything()),
              endSeq: fc.oneof(u64(), fc.anything()),
              subtreeId: fc.oneof(bytes(32), fc.uint8Array({ maxLength: 40 }), fc.anything()),
              flags: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.double(), fc.anything()),
            },
            { requiredKeys: [] },
          ),
        ),
        (v) => {
          const r = outcome(() => encodeNack(v as Parameters<typeof encodeNack>[0]));
          if (r.ok) expect(outcome(() => decodeNack(r.value)).ok).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('encodeResponse on arbitrary values', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            {
              kind: fc.oneof(fc.constantFrom('miss', 'ack', 'throttled'), fc.anything()),
              seq: fc.oneof(u64(), fc.bigInt(), fc.anything()),
              bucket: fc.oneof(fc.integer({ min: -2, max: 20 }), fc.double(), fc.anything()),
            },
            { requiredKeys: [] },
          ),
        ),
        (v) => {
          const r = outcome(() => encodeResponse(v as Parameters<typeof encodeResponse>[0]));
          if (r.ok) expect(outcome(() => decodeResponse(r.value)).ok).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('encoders writing into a caller buffer refuse bad buffers and offsets', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 100 }), fc.constant(Buffer.alloc(80))),
        fc.oneof(fc.integer({ min: -4, max: 100 }), fc.double(), fc.anything()),
        (buf, offset) => {
          const into = buf as Uint8Array;
          const at = offset as number;
          for (const encode of [
            () => encodeNack({ hashKey: 1n, startSeq: 2n }, into, at),
            () => encodeResponse({ kind: 'miss' }, into, at),
            () => cacheKey(1n, 2n, into, at),
          ]) {
            const r = outcome(encode);
            // Without a buffer the encoder allocates; with one it writes into it.
            if (r.ok) expect(r.value).toBe(buf === undefined ? r.value : buf);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('cacheKey on arbitrary values', () => {
    fc.assert(
      fc.property(fc.oneof(u64(), fc.anything()), fc.oneof(u64(), fc.anything()), (h, s) => {
        const r = outcome(() => cacheKey(h as bigint, s as bigint));
        if (r.ok) expect(r.value.length).toBe(16);
      }),
      RUNS,
    );
  });
});

describe('round trips', () => {
  it('NACK: encode then decode gives the fields back', () => {
    fc.assert(
      fc.property(
        u64(),
        u64(),
        fc.nat({ max: 1000 }),
        fc.option(bytes(32), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
        (hashKey, startSeq, span, subtreeId, flags) => {
          const endSeq =
            startSeq + BigInt(span) > 2n ** 64n - 1n ? startSeq : startSeq + BigInt(span);
          const d = decodeNack(encodeNack({ hashKey, startSeq, endSeq, subtreeId, flags }));
          expect(d).toEqual({
            hashKey,
            startSeq,
            endSeq,
            flags: flags ?? 0,
            subtreeId: subtreeId === undefined ? new Uint8Array(32) : Uint8Array.from(subtreeId),
          });
        },
      ),
      RUNS,
    );
  });

  it('NACK: the decoded SubtreeID is a copy, not a view of the datagram', () => {
    fc.assert(
      fc.property(nackBytes(), (n) => {
        const d = decodeNack(n);
        const before = Buffer.from(d.subtreeId);
        n.fill(0xff, 32);
        expect(Buffer.from(d.subtreeId).equals(before)).toBe(true);
      }),
      RUNS,
    );
  });

  it('responses: encode then decode gives the fields back', () => {
    fc.assert(
      fc.property(
        u64(),
        fc.integer({ min: 0, max: 15 }),
        fc.boolean(),
        fc.boolean(),
        (seq, bucket, m, u) => {
          expect(decodeResponse(encodeResponse({ kind: 'miss' }))).toEqual({ kind: 'miss' });
          expect(
            decodeResponse(encodeResponse({ kind: 'ack', seq, multicastSent: m, unicastSent: u })),
          ).toEqual({ kind: 'ack', seq, multicastSent: m, unicastSent: u });
          expect(decodeResponse(encodeResponse({ kind: 'throttled', seq, bucket }))).toEqual({
            kind: 'throttled',
            seq,
            bucket,
            backoffMs: 125 * 2 ** bucket,
          });
        },
      ),
      RUNS,
    );
  });

  it('responses: any valid response decodes; reserved ACK flag bits and MISS seq are ignored', () => {
    fc.assert(
      fc.property(responseBytes(), (d) => {
        const r = decodeResponse(d);
        const flags = d[7] ?? 0;
        if (r.kind === 'ack') {
          expect(r.multicastSent).toBe((flags & 1) !== 0);
          expect(r.unicastSent).toBe((flags & 2) !== 0);
        }
        if (r.kind === 'throttled') expect(r.bucket).toBe(flags & 0x0f);
      }),
      RUNS,
    );
  });

  it('frames of every version: build then decode gives the fields and TTL class back', () => {
    fc.assert(
      fc.property(frameFields(), (f) => {
        const d = frameOf(f);
        const h = decodeFrameHeader(d);
        const fragment = f.frameVer === FrameVer.Fragment;
        const original = fragment ? f.originalFrameVer || FrameVer.Tx : f.frameVer;
        expect(h).toMatchObject({
          frameVer: f.frameVer,
          msgType: f.msgType,
          hashKey: f.hashKey,
          seq: f.seq,
          payloadLength: f.payload.length,
          headerSize: fragment ? 104 : 92,
          originalFrameVer: original,
          ttlClass: ttlClassOf(original),
        });
        expect(Buffer.from(h.txId).equals(Buffer.from(f.txId))).toBe(true);
        expect(Buffer.from(h.subtreeId).equals(Buffer.from(f.subtreeId))).toBe(true);
        expect(matchFrame(d, f.hashKey, f.seq)).toEqual(h);
      }),
      RUNS,
    );
  });

  it('TTL class follows the (original) version; unknown versions are transactions', () => {
    const cls = (v: number, orig?: number): string =>
      decodeFrameHeader(buildFrame({ hashKey: 1n, seq: 1n, frameVer: v, originalFrameVer: orig }))
        .ttlClass;
    expect(cls(FrameVer.Tx)).toBe('tx');
    expect(cls(FrameVer.Block)).toBe('block');
    expect(cls(FrameVer.Subtree)).toBe('subtree');
    expect(cls(FrameVer.Anchor)).toBe('anchor');
    expect(cls(FrameVer.Beef)).toBe('beef');
    expect(cls(0x77)).toBe('tx');
    expect(cls(FrameVer.Fragment, 0)).toBe('tx');
    expect(cls(FrameVer.Fragment, FrameVer.Block)).toBe('block');
    expect(cls(FrameVer.Fragment, FrameVer.Beef)).toBe('beef');
    expect(cls(FrameVer.Fragment, FrameVer.Fragment)).toBe('tx');
  });

  it('cacheKey is HashKey ∥ SeqNum, big-endian', () => {
    fc.assert(
      fc.property(u64(), u64(), (h, s) => {
        const k = Buffer.from(cacheKey(h, s));
        expect(k.readBigUInt64BE(0)).toBe(h);
        expect(k.readBigUInt64BE(8)).toBe(s);
      }),
      RUNS,
    );
  });
});

describe('truncated datagrams are refused', () => {
  it('every strict prefix of a NACK or response is a length error', () => {
    fc.assert(
      fc.property(nackBytes(), responseBytes(), (n, r) => {
        for (let len = 0; len < n.length; len++) {
          expect(codeOf(() => decodeNack(n.subarray(0, len)))).toBe('length');
        }
        for (let len = 0; len < r.length; len++) {
          expect(codeOf(() => decodeResponse(r.subarray(0, len)))).toBe('length');
        }
      }),
      { numRuns: 100 },
    );
  });

  it('every strict prefix of a frame of any version is refused, never matched', () => {
    fc.assert(
      fc.property(frameFields(64), (f) => {
        const d = frameOf(f);
        for (let len = 0; len < d.length; len++) {
          const cut = d.subarray(0, len);
          expect(codeOf(() => decodeFrameHeader(cut))).toBe('length');
          expect(matchFrame(cut, f.hashKey, f.seq)).toBe('malformed');
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a legacy frame, whole or cut, is never matched', () => {
    fc.assert(
      fc.property(legacyFrame(), u64(), u64(), (d, h, s) => {
        for (let len = 0; len <= d.length; len++) {
          const cut = d.subarray(0, len);
          expect(codeOf(() => decodeFrameHeader(cut))).toBe(len < 8 ? 'length' : 'legacy');
          expect(matchFrame(cut, h, s)).toBe(len < 8 ? 'malformed' : 'legacy');
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('extended datagrams are refused', () => {
  it('bytes appended to a NACK, a response or a frame', () => {
    fc.assert(
      fc.property(
        nackBytes(),
        responseBytes(),
        frameFields(),
        fc.uint8Array({ minLength: 1, maxLength: 2048 }),
        (n, r, f, tail) => {
          expect(codeOf(() => decodeNack(Buffer.concat([n, tail])))).toBe('length');
          expect(codeOf(() => decodeResponse(Buffer.concat([r, tail])))).toBe('length');
          const d = frameOf(f);
          const long = Buffer.concat([d, tail]);
          expect(codeOf(() => decodeFrameHeader(long))).toBe('length');
          expect(matchFrame(long, f.hashKey, f.seq)).toBe('malformed');
          // The lenient decoder reads the same header.
          expect(decodeFrameHeader(long, false)).toMatchObject({
            hashKey: f.hashKey,
            seq: f.seq,
            payloadLength: f.payload.length,
          });
        },
      ),
      RUNS,
    );
  });

  it('a payload length that disagrees with the datagram', () => {
    fc.assert(
      fc.property(frameFields(), fc.integer({ min: 0, max: 0xffff_ffff }), (f, declared) => {
        const d = frameOf(f);
        fc.pre(declared !== f.payload.length);
        d.writeUInt32BE(declared, 88);
        expect(codeOf(() => decodeFrameHeader(d))).toBe('length');
        expect(matchFrame(d, f.hashKey, f.seq)).toBe('malformed');
      }),
      RUNS,
    );
  });
});

describe('bit-flipped datagrams', () => {
  it('NACK: each bit either breaks a check or changes exactly its field', () => {
    fc.assert(
      fc.property(nackBytes(), fc.nat({ max: 64 * 8 - 1 }), (n, bit) => {
        const orig = decodeNack(n);
        const byte = Math.floor(bit / 8);
        const r = outcome(() => decodeNack(flipBit(n, bit)));
        if (byte < 4) expect(r).toEqual({ ok: false, code: 'magic' });
        else if (byte < 6) expect(r).toEqual({ ok: false, code: 'version' });
        else if (byte === 6) expect(r).toEqual({ ok: false, code: 'type' });
        else if (byte === 7) {
          expect(r.ok && r.value.flags).toBe(orig.flags ^ (0x80 >> (bit % 8)));
          // Flipping the Proxied bit is what an on-path attacker can do: the decoder
          // reports the flag as received.
          if (r.ok)
            expect((r.value.flags & FLAG_PROXIED) !== (orig.flags & FLAG_PROXIED)).toBe(bit === 63);
        } else if (byte < 16) expect(r.ok && r.value.hashKey).not.toBe(orig.hashKey);
        else if (byte < 32) {
          if (r.ok) {
            expect(r.value.hashKey).toBe(orig.hashKey);
            expect(r.value.startSeq !== orig.startSeq || r.value.endSeq !== orig.endSeq).toBe(true);
          } else expect(r.code).toBe('range');
        } else {
          expect(r.ok).toBe(true);
          if (r.ok)
            expect(Buffer.from(r.value.subtreeId).equals(Buffer.from(orig.subtreeId))).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('responses: each bit either breaks a check or yields a well-formed response', () => {
    fc.assert(
      fc.property(responseBytes(), fc.nat({ max: 16 * 8 - 1 }), (d, bit) => {
        const byte = Math.floor(bit / 8);
        const r = outcome(() => decodeResponse(flipBit(d, bit)));
        if (byte < 4) expect(r).toEqual({ ok: false, code: 'magic' });
        else if (byte < 6) expect(r).toEqual({ ok: false, code: 'version' });
        else if (byte === 6) {
          const t = (d[6] ?? 0) ^ (0x80 >> (bit % 8));
          if ([MsgType.Miss, MsgType.Ack, MsgType.Throttled].includes(t as 0x11)) {
            expect(r.ok).toBe(true);
          } else expect(r).toEqual({ ok: false, code: 'type' });
        } else expect(r.ok).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('frames: a flip in magic, HashKey, SeqNum or payload length is never matched', () => {
    fc.assert(
      fc.property(frameFields(64), fc.nat(), (f, pick) => {
        const d = frameOf(f);
        const bit = pick % (d.length * 8);
        const byte = Math.floor(bit / 8);
        const flipped = flipBit(d, bit);
        const m = matchFrame(flipped, f.hashKey, f.seq);
        const r = outcome(() => decodeFrameHeader(flipped));
        const fragment = f.frameVer === FrameVer.Fragment;
        if (byte < 4) {
          expect(r).toEqual({ ok: false, code: 'magic' });
          expect(m).toBe('malformed');
        } else if (byte === 6) {
          // The version picks the header size: the frame may become anything, even legacy.
          expect(
            ['malformed', 'legacy', 'wrong-gap'].includes(m as string) || typeof m === 'object',
          ).toBe(true);
        } else if (byte >= 40 && byte < 56) {
          expect(m).toBe('wrong-gap');
        } else if (byte >= 88 && byte < 92) {
          expect(r).toEqual({ ok: false, code: 'length' });
          expect(m).toBe('malformed');
        } else {
          // Bytes without a check (protocol version, TxID, SubtreeID, fragment fields,
          // payload): the frame still matches. There is no integrity check on the wire.
          expect(typeof m).toBe('object');
          if (typeof m === 'object') {
            expect(m.hashKey).toBe(f.hashKey);
            expect(m.seq).toBe(f.seq);
            if (fragment && byte === ORIGINAL_VER_AT) {
              expect(m.ttlClass).toBe(ttlClassOf(m.originalFrameVer));
            }
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('legacy frames: no single flip makes one match the gap it was flipped towards', () => {
    fc.assert(
      fc.property(legacyFrame(), fc.nat(), u64(), u64(), (d, pick, h, s) => {
        const flipped = flipBit(d, pick % (d.length * 8));
        const m = matchFrame(flipped, h, s);
        // Unless the flip turned the version into another one AND the bytes happen to read
        // as that gap with a consistent length, it is not a frame for (h, s).
        if (typeof m === 'object') {
          expect(m.hashKey).toBe(h);
          expect(m.seq).toBe(s);
          expect(flipped.length).toBe(m.headerSize + m.payloadLength);
        }
      }),
      RUNS,
    );
  });
});

describe('every frame version is accepted only whole', () => {
  it.each([...KNOWN_FRAME_VERSIONS, 0x00, 0x07, 0xff])('FrameVer 0x%s', (v) => {
    const f = buildFrame({ hashKey: 9n, seq: 10n, frameVer: v });
    expect(typeof matchFrame(f, 9n, 10n)).toBe('object');
    expect(matchFrame(f.subarray(0, f.length - 1), 9n, 10n)).toBe('malformed');
    expect(matchFrame(Buffer.concat([f, Buffer.from([0])]), 9n, 10n)).toBe('malformed');
    expect(matchFrame(f, 9n, 11n)).toBe('wrong-gap');
    expect(matchFrame(f, 8n, 10n)).toBe('wrong-gap');
  });

  it('a response-shaped frame prefix with an unknown type is refused', () => {
    const r = rawResponse(0x14, 0, 1n);
    expect(codeOf(() => decodeResponse(r))).toBe('type');
    expect(matchFrame(r, 1n, 1n)).toBe('malformed');
  });
});

describe('regressions found by the fuzzers', () => {
  it('encoders given a non-object throw WireError, not TypeError', () => {
    for (const v of [null, undefined, 7, 'nack', true]) {
      expect(codeOf(() => encodeNack(v as never))).toBe('range');
      expect(codeOf(() => encodeResponse(v as never))).toBe('range');
    }
  });

  it('a caller buffer that is not bytes, or an offset without a buffer, is a buffer error', () => {
    const nack = { hashKey: 1n, startSeq: 2n };
    expect(codeOf(() => encodeNack(nack, {} as Uint8Array))).toBe('buffer');
    expect(codeOf(() => encodeNack(nack, 5 as unknown as Uint8Array))).toBe('buffer');
    expect(codeOf(() => encodeNack(nack, undefined, 5))).toBe('buffer');
    expect(codeOf(() => encodeResponse({ kind: 'miss' }, undefined, [] as never))).toBe('buffer');
    expect(codeOf(() => cacheKey(1n, 2n, undefined, 3))).toBe('buffer');
    expect(codeOf(() => cacheKey(1n, 2n, Buffer.alloc(20), 4))).toBe('decoded');
  });
});
