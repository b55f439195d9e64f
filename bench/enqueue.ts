/**
 * Enqueue cost, run in its own process with `--expose-gc` (bench/run.ts forks it):
 * ns per accepted enqueue, ns per dropped (queue-full) enqueue, and heap bytes held per
 * queued gap at a 100,000-deep queue. The transport never answers, so after the first job
 * every gap stays queued.
 */
import { ProxyClient } from './lib.js';
import type { Reply, Transport, ExchangeOptions } from '../src/transport/transport.js';
import { decodeNack, encodeNack } from '../src/wire/nack.js';
import type { Gap } from '../src/client/gap.js';
import { median } from './stats.js';

/** CPU and wall time of one operation, ns (medians over repetitions). */
export interface Cost {
  cpuNs: number;
  wallNs: number;
}

/** What this process reports. */
export interface EnqueueResult {
  /** Accepted enqueues into a queue filled to the default depth (1,024), over and over. */
  acceptedShallow: Cost;
  /** Of those, the first gap of each fresh client, which starts its first job. */
  acceptedShallowFirst: Cost;
  /** Of those, the other 1,023 gaps, per gap. */
  acceptedShallowRest: Cost;
  accepted: Cost;
  acceptedDecoded: Cost;
  dropped: Cost;
  droppedListened: Cost;
  heapBytesPerGap: number;
  heapBytesPerDecodedGap: number;
  depth: number;
}

/** Times `n` operations done by `fn`: process CPU time (all threads) and wall time, per op. */
function timed(n: number, fn: () => void): Cost {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  return { cpuNs: ((c.user + c.system) * 1000) / n, wallNs: wall / n };
}

function medianCost(costs: Cost[]): Cost {
  return { cpuNs: median(costs.map((c) => c.cpuNs)), wallNs: median(costs.map((c) => c.wallNs)) };
}

const DEPTH = 100_000;
const DROPS = 1_000_000;

/** A transport that never answers (until the exchange is aborted by close()). */
class SilentTransport implements Transport {
  exchange(_upstream: string, _nack: Uint8Array, options: ExchangeOptions): Promise<Reply> {
    return new Promise((resolve) => {
      options.signal?.addEventListener('abort', () => resolve({ kind: 'error', code: 'aborted' }), {
        once: true,
      });
    });
  }
}

function client(depth: number): ProxyClient {
  return new ProxyClient({
    upstreams: ['[::1]:9'],
    cache: { store() {} },
    retransmitter: { retransmit() {} },
    transport: new SilentTransport(),
    workers: 1,
    queueDepth: depth,
  });
}

function plainGaps(from: number, count: number): Gap[] {
  const gaps: Gap[] = [];
  for (let i = 0; i < count; i++) gaps.push({ hashKey: 0xabcdefn, startSeq: BigInt(from + i) });
  return gaps;
}

function decodedGaps(from: number, count: number): Gap[] {
  const gaps: Gap[] = [];
  const buf = Buffer.from(encodeNack({ hashKey: 0xabcdefn, startSeq: 0n }));
  for (let i = 0; i < count; i++) {
    buf.writeBigUInt64BE(BigInt(from + i), 16);
    buf.writeBigUInt64BE(BigInt(from + i), 24);
    gaps.push(decodeNack(buf));
  }
  return gaps;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  g();
  g();
}

/** ns per enqueue of `gaps` into a fresh client (first gap starts the one worker). */
async function timeAccepted(gaps: Gap[]): Promise<Cost> {
  const c = client(gaps.length);
  gc();
  const cost = timed(gaps.length, () => {
    for (const g of gaps) if (!c.enqueue(g)) throw new Error('enqueue refused');
  });
  await c.close();
  return cost;
}

/** What filling fresh clients to a shallow depth costs, per gap and split. */
interface ShallowCost {
  /** All gaps of a fill, the first included. */
  all: Cost;
  /** The first gap of a fresh client, which starts its first job (once per client). */
  first: Cost;
  /** The other gaps, per gap. */
  rest: Cost;
}

/** Fills fresh clients to `depth` again and again (`gaps.length / depth` times). */
async function timeAcceptedShallow(gaps: Gap[], depth: number): Promise<ShallowCost> {
  const sum = { first: { cpuNs: 0, wallNs: 0 }, rest: { cpuNs: 0, wallNs: 0 } };
  for (let from = 0; from + depth <= gaps.length; from += depth) {
    const c = client(depth);
    const first = timed(1, () => {
      if (!c.enqueue(gaps[from] as Gap)) throw new Error('enqueue refused');
    });
    const rest = timed(depth - 1, () => {
      for (let i = from + 1; i < from + depth; i++) {
        if (!c.enqueue(gaps[i] as Gap)) throw new Error('enqueue refused');
      }
    });
    for (const k of ['cpuNs', 'wallNs'] as const) {
      sum.first[k] += first[k];
      sum.rest[k] += rest[k];
    }
    await c.close();
  }
  const batches = Math.floor(gaps.length / depth);
  const per = (c: Cost, n: number): Cost => ({ cpuNs: c.cpuNs / n, wallNs: c.wallNs / n });
  const first = per(sum.first, batches);
  const rest = per(sum.rest, batches);
  const all = {
    cpuNs: (first.cpuNs + rest.cpuNs * (depth - 1)) / depth,
    wallNs: (first.wallNs + rest.wallNs * (depth - 1)) / depth,
  };
  return { all, first, rest };
}

async function timeDropped(listen: boolean): Promise<Cost> {
  const c = client(DEPTH);
  for (const g of plainGaps(0, DEPTH + 1)) c.enqueue(g);
  let events = 0;
  if (listen) c.on('dropped', () => events++);
  const extra = plainGaps(DEPTH + 1, 1000);
  gc();
  const cost = timed(DROPS, () => {
    for (let r = 0; r < DROPS / extra.length; r++) {
      for (const g of extra) if (c.enqueue(g)) throw new Error('enqueue accepted');
    }
  });
  if (listen && events !== DROPS) throw new Error('dropped events missing');
  await c.close();
  return cost;
}

async function heapPerGap(make: (i: number) => Gap): Promise<number> {
  const c = client(DEPTH);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i <= DEPTH; i++) c.enqueue(make(i));
  gc();
  const after = process.memoryUsage().heapUsed;
  if (c.size !== DEPTH) throw new Error(`queue holds ${c.size}`);
  await c.close();
  return (after - before) / DEPTH;
}

async function main(): Promise<EnqueueResult> {
  const plain = plainGaps(0, DEPTH);
  const decoded = decodedGaps(0, DEPTH);
  const shallow: ShallowCost[] = [];
  for (let r = 0; r < 6; r++) shallow.push(await timeAcceptedShallow(plain, 1024));
  const accepted: Cost[] = [];
  const acceptedDecoded: Cost[] = [];
  for (let r = 0; r < 6; r++) {
    accepted.push(await timeAccepted(plain));
    acceptedDecoded.push(await timeAccepted(decoded));
  }
  const dropped: Cost[] = [];
  const droppedListened: Cost[] = [];
  for (let r = 0; r < 4; r++) {
    dropped.push(await timeDropped(false));
    droppedListened.push(await timeDropped(true));
  }
  const nack = Buffer.from(encodeNack({ hashKey: 0xabcdefn, startSeq: 0n }));
  const heap: number[] = [];
  const heapDecoded: number[] = [];
  for (let r = 0; r < 2; r++) {
    heap.push(await heapPerGap((i) => ({ hashKey: BigInt(0xabcdef), startSeq: BigInt(i) })));
    heapDecoded.push(
      await heapPerGap((i) => {
        nack.writeBigUInt64BE(BigInt(i), 16);
        nack.writeBigUInt64BE(BigInt(i), 24);
        return decodeNack(nack);
      }),
    );
  }
  // Drop the first (cold) timing of each series; the median of the rest is reported.
  return {
    acceptedShallow: medianCost(shallow.slice(1).map((c) => c.all)),
    acceptedShallowFirst: medianCost(shallow.slice(1).map((c) => c.first)),
    acceptedShallowRest: medianCost(shallow.slice(1).map((c) => c.rest)),
    accepted: medianCost(accepted.slice(1)),
    acceptedDecoded: medianCost(acceptedDecoded.slice(1)),
    dropped: medianCost(dropped.slice(1)),
    droppedListened: medianCost(droppedListened.slice(1)),
    heapBytesPerGap: median(heap),
    heapBytesPerDecodedGap: median(heapDecoded),
    depth: DEPTH,
  };
}

main().then(
  (result) => {
    if (process.send !== undefined) process.send(result, () => process.exit(0));
    else {
      console.log(JSON.stringify(result, null, 2));
    }
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
