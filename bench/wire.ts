/**
 * Hot-path wire codecs, ns per call. (The internal fast.ts codecs these replaced measured
 * 101 ns per NACK, 92 per cache key, 142 per match: BENCHMARKS.md.)
 *
 *   node --import tsx bench/wire.ts [rounds] [iterations-per-round]
 *
 * Each round runs every case once, in a rotating order, so drift on a noisy machine hits
 * all cases alike; the table reports the median and the best round in CPU ns per call
 * (process CPU time, so other processes on a shared machine count less than in wall time).
 * HashKeys are random 64-bit values (as XXH64 makes them) and SeqNums small counters, as
 * on a real flow.
 */
import {
  FLAG_PROXIED,
  cacheKey,
  decodeFrameHeader,
  decodeResponse,
  encodeNack,
  encodeResponse,
  matchFrame,
} from '../src/wire/index.js';

const ROUNDS = Number(process.argv[2] ?? 9);
const ITERATIONS = Number(process.argv[3] ?? 1_000_000);
const N = 1024; // distinct inputs, cycled

const hashKeys = Array.from({ length: N }, () => {
  const b = new DataView(new ArrayBuffer(8));
  b.setUint32(0, (Math.random() * 2 ** 32) >>> 0);
  b.setUint32(4, (Math.random() * 2 ** 32) >>> 0);
  return b.getBigUint64(0);
});
const seqs = Array.from({ length: N }, (_, i) => 1_000_000n + BigInt(i));
const subtreeId = new Uint8Array(32).fill(7);

/** A 92-byte-header tx frame with a 250-byte payload, stamped by Node's own writer. */
function frame(hashKey: bigint, seq: bigint): Buffer {
  const f = Buffer.alloc(92 + 250);
  f.writeUInt32BE(0xe3e1f3e8, 0);
  f.writeUInt16BE(0x02bf, 4);
  f[6] = 0x02;
  f.writeBigUInt64BE(hashKey, 40);
  f.writeBigUInt64BE(seq, 48);
  f.writeUInt32BE(250, 88);
  return f;
}
const frames = hashKeys.map((h, i) => frame(h, seqs[i]!));

/** A BRC-142 bundle of 8 members of 160 bytes (a full 1500-byte datagram's worth). */
function bundle(hashKey: bigint, seq: bigint): Buffer {
  const members = 8;
  const f = Buffer.alloc(66 + members * (2 + 160));
  f.writeUInt32BE(0xe3e1f3e8, 0);
  f.writeUInt16BE(0x02bf, 4);
  f[6] = 0x08;
  f.writeBigUInt64BE(hashKey, 40);
  f.writeBigUInt64BE(seq, 48);
  f.writeUInt16BE(members, 60);
  f.writeUInt32BE(members * (2 + 160), 62);
  for (let m = 0; m < members; m++) f.writeUInt16BE(160, 66 + m * 162);
  return f;
}
const bundles = hashKeys.map((h, i) => bundle(h, seqs[i]!));
const acks = seqs.map((seq) => Buffer.from(encodeResponse({ kind: 'ack', seq })));
const nackOut = Buffer.alloc(64);
const keyOut = Buffer.alloc(16);

let sink = 0;
type Case = [name: string, op: (i: number) => void];

const cases: Case[] = [
  [
    'NACK    encodeNack (new Buffer)',
    (i) => {
      const seq = seqs[i]!;
      const nack = {
        hashKey: hashKeys[i]!,
        startSeq: seq,
        endSeq: seq,
        subtreeId,
        flags: FLAG_PROXIED,
      };
      sink ^= encodeNack(nack)[20]!;
    },
  ],
  [
    'NACK    encodeNack (caller buffer)',
    (i) => {
      const seq = seqs[i]!;
      const nack = {
        hashKey: hashKeys[i]!,
        startSeq: seq,
        endSeq: seq,
        subtreeId,
        flags: FLAG_PROXIED,
      };
      sink ^= encodeNack(nack, nackOut)[20]!;
    },
  ],
  [
    'key     cacheKey (new Buffer)',
    (i) => {
      sink ^= cacheKey(hashKeys[i]!, seqs[i]!)[3]!;
    },
  ],
  [
    'key     cacheKey (caller buffer)',
    (i) => {
      sink ^= cacheKey(hashKeys[i]!, seqs[i]!, keyOut)[3]!;
    },
  ],
  [
    'match   matchFrame',
    (i) => {
      const m = matchFrame(frames[i]!, hashKeys[i]!, seqs[i]!);
      if (typeof m !== 'string') sink ^= m.txId.length;
    },
  ],
  [
    'wrong   matchFrame',
    (i) => {
      sink ^= (matchFrame(frames[(i + 1) % N]!, hashKeys[i]!, seqs[i]!) as string).length;
    },
  ],
  [
    'match   matchFrame (bundle of 8)',
    (i) => {
      const m = matchFrame(bundles[i]!, hashKeys[i]!, seqs[i]!);
      if (typeof m !== 'string') sink ^= m.txId.length;
    },
  ],
  [
    'header  decodeFrameHeader',
    (i) => {
      sink ^= decodeFrameHeader(frames[i]!).payloadLength;
    },
  ],
  [
    'reply   decodeResponse (ACK)',
    (i) => {
      sink ^= decodeResponse(acks[i]!).kind.length;
    },
  ],
];

/** CPU time per call in ns: unlike wall time, it leaves out the time other processes ran. */
function timeCase(op: (i: number) => void, iterations: number): number {
  const start = process.cpuUsage();
  for (let n = 0; n < iterations; n++) op(n & (N - 1));
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / iterations;
}

for (const [, op] of cases) timeCase(op, 200_000); // warm up every path before measuring

const results = cases.map((): number[] => []);
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < cases.length; k++) {
    const c = (k + round) % cases.length;
    results[c]!.push(timeCase(cases[c]![1], ITERATIONS));
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
console.log(
  `node ${process.version}, ${ROUNDS} rounds x ${ITERATIONS} calls per case (CPU ns/call)\n`,
);
console.log(`${'case'.padEnd(52)} ${'median'.padStart(8)} ${'best'.padStart(8)}`);
cases.forEach(([name], c) => {
  const xs = results[c]!;
  console.log(
    `${name.padEnd(52)} ${median(xs).toFixed(1).padStart(8)} ${Math.min(...xs)
      .toFixed(1)
      .padStart(8)}`,
  );
});
if (sink === 0.5) console.log(sink); // keeps the results observable
