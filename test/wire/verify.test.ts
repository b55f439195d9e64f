import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameVer } from '../../src/wire/constants.js';
import { rawTransaction } from '../../src/wire/ef.js';
import { verifyFrameContent, type ContentVerdict } from '../../src/wire/verify.js';
import {
  beefObject,
  buildFrame,
  defaultTransaction,
  sampleTransaction,
} from '../../src/testing/index.js';
import { sdkForms, signedP2pkh } from '../helpers/sdk-transactions.js';

const BUNDLE = 0x08;
const gap = { hashKey: 0x1234n, seq: 77n };
const sha256d = (b: Uint8Array): Buffer =>
  createHash('sha256').update(createHash('sha256').update(b).digest()).digest();

/** `frame` with its payload (from `headerSize`) replaced and the length field updated. */
function withPayload(frame: Buffer, payload: Uint8Array, headerSize = 92, lengthAt = 88): Buffer {
  const out = Buffer.concat([frame.subarray(0, headerSize), payload]);
  out.writeUInt32BE(payload.length, lengthAt);
  return out;
}

/** A transaction version followed by the EF marker: what makes a payload read as EF. */
const efHead = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0xef]);

const status = (v: ContentVerdict): string =>
  v.status === 'verified' ? `verified:${v.content}` : `${v.status}:${v.reason}`;

describe('genuine frames of every checkable kind are verified', () => {
  it.each([
    ['raw transaction', { frameVer: FrameVer.Tx }, 'raw-tx'],
    ['EF transaction', { frameVer: FrameVer.Tx, extendedFormat: true }, 'ef-tx'],
    ['raw anchor', { frameVer: FrameVer.Anchor }, 'raw-anchor'],
    ['EF anchor', { frameVer: FrameVer.Anchor, extendedFormat: true }, 'ef-anchor'],
    ['BEEF object', { frameVer: FrameVer.Beef }, 'beef'],
    ['bundle of raw members', { frameVer: BUNDLE }, 'bundle'],
    ['bundle of EF members', { frameVer: BUNDLE, extendedFormat: true }, 'bundle'],
  ] as const)('%s', (_name, spec, content) => {
    expect(verifyFrameContent(buildFrame({ ...gap, ...spec }))).toEqual({
      status: 'verified',
      content,
    });
  });

  it('SDK-built transactions, raw and EF, under the TxID in internal byte order', async () => {
    const tx = await signedP2pkh(2, 3);
    const { raw, ef, txId } = sdkForms(tx);
    for (const frameVer of [FrameVer.Tx, FrameVer.Anchor]) {
      expect(
        status(verifyFrameContent(buildFrame({ ...gap, frameVer, payload: raw, txId }))),
      ).toMatch(/^verified:raw-/);
      expect(
        status(verifyFrameContent(buildFrame({ ...gap, frameVer, payload: ef, txId }))),
      ).toMatch(/^verified:ef-/);
      // The display order (reversed) is not what frames carry.
      const display = Buffer.from(tx.id());
      expect(
        verifyFrameContent(buildFrame({ ...gap, frameVer, payload: ef, txId: display })),
      ).toMatchObject({ status: 'invalid', reason: 'txid-mismatch' });
    }
  });

  it('a bundle of mixed raw and EF members, up to 50', () => {
    const members = Array.from({ length: 50 }, (_, i) => {
      const s = sampleTransaction(BigInt(1000 + i), { inputs: 1 + (i % 3) });
      return i % 2 === 0 ? s.raw : s.ef;
    });
    const frame = buildFrame({ ...gap, frameVer: BUNDLE, members });
    expect(frame.readUInt16BE(60)).toBe(50);
    expect(verifyFrameContent(frame)).toEqual({ status: 'verified', content: 'bundle' });
  });

  it('a BEEF object of several transactions', () => {
    const beef = beefObject([1n, 2n, 3n].map((s) => sampleTransaction(s, { outputs: 10 }).raw));
    const frame = buildFrame({ ...gap, frameVer: FrameVer.Beef, payload: beef });
    expect(frame.subarray(8, 40)).toEqual(sha256d(beef));
    expect(verifyFrameContent(frame)).toEqual({ status: 'verified', content: 'beef' });
  });

  it('an empty bundle with TxIDs present has nothing wrong in it', () => {
    const frame = buildFrame({ ...gap, frameVer: BUNDLE, members: [] });
    expect(frame.length).toBe(66);
    expect(verifyFrameContent(frame)).toEqual({ status: 'verified', content: 'bundle' });
  });
});

describe('a forged payload under a genuine header fails', () => {
  const other = sampleTransaction(424242n);

  it.each([
    ['raw transaction', FrameVer.Tx, false],
    ['EF transaction', FrameVer.Tx, true],
    ['raw anchor', FrameVer.Anchor, false],
    ['EF anchor', FrameVer.Anchor, true],
  ] as const)('%s: another transaction', (_name, frameVer, ef) => {
    const genuine = buildFrame({ ...gap, frameVer, extendedFormat: ef });
    for (const payload of [other.raw, other.ef]) {
      expect(verifyFrameContent(withPayload(genuine, payload))).toMatchObject({
        status: 'invalid',
        reason: 'txid-mismatch',
      });
    }
  });

  it.each([
    ['raw transaction', FrameVer.Tx, false],
    ['EF transaction', FrameVer.Tx, true],
    ['raw anchor', FrameVer.Anchor, false],
    ['EF anchor', FrameVer.Anchor, true],
  ] as const)('%s: one byte of the transaction changed', (_name, frameVer, ef) => {
    const genuine = buildFrame({ ...gap, frameVer, extendedFormat: ef });
    // The last output's value (before its 26-byte script and the 4-byte locktime): part of
    // the raw form in both serialisations.
    const forged = Buffer.from(genuine);
    const at = forged.length - 4 - 26 - 8;
    forged[at] = (forged[at] ?? 0) ^ 0x01;
    expect(verifyFrameContent(forged)).toMatchObject({
      status: 'invalid',
      reason: 'txid-mismatch',
    });
  });

  it('BEEF: another object, or one byte changed', () => {
    const genuine = buildFrame({ ...gap, frameVer: FrameVer.Beef });
    const another = beefObject([other.raw]);
    expect(verifyFrameContent(withPayload(genuine, another))).toMatchObject({
      status: 'invalid',
      reason: 'content-id-mismatch',
    });
    const flipped = Buffer.from(genuine);
    flipped[100] = (flipped[100] ?? 0) ^ 0x80;
    expect(verifyFrameContent(flipped)).toMatchObject({
      status: 'invalid',
      reason: 'content-id-mismatch',
    });
  });

  it('bundle: a member swapped for another of the same length, or its TxID changed', () => {
    const a = sampleTransaction(1n);
    const b = sampleTransaction(2n);
    expect(a.raw.length).toBe(b.raw.length);
    const genuine = buildFrame({ ...gap, frameVer: BUNDLE, members: [a.raw, a.raw, a.raw] });
    const swapped = Buffer.from(genuine);
    const second = 66 + (2 + 32 + a.raw.length) + 2 + 32;
    swapped.set(b.raw, second);
    expect(verifyFrameContent(swapped)).toEqual({
      status: 'invalid',
      reason: 'txid-mismatch',
      detail: 'member 2 of 3',
    });
    const renamed = Buffer.from(genuine);
    renamed[66 + 2 + 5] = (renamed[66 + 2 + 5] ?? 0) ^ 0xff;
    expect(verifyFrameContent(renamed)).toMatchObject({
      status: 'invalid',
      reason: 'txid-mismatch',
      detail: 'member 1 of 3',
    });
  });

  it('a forged TxID given to buildFrame', () => {
    const forged = buildFrame({ ...gap, txId: Buffer.alloc(32, 0x5a) });
    expect(verifyFrameContent(forged)).toEqual({
      status: 'invalid',
      reason: 'txid-mismatch',
      detail: 'raw transaction',
    });
  });
});

describe('kinds with nothing to check per datagram are unverifiable, whatever they carry', () => {
  it.each([
    [FrameVer.Fragment, 'fragment'],
    [FrameVer.Block, 'block'],
    [FrameVer.Subtree, 'subtree'],
    [0x07, 'block-header'],
    [FrameVer.Legacy, 'legacy'],
    [0x00, 'unknown-version'],
    [0x0a, 'unknown-version'],
    [0xff, 'unknown-version'],
  ] as const)('FrameVer 0x%s is %s', (frameVer, reason) => {
    for (const payload of [Buffer.from('not a transaction'), defaultTransaction(1n, 1n).ef]) {
      const frame = buildFrame({ ...gap, frameVer, payload, txId: Buffer.alloc(32, 1) });
      expect(verifyFrameContent(frame)).toEqual({ status: 'unverifiable', reason });
    }
  });

  it('a bundle without the TxIDsPresent flag', () => {
    const frame = buildFrame({ ...gap, frameVer: BUNDLE, txIdsPresent: false });
    expect(frame[7]).toBe(0);
    expect(verifyFrameContent(frame)).toEqual({
      status: 'unverifiable',
      reason: 'bundle-without-txids',
    });
  });
});

describe('malformed content is a counted failure, never a throw', () => {
  it('a payload with the EF marker that is not EF', () => {
    for (const tail of [Buffer.alloc(0), Buffer.from([0xff, 0xff]), Buffer.alloc(40, 0xfe)]) {
      const frame = buildFrame({
        ...gap,
        payload: Buffer.concat([efHead, tail]),
        txId: Buffer.alloc(32),
      });
      expect(verifyFrameContent(frame)).toMatchObject({
        status: 'invalid',
        reason: 'malformed-ef',
      });
    }
    const anchor = buildFrame({
      ...gap,
      frameVer: FrameVer.Anchor,
      payload: Buffer.concat([defaultTransaction(1n, 2n).ef, Buffer.of(0)]),
      txId: defaultTransaction(1n, 2n).txId,
    });
    expect(verifyFrameContent(anchor)).toEqual({
      status: 'invalid',
      reason: 'malformed-ef',
      detail: 'trailing-bytes',
    });
  });

  it('a bundle member that is malformed EF', () => {
    const genuine = buildFrame({ ...gap, frameVer: BUNDLE, extendedFormat: true });
    const broken = Buffer.from(genuine);
    // First member's input count: 0xFE prefix makes it 4 billion inputs.
    broken[66 + 2 + 32 + 10] = 0xfe;
    expect(verifyFrameContent(broken)).toMatchObject({
      status: 'invalid',
      reason: 'malformed-ef',
      detail: expect.stringMatching(/^member 1 of 3: /) as unknown,
    });
  });

  it('bundles whose members do not fill PayloadLen exactly', () => {
    const genuine = buildFrame({ ...gap, frameVer: BUNDLE });
    const moreMembers = Buffer.from(genuine);
    moreMembers.writeUInt16BE(4, 60);
    expect(verifyFrameContent(moreMembers)).toEqual({
      status: 'invalid',
      reason: 'malformed-bundle',
      detail: 'member 4 of 4 is truncated',
    });
    const fewer = Buffer.from(genuine);
    fewer.writeUInt16BE(2, 60);
    expect(verifyFrameContent(fewer)).toMatchObject({
      status: 'invalid',
      reason: 'malformed-bundle',
    });
    const longMember = Buffer.from(genuine);
    longMember.writeUInt16BE(0xffff, 66);
    expect(verifyFrameContent(longMember)).toMatchObject({
      status: 'invalid',
      reason: 'malformed-bundle',
      detail: 'member 1 of 3 is truncated',
    });
  });

  it('datagrams that disagree with their length field', () => {
    const tx = buildFrame(gap);
    const bundle = buildFrame({ ...gap, frameVer: BUNDLE });
    const beef = buildFrame({ ...gap, frameVer: FrameVer.Beef });
    for (const frame of [tx, bundle, beef]) {
      for (const cut of [
        frame.subarray(0, frame.length - 1),
        Buffer.concat([frame, Buffer.of(0)]),
      ]) {
        expect(verifyFrameContent(cut)).toMatchObject({
          status: 'invalid',
          reason: 'malformed-frame',
        });
      }
      expect(verifyFrameContent(frame.subarray(0, 60))).toMatchObject({
        status: 'invalid',
        reason: 'malformed-frame',
      });
    }
    expect(verifyFrameContent(new Uint8Array(3))).toMatchObject({ reason: 'malformed-frame' });
    expect(verifyFrameContent('frame' as unknown as Uint8Array)).toMatchObject({
      reason: 'malformed-frame',
    });
  });

  it('4 billion inputs in a 100-byte payload: refused on size, not walked', () => {
    const payload = Buffer.concat([
      efHead,
      Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff]),
      Buffer.alloc(85),
    ]);
    const frame = buildFrame({ ...gap, payload, txId: Buffer.alloc(32) });
    expect(verifyFrameContent(frame)).toEqual({
      status: 'invalid',
      reason: 'malformed-ef',
      detail: 'too-many-inputs',
    });
  });
});

describe('fuzz', () => {
  const kinds = [FrameVer.Tx, FrameVer.Anchor, FrameVer.Beef, BUNDLE] as const;
  const genuineFrame = (): fc.Arbitrary<Buffer> =>
    fc
      .record({
        frameVer: fc.constantFrom(...kinds),
        seed: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        ef: fc.boolean(),
        inputs: fc.integer({ min: 1, max: 3 }),
        outputs: fc.integer({ min: 0, max: 3 }),
        members: fc.integer({ min: 1, max: 4 }),
      })
      .map(({ frameVer, seed, ef, inputs, outputs, members }) => {
        const txs = Array.from({ length: members }, (_, i) =>
          sampleTransaction(seed + BigInt(i), { inputs, outputs }),
        );
        const pick = (i: number): Buffer => {
          const t = txs[i] ?? txs[0]!;
          return ef !== (i % 2 === 1) ? t.ef : t.raw;
        };
        if (frameVer === BUNDLE) {
          return buildFrame({ ...gap, frameVer, members: txs.map((_, i) => pick(i)) });
        }
        if (frameVer === FrameVer.Beef) {
          return buildFrame({ ...gap, frameVer, payload: beefObject(txs.map((t) => t.raw)) });
        }
        return buildFrame({ ...gap, frameVer, payload: pick(0) });
      });

  it('any bytes: never throws, and a verdict is one of the documented shapes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x42),
        fc.boolean(),
        (bytes, frameVer, fixLength) => {
          const d = Buffer.from(bytes);
          if (d.length > 6) d[6] = frameVer;
          if (fixLength && d.length >= 92) d.writeUInt32BE(d.length - 92, 88);
          if (fixLength && frameVer === BUNDLE && d.length >= 66)
            d.writeUInt32BE(d.length - 66, 62);
          const v = verifyFrameContent(d);
          expect(['verified', 'unverifiable', 'invalid']).toContain(v.status);
          // Random bytes never carry a matching hash (a bundle may, with zero members).
          if (v.status === 'verified') expect(v.content).toBe('bundle');
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('random payloads under random TxIDs never verify', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(FrameVer.Tx, FrameVer.Anchor, FrameVer.Beef),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((t) => Buffer.concat([efHead, t])),
        ),
        (frameVer, txId, payload) => {
          const v = verifyFrameContent(buildFrame({ ...gap, frameVer, txId, payload }));
          expect(v.status).toBe('invalid');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('genuine frames of every kind verify; one flipped bit verifies only outside the content', () => {
    fc.assert(
      fc.property(genuineFrame(), fc.nat(), (frame, pick) => {
        expect(verifyFrameContent(frame).status).toBe('verified');
        const bit = pick % (frame.length * 8);
        const at = bit >> 3;
        const flipped = Buffer.from(frame);
        flipped[at] = (flipped[at] ?? 0) ^ (1 << (bit & 7));
        const v = verifyFrameContent(flipped);
        if (v.status !== 'verified') return;
        expect(contentOf(flipped)).toEqual(contentOf(frame));
      }),
      { numRuns: 1500 },
    );
  });

  it('mutated payloads (cut, extended, spliced) never throw and verify only when unchanged', () => {
    fc.assert(
      fc.property(
        genuineFrame(),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fc.constantFrom('cut', 'insert', 'overwrite'),
        (frame, pick, junk, how) => {
          const headerSize = frame[6] === BUNDLE ? 66 : 92;
          const payload = frame.subarray(headerSize);
          const at = pick % (payload.length + 1);
          const mutated =
            how === 'cut'
              ? payload.subarray(0, at)
              : how === 'insert'
                ? Buffer.concat([payload.subarray(0, at), junk, payload.subarray(at)])
                : Buffer.concat([
                    payload.subarray(0, at),
                    junk,
                    payload.subarray(at + junk.length),
                  ]);
          const forged = withPayload(frame, mutated, headerSize, headerSize === 66 ? 62 : 88);
          const v = verifyFrameContent(forged);
          if (v.status === 'verified') expect(contentOf(forged)).toEqual(contentOf(frame));
        },
      ),
      { numRuns: 1500 },
    );
  });
});

/**
 * What a verified frame vouches for, computed independently of the verifier: the claimed ids
 * and the raw bytes they cover (EF extensions excluded, as the TxID does not cover them).
 */
function contentOf(frame: Buffer): string[] {
  if (frame[6] === BUNDLE) {
    const out: string[] = [];
    let at = 66;
    while (at + 34 <= frame.length) {
      const len = frame.readUInt16BE(at);
      const tx = frame.subarray(at + 34, at + 34 + len);
      const raw = rawTransaction(tx);
      out.push(
        frame.subarray(at + 2, at + 34).toString('hex'),
        typeof raw === 'string' ? raw : raw.toString('hex'),
      );
      at += 34 + len;
    }
    return out;
  }
  const payload = frame.subarray(92);
  const raw = frame[6] === FrameVer.Beef ? Buffer.from(payload) : rawTransaction(payload);
  return [
    frame.subarray(8, 40).toString('hex'),
    typeof raw === 'string' ? raw : raw.toString('hex'),
  ];
}
