import { createHash } from 'node:crypto';
import { Transaction } from '@bsv/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EF_MARKER,
  isExtendedFormat,
  rawTransaction,
  sha256d,
  transactionId,
  type EfDefect,
} from '../../src/wire/ef.js';
import { sampleTransaction } from '../../src/testing/index.js';
import {
  sdkForms,
  sdkTransaction,
  signedP2pkh,
  type TxShape,
} from '../helpers/sdk-transactions.js';

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** Script sizes on both sides of the 1- / 3-byte CompactSize boundary (5 bytes: see below). */
const scriptSize = (): fc.Arbitrary<number> =>
  fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(25, 107, 252, 253, 254, 256, 300));

const txShape = (): fc.Arbitrary<TxShape> =>
  fc.record({
    version: fc.integer({ min: 0, max: 0xffff_ffff }),
    inputs: fc.array(
      fc.record({
        unlock: scriptSize(),
        prevLock: scriptSize(),
        satoshis: fc.integer({ min: 0, max: 2_100_000_000_000_000 }),
      }),
      { maxLength: 4 },
    ),
    outputs: fc.array(
      fc.record({ lock: scriptSize(), satoshis: fc.integer({ min: 0, max: 2 ** 53 - 1 }) }),
      { maxLength: 4 },
    ),
    lockTime: fc.integer({ min: 0, max: 0xffff_ffff }),
  });

describe('EF → TxID, cross-checked against @bsv/sdk', () => {
  it('a signed P2PKH payment with several inputs and outputs', async () => {
    const tx = await signedP2pkh(3, 4);
    const { raw, ef, txId } = sdkForms(tx);
    expect(ef.length - raw.length).toBe(6 + 3 * (8 + 1 + 25)); // marker + 3 extensions
    expect(isExtendedFormat(ef)).toBe(true);
    expect(isExtendedFormat(raw)).toBe(false);
    expect(transactionId(ef)).toEqual({ ok: true, txId });
    expect(transactionId(raw)).toEqual({ ok: true, txId });
    expect(rawTransaction(ef)).toEqual(raw);
    // Internal byte order: the SDK's display id is the same bytes reversed.
    expect(Buffer.from(tx.id()).reverse()).toEqual(txId);
  });

  it('large CompactSize counts: 300 outputs and 253 inputs', () => {
    const tx = sdkTransaction({
      version: 2,
      inputs: Array.from({ length: 253 }, (_, i) => ({ unlock: 107, prevLock: 25, satoshis: i })),
      outputs: Array.from({ length: 300 }, (_, o) => ({ lock: 25, satoshis: o })),
      lockTime: 800_000,
    });
    const { raw, ef, txId } = sdkForms(tx);
    expect(raw[4]).toBe(0xfd); // the input count takes the 3-byte form
    expect(transactionId(ef)).toEqual({ ok: true, txId });
    expect(rawTransaction(ef)).toEqual(raw);
  });

  it('scripts of 5-byte CompactSize length (≥ 65 536 bytes)', () => {
    const tx = sdkTransaction({
      version: 1,
      inputs: [{ unlock: 70_000, prevLock: 66_000, satoshis: 5 }],
      outputs: [{ lock: 0x10000, satoshis: 1 }],
      lockTime: 0,
    });
    const { raw, ef, txId } = sdkForms(tx);
    expect(transactionId(ef)).toEqual({ ok: true, txId });
    expect(rawTransaction(ef)).toEqual(raw);
  });

  it('any shape: the EF TxID is the SDK TxID and the stripped form is the SDK raw form', () => {
    fc.assert(
      fc.property(txShape(), (shape) => {
        const { raw, ef, txId } = sdkForms(sdkTransaction(shape));
        expect(transactionId(ef)).toEqual({ ok: true, txId });
        expect(transactionId(raw)).toEqual({ ok: true, txId });
        expect(rawTransaction(ef)).toEqual(raw);
      }),
      { numRuns: 100 },
    );
  });

  it('the testing kit sample transactions are what the SDK reads and writes', () => {
    for (const [seed, inputs, outputs] of [
      [0n, 1, 2],
      [2n ** 255n + 7n, 5, 0],
      [123n, 2, 260],
    ] as const) {
      const s = sampleTransaction(seed, { inputs, outputs });
      const fromEf = Transaction.fromEF(s.ef);
      expect(Buffer.from(fromEf.toBinary())).toEqual(s.raw);
      expect(Buffer.from(fromEf.toEF())).toEqual(s.ef);
      expect(Buffer.from(fromEf.hash() as number[])).toEqual(s.txId);
      expect(Buffer.from(Transaction.fromBinary(s.raw).hash() as number[])).toEqual(s.txId);
      expect(transactionId(s.ef)).toEqual({ ok: true, txId: s.txId });
    }
  });
});

describe('raw transactions', () => {
  it('the TxID is SHA256d of the bytes, whatever they are', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        fc.pre(!isExtendedFormat(bytes));
        expect(transactionId(bytes)).toEqual({ ok: true, txId: sha256(sha256(bytes)) });
        expect(rawTransaction(bytes)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('sha256d is SHA-256 twice', () => {
    expect(sha256d(Buffer.from('abc'))).toEqual(sha256(sha256(Buffer.from('abc'))));
    expect(sha256d(Buffer.alloc(0)).toString('hex')).toBe(
      '5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456',
    );
  });

  it('the marker needs all six bytes at offset 4', () => {
    const base = Buffer.from([1, 0, 0, 0, ...EF_MARKER]);
    expect(isExtendedFormat(base)).toBe(true);
    expect(isExtendedFormat(base.subarray(0, 9))).toBe(false);
    for (let i = 4; i < 10; i++) {
      const other = Buffer.from(base);
      other[i] = (other[i] ?? 0) ^ 1;
      expect(isExtendedFormat(other)).toBe(false);
    }
  });
});

describe('malformed EF is a defect, never a throw', () => {
  const { ef } = sampleTransaction(99n, { inputs: 2, outputs: 3 });
  const defectOf = (bytes: Uint8Array): EfDefect | 'ok' => {
    const r = transactionId(bytes);
    return r.ok ? 'ok' : r.defect;
  };

  it('every strict prefix that keeps the marker is truncated (or its counts cannot fit)', () => {
    for (let len = 10; len < ef.length; len++) {
      expect(['truncated', 'too-many-inputs', 'too-many-outputs']).toContain(
        defectOf(ef.subarray(0, len)),
      );
      expect(rawTransaction(ef.subarray(0, len))).toBeTypeOf('string');
    }
  });

  it('bytes after the locktime', () => {
    expect(defectOf(Buffer.concat([ef, Buffer.of(0)]))).toBe('trailing-bytes');
  });

  const head = Buffer.from([1, 0, 0, 0, ...EF_MARKER]);

  it('a count or length of 2^32 or more is an overflow', () => {
    const count = Buffer.concat([head, Buffer.from([0xff, 0, 0, 0, 0, 1, 0, 0, 0])]);
    expect(defectOf(count)).toBe('varint-overflow');
    const script = Buffer.concat([
      head,
      Buffer.of(1),
      Buffer.alloc(36),
      Buffer.from([0xff, 1, 0, 0, 0, 0, 0, 0, 0x80]),
      Buffer.alloc(64),
    ]);
    expect(defectOf(script)).toBe('varint-overflow');
  });

  it('absurd counts are refused before any loop over them', () => {
    const inputs = Buffer.concat([head, Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff])]);
    expect(defectOf(inputs)).toBe('too-many-inputs');
    const outputs = Buffer.concat([
      head,
      Buffer.of(0),
      Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x7f]),
    ]);
    expect(defectOf(outputs)).toBe('too-many-outputs');
    // 4 billion inputs in a 4-byte-per-count world: refused on size, not walked.
    expect(defectOf(Buffer.concat([inputs, Buffer.alloc(1000)]))).toBe('too-many-inputs');
  });

  it('a script length past the end is truncated', () => {
    const script = Buffer.concat([
      head,
      Buffer.of(1),
      Buffer.alloc(36),
      Buffer.from([0xfd, 0xff, 0xff]),
      Buffer.alloc(60),
    ]);
    expect(defectOf(script)).toBe('truncated');
  });

  it('zero inputs and zero outputs is well-formed', () => {
    const empty = Buffer.concat([head, Buffer.of(0, 0), Buffer.alloc(4)]);
    expect(defectOf(empty)).toBe('ok');
    expect(rawTransaction(empty)).toEqual(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('random bytes behind the marker never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (tail) => {
        const bytes = Buffer.concat([head, tail]);
        const r = transactionId(bytes);
        const raw = rawTransaction(bytes);
        if (r.ok) {
          // Well-formed by chance: then the id is the hash of the stripped form.
          expect(Buffer.isBuffer(raw)).toBe(true);
          expect(r.txId).toEqual(sha256(sha256(raw as Buffer)));
        } else {
          expect(raw).toBe(r.defect);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated EF: never throws; the same TxID only when the raw form is unchanged', () => {
    const original = sampleTransaction(5n, { inputs: 3, outputs: 2 });
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), bit: fc.constant(0) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bit: fc.nat(255) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), bit: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let bytes = Buffer.from(original.ef);
        for (const m of mutations) {
          const at = m.at % (bytes.length + 1);
          if (m.kind === 'flip' && at < bytes.length) bytes[at] = (bytes[at] ?? 0) ^ (1 << m.bit);
          if (m.kind === 'cut') bytes = bytes.subarray(0, at);
          if (m.kind === 'insert') {
            bytes = Buffer.concat([bytes.subarray(0, at), Buffer.of(m.bit), bytes.subarray(at)]);
          }
          if (m.kind === 'delete') {
            bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          }
        }
        const r = transactionId(bytes);
        if (r.ok && r.txId.equals(original.txId)) {
          // Only the EF extensions (spent satoshis and locking scripts) are outside the TxID.
          expect(rawTransaction(bytes)).toEqual(original.raw);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
