/**
 * The floor under "accepted enqueue while a queue fills to 100,000": what this machine
 * charges for the two things any coalescing queue does per gap (keep an object, and insert
 * its sequence number into a Map) with no library code at all. CPU ns per gap, medians.
 *
 *   node --import tsx bench/floor.ts
 */
const N = 100_000;
const gaps = Array.from({ length: N }, (_, i) => ({ hashKey: 0xabcdefn, startSeq: BigInt(i) }));

function cost(fn: () => unknown): number {
  const runs: number[] = [];
  for (let k = 0; k < 9; k++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    runs.push(((c.user + c.system) * 1000) / N);
  }
  runs.sort((a, b) => a - b);
  return runs[4] as number;
}

const keepObjects = (): unknown => {
  const kept: object[] = [];
  for (const g of gaps) kept.push({ hashKey: g.hashKey, seq: g.startSeq, at: performance.now() });
  return kept;
};
const mapBigint = (): unknown => {
  const m = new Map<bigint, object>();
  for (const g of gaps) if (!m.has(g.startSeq)) m.set(g.startSeq, g);
  return m;
};
const mapSmall = (): unknown => {
  const m = new Map<number, object>();
  for (const g of gaps) {
    const k = Number(g.startSeq);
    if (!m.has(k)) m.set(k, g);
  }
  return m;
};
const both = (): unknown => {
  const m = new Map<number, object>();
  const kept: object[] = [];
  for (const g of gaps) {
    const k = Number(g.startSeq);
    if (m.has(k)) continue;
    const job = { hashKey: g.hashKey, seq: g.startSeq, at: performance.now() };
    m.set(k, job);
    kept.push(job);
  }
  return kept;
};

for (const [name, fn] of [
  ['keep 100,000 small objects in an array', keepObjects],
  ['Map<bigint> has+set, 100,000 keys', mapBigint],
  ['Map<number> has+set, 100,000 keys', mapSmall],
  ['both (a minimal coalescing queue)', both],
] as const) {
  console.log(`${cost(fn).toFixed(0).padStart(6)} ns  ${name}`);
}
