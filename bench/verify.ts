/**
 * Cost of the content check (`verifyFrameContent`) per recovered frame, by kind of frame:
 * CPU µs per verification, median of 9 rounds of about 100 ms each, on frames built by the
 * testing kit. The SHA256d column is a floor: one SHA256d of the whole datagram, nothing else.
 *
 *   node --import tsx bench/verify.ts
 */
import { FrameVer } from '../src/wire/constants.js';
import { sha256d } from '../src/wire/ef.js';
import { verifyFrameContent } from '../src/wire/verify.js';
import { beefObject, buildFrame, sampleTransaction } from '../src/testing/index.js';

const BUNDLE = 0x08;
const ROUNDS = 9;
const ROUND_MS = 100;
const gap = { hashKey: 0x5eedn, seq: 1n };

const typical = sampleTransaction(1n, { inputs: 1, outputs: 2 });
const members = (ef: boolean): Buffer[] =>
  Array.from({ length: 50 }, (_, i) => {
    const tx = sampleTransaction(BigInt(100 + i), { inputs: 1, outputs: 2 });
    return ef ? tx.ef : tx.raw;
  });
const beef = beefObject(
  Array.from({ length: 16 }, (_, i) => sampleTransaction(BigInt(200 + i), { outputs: 2 }).raw),
);

const cases: [string, Buffer][] = [
  ['raw tx (1 in, 2 out)', buildFrame({ ...gap, payload: typical.raw })],
  ['EF tx (1 in, 2 out)', buildFrame({ ...gap, payload: typical.ef })],
  [
    'EF tx (5 in, 5 out)',
    buildFrame({ ...gap, payload: sampleTransaction(2n, { inputs: 5, outputs: 5 }).ef }),
  ],
  ['raw anchor', buildFrame({ ...gap, frameVer: FrameVer.Anchor, payload: typical.raw })],
  ['BEEF object (16 txs)', buildFrame({ ...gap, frameVer: FrameVer.Beef, payload: beef })],
  ['bundle, 50 raw members', buildFrame({ ...gap, frameVer: BUNDLE, members: members(false) })],
  ['bundle, 50 EF members', buildFrame({ ...gap, frameVer: BUNDLE, members: members(true) })],
  [
    'bundle without TxIDs (unverifiable)',
    buildFrame({ ...gap, frameVer: BUNDLE, members: members(false), txIdsPresent: false }),
  ],
  ['fragment (unverifiable)', buildFrame({ ...gap, frameVer: FrameVer.Fragment })],
];

/** Median CPU µs per call of `fn` over {@link ROUNDS} rounds of about {@link ROUND_MS}. */
function cost(fn: () => unknown): number {
  // Calibrate the round size, warming the function up on the way.
  let n = 16;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    if (performance.now() - t0 > ROUND_MS / 4) break;
    n *= 2;
  }
  n *= 4;
  const runs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / n);
  }
  runs.sort((a, b) => a - b);
  return runs[ROUNDS >> 1] as number;
}

console.log(
  `Node ${process.version}, ${ROUNDS} rounds of ~${ROUND_MS} ms, CPU µs per call (median)`,
);
console.log('');
console.log(
  `${'frame'.padEnd(38)}${'bytes'.padStart(7)}${'verify µs'.padStart(11)}${'SHA256d µs'.padStart(12)}  verdict`,
);
for (const [name, frame] of cases) {
  const verdict = verifyFrameContent(frame);
  if (verdict.status === 'invalid') throw new Error(`${name}: ${verdict.reason}`);
  const label = verdict.status === 'verified' ? verdict.content : verdict.reason;
  const verify = cost(() => verifyFrameContent(frame));
  const floor = cost(() => sha256d(frame));
  console.log(
    `${name.padEnd(38)}${String(frame.length).padStart(7)}${verify.toFixed(2).padStart(11)}${floor
      .toFixed(2)
      .padStart(12)}  ${label}`,
  );
}
