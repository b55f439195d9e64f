import { EF_MARKER, rawTransaction, sha256d } from '../wire/ef.js';

/** One synthetic transaction in both serialisations, with its TxID. */
export interface SampleTransaction {
  /** BRC-12 raw serialisation. */
  raw: Buffer;
  /** BRC-30 Extended Format of the same transaction (same TxID). */
  ef: Buffer;
  /** SHA256d of `raw`, internal byte order: what frames carry at bytes 8..40. */
  txId: Buffer;
}

/** Shape of a {@link sampleTransaction}. */
export interface TransactionShape {
  /** Number of inputs, 1..10 000 (each spends a P2PKH-like output, 148 bytes raw). @default 1 */
  inputs?: number;
  /** Number of P2PKH-like outputs, 0..10 000 (34 bytes each). @default 2 */
  outputs?: number;
}

const MAX_PARTS = 10_000;
const SEED_LIMIT = 1n << 256n;
// BRC-62 BEEF V1 version word, 0x0100BEEF read as a little-endian uint32.
const BEEF_V1 = 0xefbe0001;
// Serialised sizes: outpoint 36, script length 1, unlocking script 107, sequence 4; an output
// is satoshis 8, script length 1 and a 25-byte P2PKH script, as is an input's EF extension.
const RAW_INPUT = 36 + 1 + 107 + 4;
const OUTPUT = 8 + 1 + 25;
const EF_EXTENSION = OUTPUT;
const MARKER = Uint8Array.from(EF_MARKER);
// Push of a 72-byte DER signature (0x30 ...), push of a 33-byte compressed key (0x02 ...).
const SIGNATURE_PREFIX = Uint8Array.of(0x48, 0x30);
const KEY_PREFIX = Uint8Array.of(0x21, 0x02);
// OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG
const P2PKH_HEAD = Uint8Array.of(0x76, 0xa9, 0x14);
const P2PKH_TAIL = Uint8Array.of(0x88, 0xac);

/**
 * A deterministic, real-looking transaction: version 1, P2PKH-like inputs (72-byte signature
 * and 33-byte key pushes) and outputs, locktime 0; about 226 bytes raw with the default shape.
 * The seed is written as the first input's previous TxID, so distinct seeds give distinct
 * transactions; every other byte derives from it.
 *
 * @param seed - any bigint in 0..2^256-1
 * @throws RangeError when `seed` or the shape is out of range.
 * @example
 * ```ts
 * const tx = sampleTransaction(7n, { inputs: 3, outputs: 5 });
 * const frame = buildFrame({ hashKey: 1n, seq: 2n, payload: tx.ef }); // TxID = tx.txId
 * ```
 */
export function sampleTransaction(seed: bigint, shape: TransactionShape = {}): SampleTransaction {
  if (typeof seed !== 'bigint' || seed < 0n || seed >= SEED_LIMIT) {
    throw new RangeError(`seed must be a bigint in 0..2^256-1, got ${String(seed)}`);
  }
  const inputs = count(shape.inputs ?? 1, 1, 'inputs');
  const outputs = count(shape.outputs ?? 2, 0, 'outputs');
  const random = new Filler(seed);
  const rawSize =
    4 + varIntSize(inputs) + inputs * RAW_INPUT + varIntSize(outputs) + outputs * OUTPUT + 4;
  const raw = new Cursor(rawSize);
  const ef = new Cursor(rawSize + EF_MARKER.length + inputs * EF_EXTENSION);
  // Fields common to both serialisations are written to `raw`, then copied to `ef`.
  const common = (write: () => void): void => {
    const from = raw.at;
    write();
    ef.copy(raw.bytes.subarray(from, raw.at));
  };

  common(() => raw.uint32(1));
  ef.copy(MARKER);
  common(() => raw.varInt(inputs));
  for (let i = 0; i < inputs; i++) {
    common(() => {
      if (i === 0) raw.copy(seedBytes(seed));
      else random.fill(raw, 32);
      raw.uint32(i);
      // A P2PKH-like unlocking script: a 72-byte signature and a 33-byte key.
      raw.varInt(107);
      raw.copy(SIGNATURE_PREFIX);
      random.fill(raw, 71);
      raw.copy(KEY_PREFIX);
      random.fill(raw, 32);
      raw.uint32(0xffffffff);
    });
    // EF only: the spent output's satoshis and locking script.
    ef.uint64(random.satoshis());
    p2pkh(ef, random);
  }
  common(() => {
    raw.varInt(outputs);
    for (let o = 0; o < outputs; o++) {
      raw.uint64(random.satoshis());
      p2pkh(raw, random);
    }
    raw.uint32(0);
  });

  return { raw: raw.bytes, ef: ef.bytes, txId: sha256d(raw.bytes) };
}

/**
 * A BRC-62 BEEF (V1) object holding `transactions` in order (the last is the subject), with
 * no Merkle proofs: structurally valid BEEF, enough for frame tests (it is not SPV-valid).
 * EF transactions are stored in their raw form.
 *
 * @throws RangeError when a transaction is malformed EF.
 * @example
 * ```ts
 * const beef = beefObject([sampleTransaction(1n).raw, sampleTransaction(2n).raw]);
 * const frame = buildFrame({ hashKey: 1n, seq: 2n, frameVer: FrameVer.Beef, payload: beef });
 * ```
 */
export function beefObject(transactions: readonly Uint8Array[]): Buffer {
  const raws = transactions.map((tx, i) => {
    const raw = rawTransaction(tx);
    if (typeof raw === 'string') {
      throw new RangeError(`transactions[${i}] is malformed EF (${raw})`);
    }
    return raw;
  });
  const size = raws.reduce((n, raw) => n + raw.length + 1, 4 + 1 + varIntSize(raws.length));
  const out = new Cursor(size);
  out.uint32(BEEF_V1);
  out.varInt(0); // no BUMPs
  out.varInt(raws.length);
  for (const raw of raws) {
    out.copy(raw);
    out.varInt(0); // no BUMP index
  }
  return out.bytes;
}

function count(value: number, min: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > MAX_PARTS) {
    throw new RangeError(`${name} must be an integer in ${min}..${MAX_PARTS}, got ${value}`);
  }
  return value;
}

/** `seed` as 32 big-endian bytes. */
function seedBytes(seed: bigint): Buffer {
  const out = Buffer.alloc(32);
  for (let at = 24, s = seed; s > 0n; at -= 8, s >>= 64n)
    out.writeBigUInt64BE(BigInt.asUintN(64, s), at);
  return out;
}

/** Writes a P2PKH locking script (with its length) to a random 20-byte key hash. */
function p2pkh(out: Cursor, random: Filler): void {
  out.varInt(25);
  out.copy(P2PKH_HEAD);
  random.fill(out, 20);
  out.copy(P2PKH_TAIL);
}

/** Encoded size of a Bitcoin CompactSize varint holding `v`. */
function varIntSize(v: number): number {
  return v < 0xfd ? 1 : v <= 0xffff ? 3 : 5;
}

/** Deterministic filler bytes from a seed (xorshift32; quality is irrelevant here). */
class Filler {
  private state: number;

  constructor(seed: bigint) {
    let s = 0x9e3779b9;
    for (let v = seed; v > 0n; v >>= 32n) s = Math.imul(s ^ Number(v & 0xffffffffn), 0x85ebca6b);
    this.state = s >>> 0 || 1;
  }

  /** Writes `n` filler bytes at the cursor. */
  fill(out: Cursor, n: number): void {
    let word = 0;
    for (let i = 0; i < n; i++) {
      if ((i & 3) === 0) word = this.next();
      out.bytes[out.at++] = (word >>> ((i & 3) * 8)) & 0xff;
    }
  }

  satoshis(): bigint {
    return BigInt(1_000 + (this.next() % 100_000_000));
  }

  private next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
}

/** Little-endian serialisation into a buffer of known size. */
class Cursor {
  readonly bytes: Buffer;
  at = 0;

  constructor(size: number) {
    this.bytes = Buffer.alloc(size);
  }

  copy(b: Uint8Array): void {
    this.bytes.set(b, this.at);
    this.at += b.length;
  }

  uint32(v: number): void {
    this.at = this.bytes.writeUInt32LE(v >>> 0, this.at);
  }

  uint64(v: bigint): void {
    this.at = this.bytes.writeBigUInt64LE(v, this.at);
  }

  /** Bitcoin CompactSize (values below 2^32). */
  varInt(v: number): void {
    if (v < 0xfd) {
      this.bytes[this.at++] = v;
    } else if (v <= 0xffff) {
      this.bytes[this.at++] = 0xfd;
      this.at = this.bytes.writeUInt16LE(v, this.at);
    } else {
      this.bytes[this.at++] = 0xfe;
      this.at = this.bytes.writeUInt32LE(v, this.at);
    }
  }
}
