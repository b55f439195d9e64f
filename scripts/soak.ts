/**
 * Bounded soak run: a ProxyClient over real loopback UDP against three emulated upstreams
 * (one lossy, one that throttles, one that sends the frame before its ACK), fed a steady
 * mix of gaps — duplicates, ranges, proxied and invalid ones — faster than it can serve.
 * Prints the accounting and the process's memory at intervals, then drains, closes and
 * checks that every number adds up. Exits 1 if anything does not.
 *
 *   npm run soak -- --minutes 0.5 [--rate 20000]
 */
import { FLAG_PROXIED, MemoryCache, MemoryDeduper, ProxyClient } from '../src/index.js';
import type { ProxyStats } from '../src/index.js';
import { UpstreamEmulator, buildFrame } from '../src/testing/index.js';

interface Args {
  minutes: number;
  rate: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { minutes: 1, rate: 20_000 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = argv[i + 1];
    if (name === '--minutes' || name === '--rate') {
      const n = Number(value);
      if (value === undefined || !Number.isFinite(n) || n <= 0) {
        throw new Error(`${name} needs a positive number, got ${String(value)}`);
      }
      if (name === '--minutes') args.minutes = n;
      else args.rate = Math.round(n);
      i++;
    } else {
      throw new Error(`unknown argument ${String(name)} (use --minutes N [--rate R])`);
    }
  }
  return args;
}

const MB = 1024 * 1024;
const HASH_KEYS = [0x50a4_0001n, 0x50a4_0002n];
/** Sequence numbers cycle through this space per flow; every fifth is missing upstream. */
const SEQ_SPACE = 8192;

/** Deterministic xorshift32, so two runs offer the same mix. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function fmt(record: Record<string, number>): string {
  const parts = Object.entries(record)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}=${n}`);
  return parts.length === 0 ? '-' : parts.join(',');
}

async function main(): Promise<number> {
  const { minutes, rate } = parseArgs(process.argv.slice(2));
  const durationMs = minutes * 60_000;
  const reportEveryMs = Math.min(30_000, Math.max(1000, durationMs / 6));

  // A stress run: the first emulator's rate limits and the client's NACK pacing are off, so
  // the soak pushes as many gaps as it can (pacing would hold it to 90 NACKs/s per upstream).
  const upstreams = await Promise.all([
    UpstreamEmulator.start({
      host: '::1',
      behaviour: { dropRate: 0.1 },
      retryEndpoint: { limits: false },
      recordLimit: 0,
    }),
    UpstreamEmulator.start({
      host: '127.0.0.1',
      behaviour: { mode: 'throttle', throttleTimes: 1 },
      recordLimit: 0,
    }),
    UpstreamEmulator.start({ host: '::1', behaviour: { mode: 'frame-first' }, recordLimit: 0 }),
  ]);
  for (const hashKey of HASH_KEYS) {
    for (let s = 0; s < SEQ_SPACE; s++) {
      if (s % 5 === 4) continue;
      const frame = buildFrame({ hashKey, seq: BigInt(s) });
      for (const u of upstreams) u.put(frame);
    }
  }

  const cache = new MemoryCache({ maxEntries: 20_000 });
  let retransmitted = 0;
  const client = new ProxyClient({
    upstreams: upstreams.map((u) => u.endpoint),
    cache,
    deduper: new MemoryDeduper({ maxEntries: 20_000 }),
    retransmitter: {
      retransmit: () => {
        retransmitted++;
      },
    },
    workers: 16,
    queueDepth: 2048,
    timeoutMs: 100,
    nackRate: false,
    dedupWindowMs: 200,
    failureMemoryMs: 500,
  });
  const events = { recovered: 0, failed: 0, deduped: 0, dropped: 0, error: 0 };
  client.on('recovered', () => events.recovered++);
  client.on('failed', () => events.failed++);
  client.on('deduped', () => events.deduped++);
  client.on('dropped', () => events.dropped++);
  client.on('error', () => events.error++);

  const random = rng(126);
  let offered = 0;
  let accepted = 0;
  let refused = 0;
  const offerOne = (): void => {
    const hashKey = HASH_KEYS[Math.floor(random() * HASH_KEYS.length)] ?? 0n;
    const seq = BigInt(Math.floor(random() * SEQ_SPACE));
    const pick = random();
    let ok: boolean;
    if (pick < 0.01) ok = client.enqueue({ hashKey, startSeq: seq, flags: FLAG_PROXIED });
    else if (pick < 0.015) ok = client.enqueue({ hashKey: -1n, startSeq: seq });
    else if (pick < 0.02) ok = client.enqueue({ hashKey, startSeq: seq, endSeq: seq + 3n });
    else ok = client.enqueue({ hashKey, startSeq: seq });
    offered++;
    if (ok) accepted++;
    else refused++;
  };

  const started = performance.now();
  let peakRss = process.memoryUsage().rss;
  const report = (label: string, s: ProxyStats): void => {
    const mem = process.memoryUsage();
    peakRss = Math.max(peakRss, mem.rss);
    const t = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
    console.log(
      `${label.padEnd(5)} t=${t}s offered=${offered} accepted=${accepted} ` +
        `dropped{${fmt(s.dropped)}} requests=${s.requests} recovered=${s.recovered} ` +
        `failed{${fmt(s.failed)}} deduped{${fmt(s.deduped)}} queued=${s.queued} ` +
        `inFlight=${s.inFlight} errors{${fmt(s.errors)}} ` +
        `rss=${(mem.rss / MB).toFixed(1)}MB heap=${(mem.heapUsed / MB).toFixed(1)}MB`,
    );
  };

  console.log(
    `soak: ${minutes} min, ${rate} enqueues/s offered, upstreams ${upstreams
      .map((u) => u.endpoint)
      .join(' ')}`,
  );
  report('start', client.stats());
  let nextReport = reportEveryMs;
  const tickMs = 10;
  let credit = 0;
  while (performance.now() - started < durationMs) {
    await new Promise((resolve) => setTimeout(resolve, tickMs));
    credit += (rate * tickMs) / 1000;
    for (; credit >= 1; credit--) offerOne();
    if (performance.now() - started >= nextReport) {
      report('run', client.stats());
      nextReport += reportEveryMs;
    }
  }

  await client.close({ drain: true });
  await Promise.all(upstreams.map((u) => u.close()));
  const s = client.stats();
  report('end', s);

  const problems: string[] = [];
  const check = (what: string, got: number, want: number): void => {
    if (got !== want) problems.push(`${what}: ${got} != ${want}`);
  };
  check('offered = accepted + refused', offered, accepted + refused);
  check('refused enqueues = droppedTotal', refused, s.droppedTotal);
  check(
    'requests = recovered + failed + deduped',
    s.requests,
    s.recovered + s.failedTotal + s.dedupedTotal,
  );
  check('recovered events', events.recovered, s.recovered);
  check('failed events', events.failed, s.failedTotal);
  check('deduped events', events.deduped, s.dedupedTotal);
  check('dropped events', events.dropped, s.droppedTotal);
  check('retransmits = recovered', retransmitted, s.recovered);
  check('queued + inFlight after close', s.queued + s.inFlight, 0);
  console.log(
    `accounting: requests=${s.requests} = recovered ${s.recovered} + failed ${s.failedTotal} ` +
      `+ deduped ${s.dedupedTotal}; refused=${refused} = dropped ${s.droppedTotal}; ` +
      `transport{${fmt(s.transport)}}`,
  );
  console.log(`memory: peak rss ${(peakRss / MB).toFixed(1)}MB`);
  if (problems.length > 0) {
    console.log(`accounting: FAILED\n  ${problems.join('\n  ')}`);
    return 1;
  }
  console.log('accounting: OK');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
