/**
 * Transactions built with @bsv/sdk, the independent reference the EF codec and the content
 * check are cross-checked against.
 */
import { LockingScript, P2PKH, PrivateKey, Transaction, UnlockingScript } from '@bsv/sdk';

/** A well-formed script of exactly `size` bytes: one data push (or OP_TRUE / empty). */
export function pushScript(size: number, fill = 0xab): number[] {
  if (size === 0) return [];
  if (size === 1) return [0x51];
  const data = (n: number): number[] => Array.from({ length: n }, (_, i) => (fill + i) & 0xff);
  if (size <= 76) return [size - 1, ...data(size - 1)];
  if (size <= 257) return [0x4c, size - 2, ...data(size - 2)];
  if (size <= 65_538) {
    const n = size - 3;
    return [0x4d, n & 0xff, n >> 8, ...data(n)];
  }
  const n = size - 5;
  return [0x4e, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24, ...data(n)];
}

/** One input: sizes of its unlocking script and of the spent output's locking script. */
export interface InputShape {
  unlock: number;
  prevLock: number;
  satoshis: number;
}

/** Shape of a transaction for {@link sdkTransaction}. */
export interface TxShape {
  version: number;
  inputs: InputShape[];
  outputs: { lock: number; satoshis: number }[];
  lockTime: number;
}

/** A transaction with the given shape, every input linked to a source output (EF-ready). */
export function sdkTransaction(shape: TxShape): Transaction {
  const tx = new Transaction(shape.version, [], [], shape.lockTime);
  shape.inputs.forEach((input, i) => {
    const source = new Transaction(1, [], [], i);
    for (let o = 0; o <= i % 3; o++) {
      source.addOutput({
        satoshis: input.satoshis,
        lockingScript: LockingScript.fromBinary(pushScript(input.prevLock, 0x10 + i + o)),
      });
    }
    tx.addInput({
      sourceTransaction: source,
      sourceOutputIndex: i % 3,
      unlockingScript: UnlockingScript.fromBinary(pushScript(input.unlock, 0x40 + i)),
      sequence: 0xffff_fffe - i,
    });
  });
  shape.outputs.forEach((output, o) => {
    tx.addOutput({
      satoshis: output.satoshis,
      lockingScript: LockingScript.fromBinary(pushScript(output.lock, 0x80 + o)),
    });
  });
  return tx;
}

/** A signed P2PKH payment: `inputs` coins of one key paid to `outputs` addresses. */
export async function signedP2pkh(inputs: number, outputs: number): Promise<Transaction> {
  const key = PrivateKey.fromString('1f'.repeat(32), 'hex');
  const p2pkh = new P2PKH();
  const lock = p2pkh.lock(key.toPublicKey().toHash());
  const tx = new Transaction();
  for (let i = 0; i < inputs; i++) {
    const source = new Transaction(1, [], [{ satoshis: 50_000 + i, lockingScript: lock }], i);
    tx.addInput({
      sourceTransaction: source,
      sourceOutputIndex: 0,
      unlockingScriptTemplate: p2pkh.unlock(key),
      sequence: 0xffff_ffff,
    });
  }
  for (let o = 0; o < outputs; o++) {
    const payee = PrivateKey.fromString((o + 2).toString(16).padStart(64, '0'), 'hex');
    tx.addOutput({
      satoshis: 1_000 + o,
      lockingScript: p2pkh.lock(payee.toPublicKey().toHash()),
    });
  }
  await tx.sign();
  return tx;
}

/** The SDK's raw bytes, EF bytes and TxID (internal byte order) of `tx`. */
export function sdkForms(tx: Transaction): { raw: Buffer; ef: Buffer; txId: Buffer } {
  return {
    raw: Buffer.from(tx.toBinary()),
    ef: Buffer.from(tx.toEF()),
    txId: Buffer.from(tx.hash() as number[]),
  };
}
