/**
 * Why the client does not run one p-queue task per gap (BENCHMARKS.md, "Queue"): p-queue@9
 * against the client's own loop of workers over a FIFO, per task and per queued task.
 * p-queue is not a dependency any more; install it for this measurement only:
 *
 *   npm install --no-save p-queue@9 && node --expose-gc --import tsx bench/queue.ts
 */
const TASKS = 100_000;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  g();
  g();
}

interface Queue {
  add(fn: () => Promise<void>): unknown;
  onIdle(): Promise<void>;
}

async function pQueue(concurrency: number): Promise<Queue> {
  const name = 'p-queue';
  const PQueue = ((await import(name)) as { default: new (o: object) => Queue }).default;
  return new PQueue({ concurrency });
}

/** The client's scheme: `concurrency` async loops taking jobs from one array FIFO. */
function lanes(concurrency: number): Queue {
  const fifo: (() => Promise<void>)[] = [];
  let head = 0;
  let running = 0;
  let idle: (() => void)[] = [];
  const lane = async (): Promise<void> => {
    while (head < fifo.length) {
      const job = fifo[head] as () => Promise<void>;
      fifo[head++] = undefined as unknown as () => Promise<void>;
      await job();
    }
    running--;
    if (running === 0) for (const w of idle.splice(0)) w();
  };
  return {
    add(fn) {
      fifo.push(fn);
      if (running < concurrency) {
        running++;
        void lane();
      }
    },
    onIdle: () =>
      running === 0 ? Promise.resolve() : new Promise<void>((r) => (idle = [...idle, r])),
  };
}

async function nsPerTask(make: () => Promise<Queue> | Queue): Promise<number> {
  const q = await make();
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i++) q.add(async () => {});
  await q.onIdle();
  return ((performance.now() - t0) * 1e6) / TASKS;
}

async function bytesPerQueued(make: () => Promise<Queue> | Queue): Promise<number> {
  const q = await make();
  let release: () => void = () => {};
  q.add(() => new Promise<void>((r) => (release = r))); // holds the only worker
  gc();
  const before = process.memoryUsage().heapUsed;
  const job = { hashKey: 1n, seq: 0n };
  for (let i = 0; i < TASKS; i++) q.add(() => Promise.resolve(void job));
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / TASKS;
  release();
  await q.onIdle();
  return bytes;
}

for (const concurrency of [4, 64]) {
  for (let round = 0; round < 3; round++) {
    const p = await nsPerTask(() => pQueue(concurrency));
    const l = await nsPerTask(() => lanes(concurrency));
    console.log(
      `concurrency ${concurrency}: p-queue ${p.toFixed(0)} ns/task, lanes ${l.toFixed(0)} ns/task`,
    );
  }
}
console.log(
  `heap per queued task: p-queue ${(await bytesPerQueued(() => pQueue(1))).toFixed(0)} B, lanes ${(await bytesPerQueued(() => lanes(1))).toFixed(0)} B`,
);
