/**
 * `npm run bench`: nack-proxy against the physical limit on the same machine, same run.
 *
 * The upstream emulator runs in a child process (bench/upstream-process.ts); the client
 * under test and the raw node:dgram baseline run here, against the same emulator, in
 * alternating rounds so machine noise hits both alike. Enqueue cost runs in a third
 * process with --expose-gc (bench/enqueue.ts). Prints a table and writes
 * bench/results/latest.json.
 *
 * Options: --quick (shorter rounds, for a smoke run), --only=throughput,latency,dead,enqueue.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ProxyClient } from '../src/client/proxy-client.js';
import { UdpTransport } from '../src/transport/udp.js';
import type { RecoveredEvent } from '../src/client/events.js';
import { loopbackAddress } from '../src/testing/loopback.js';
import { UpstreamProcess } from './upstream.js';
import { RawExchanger, rawRoundTrips, rawThroughput } from './raw.js';
import { median, quantile, sleep } from './stats.js';
import type { Cost, EnqueueResult } from './enqueue.js';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='));
const ONLY = onlyArg === undefined ? undefined : new Set(onlyArg.slice(7).split(','));
const run = (part: string): boolean => ONLY === undefined || ONLY.has(part);

const FRAMES = 32_768;
const PAYLOAD = 256;
const HASH_KEY = 0x5eed_0001n;
const DEAD_HASH_KEY = 0x5eed_0002n;
const WORKERS = [1, 4, 16, 64];
const ROUNDS = QUICK ? 1 : 7;
const ROUND_MS = QUICK ? 400 : 800;

interface Row {
  metric: string;
  value: number;
  baseline: number | undefined;
  unit: string;
  ratio: number | undefined;
  target: string;
  met: boolean | undefined;
}

const rows: Row[] = [];
const details: Record<string, unknown> = {};

function row(r: Omit<Row, 'ratio'> & { ratio?: number }): void {
  const ratio = r.ratio ?? (r.baseline === undefined ? undefined : r.value / r.baseline);
  rows.push({ ...r, ratio });
}

const noopCache = { store(): void {} };
const noopRetransmitter = { retransmit(): void {} };

/** Recoveries per second with `workers` in flight, queue kept fed, for `durationMs`. */
async function libThroughput(
  up: UpstreamProcess,
  endpoint: string,
  workers: number,
  durationMs: number,
  firstSeq: number,
): Promise<{
  rate: number;
  recovered: number;
  failed: number;
  nextSeq: number;
  cpuUs: number;
  upstreamCpuUs: number;
}> {
  const transport = new UdpTransport();
  const client = new ProxyClient({
    upstreams: [endpoint],
    cache: noopCache,
    retransmitter: noopRetransmitter,
    transport,
    workers,
    queueDepth: 4096,
  });
  let seq = firstSeq;
  let recovered = 0;
  let failed = 0;
  let feeding = true;
  const backlog = Math.max(256, workers * 4);
  const feed = (): void => {
    while (feeding && client.size < backlog) {
      client.enqueue({ hashKey: HASH_KEY, startSeq: BigInt(seq++ % FRAMES) });
    }
  };
  client.on('recovered', () => {
    recovered++;
    if (client.size < workers) feed();
  });
  client.on('failed', () => {
    failed++;
    if (client.size < workers) feed();
  });
  // Warm-up: open the socket pool and let the JIT settle, outside the timed window.
  feed();
  await sleep(Math.min(300, durationMs / 3));
  const r0 = recovered;
  const e0 = await up.cpuUs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(durationMs);
  const elapsed = performance.now() - t0;
  const count = recovered - r0;
  const c = process.cpuUsage(c0);
  const e1 = await up.cpuUs();
  feeding = false;
  await client.onIdle();
  await client.close();
  await transport.close();
  return {
    rate: (count / elapsed) * 1000,
    recovered: count,
    failed,
    nextSeq: seq,
    cpuUs: (c.user + c.system) / count,
    upstreamCpuUs: (e1 - e0) / count,
  };
}

/** enqueue → recovered, one gap at a time, ms. */
async function libLatencies(endpoint: string, firstSeq: number, count: number): Promise<number[]> {
  const transport = new UdpTransport();
  const client = new ProxyClient({
    upstreams: [endpoint],
    cache: noopCache,
    retransmitter: noopRetransmitter,
    transport,
    workers: 1,
  });
  const out: number[] = [];
  let resolveOne: (() => void) | undefined;
  client.on('recovered', () => resolveOne?.());
  client.on('failed', () => resolveOne?.());
  try {
    for (let i = 0; i < count; i++) {
      const seq = BigInt((firstSeq + i) % FRAMES);
      let t0 = 0;
      let ok = false;
      await new Promise<void>((resolve) => {
        resolveOne = () => {
          ok = client.stats !== undefined;
          resolve();
        };
        t0 = performance.now();
        client.enqueue({ hashKey: HASH_KEY, startSeq: seq });
      });
      const t = performance.now() - t0;
      if (ok) out.push(t);
    }
  } finally {
    await client.close();
    await transport.close();
  }
  return out;
}

async function throughput(up: UpstreamProcess, host: string): Promise<void> {
  const serving = await up.emulator(host, 'serve', HASH_KEY, FRAMES, PAYLOAD);
  let seq = 0;
  const perWorkers: Record<string, unknown> = {};
  const cpuRows: { w: number; lib: number; raw: number }[] = [];
  for (const w of WORKERS) {
    const raw: number[] = [];
    const lib: number[] = [];
    const rawCpu: number[] = [];
    const libCpu: number[] = [];
    const rawUpCpu: number[] = [];
    const libUpCpu: number[] = [];
    let failed = 0;
    let lost = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const e0 = await up.cpuUs();
      const c0 = process.cpuUsage();
      const a = await rawThroughput(serving.host, serving.port, HASH_KEY, FRAMES, w, ROUND_MS);
      const c = process.cpuUsage(c0);
      const e1 = await up.cpuUs();
      raw.push(a.rate);
      rawCpu.push((c.user + c.system) / a.exchanges);
      rawUpCpu.push((e1 - e0) / a.exchanges);
      lost += a.lost;
      const b = await libThroughput(up, serving.endpoint, w, ROUND_MS, seq);
      seq = b.nextSeq;
      lib.push(b.rate);
      libCpu.push(b.cpuUs);
      libUpCpu.push(b.upstreamCpuUs);
      failed += b.failed;
    }
    const rawRate = median(raw);
    const libRate = median(lib);
    // Each library round runs right after its raw round: the median of the per-pair ratios
    // cancels slow drifts in machine load better than a ratio of medians.
    const pairRatio = median(lib.map((l, i) => l / (raw[i] ?? NaN)));
    perWorkers[w] = {
      raw,
      lib,
      rawClientCpuUs: rawCpu,
      libClientCpuUs: libCpu,
      rawUpstreamCpuUs: rawUpCpu,
      libUpstreamCpuUs: libUpCpu,
      libFailed: failed,
      rawLost: lost,
    };
    cpuRows.push({ w, lib: median(libCpu), raw: median(rawCpu) });
    row({
      metric: `throughput, ${w} worker${w === 1 ? '' : 's'}`,
      value: libRate,
      baseline: rawRate,
      ratio: pairRatio,
      unit: 'recoveries/s',
      target: w === 64 ? '≥ 0.85 × raw' : '',
      met: w === 64 ? pairRatio >= 0.85 : undefined,
    });
    console.error(
      `  throughput ${w}: lib ${libRate.toFixed(0)}/s raw ${rawRate.toFixed(0)}/s (${pairRatio.toFixed(2)})`,
    );
  }
  details.throughput = perWorkers;
  for (const r of cpuRows) {
    row({
      metric: `client CPU per recovery, ${r.w} worker${r.w === 1 ? '' : 's'}`,
      value: r.lib,
      baseline: r.raw,
      unit: 'µs CPU',
      target: '',
      met: undefined,
    });
  }
  // Latency at one worker, alternating blocks.
  const n = QUICK ? 300 : 1000;
  const rawRtt: number[] = [];
  const libLat: number[] = [];
  let first = 0;
  for (let r = 0; r < 4; r++) {
    rawRtt.push(...(await rawRoundTrips(serving.host, serving.port, HASH_KEY, FRAMES, first, n)));
    first += n;
    const lat = await libLatencies(serving.endpoint, first, n + (r === 0 ? 100 : 0));
    libLat.push(...(r === 0 ? lat.slice(100) : lat));
    first += n + 100;
  }
  const rawP50 = quantile(rawRtt, 0.5);
  const rawP99 = quantile(rawRtt, 0.99);
  const p50 = quantile(libLat, 0.5);
  const p99 = quantile(libLat, 0.99);
  details.latency = { samples: libLat.length, rawSamples: rawRtt.length, rawP50, rawP99, p50, p99 };
  row({
    metric: 'latency p50, 1 worker',
    value: p50 * 1000,
    baseline: rawP50 * 1000,
    unit: 'µs',
    target: '≤ 1.5 × raw RTT',
    met: p50 <= 1.5 * rawP50,
  });
  row({
    metric: 'latency p99, 1 worker',
    value: p99 * 1000,
    baseline: rawP99 * 1000,
    unit: 'µs',
    target: '',
    met: undefined,
  });
  console.error(
    `  latency: p50 ${(p50 * 1000).toFixed(1)}µs (raw ${(rawP50 * 1000).toFixed(1)}) p99 ${(p99 * 1000).toFixed(1)}µs (raw ${(rawP99 * 1000).toFixed(1)})`,
  );
  details.rawRttP50Ms = rawP50;
  await up.closeEmulators();
}

interface DeadTrial {
  rawP50: number;
  rawP99: number;
  p50: number;
  p99: number;
  demotedP50: number;
  demotedP99: number;
  recovered: number;
  failed: number;
  waited: number;
  afterDemotion: number;
  slowest: { seq: number; ms: number; attempts: number }[];
  deadUpstream: unknown;
}

const DEAD_GAPS = 2000;
const DEAD_TIMEOUT_MS = 300;
const DEAD_TRIALS = QUICK ? 1 : 3;

/**
 * One trial: a fresh client (so the dead upstream starts healthy) asks [dead, live] for
 * DEAD_GAPS gaps, one at a time (each enqueued when the previous one ended), so latency is
 * the recovery's own, not time spent queued behind other gaps. Each gap is paired with one
 * raw exchange against the live upstream right before it, so both see the same machine.
 */
async function deadTrial(
  dead: { endpoint: string },
  live: { endpoint: string; host: string; port: number },
  firstSeq: number,
): Promise<DeadTrial> {
  const raw = await RawExchanger.open(live.host, live.port, DEAD_HASH_KEY);
  const rawRtt: number[] = [];
  const transport = new UdpTransport();
  const client = new ProxyClient({
    upstreams: [dead.endpoint, live.endpoint],
    cache: noopCache,
    retransmitter: noopRetransmitter,
    transport,
    timeoutMs: DEAD_TIMEOUT_MS,
  });
  const all: number[] = [];
  const afterDemotion: number[] = [];
  const slowest: { seq: number; ms: number; attempts: number }[] = [];
  let waited = 0;
  let recovered = 0;
  let failed = 0;
  let demoted = false;
  try {
    for (let i = 0; i < DEAD_GAPS; i++) {
      if (!demoted) demoted = client.stats().upstreams[0]?.state === 'demoted';
      const rtt = await raw.exchange((firstSeq + DEAD_GAPS + i) % FRAMES);
      if (!Number.isNaN(rtt)) rawRtt.push(rtt);
      const seq = BigInt((firstSeq + i) % FRAMES);
      const t0 = performance.now();
      const outcome = await new Promise<RecoveredEvent | undefined>((resolve) => {
        const onRecovered = (e: RecoveredEvent): void => {
          if (e.seq !== seq) return;
          client.off('recovered', onRecovered);
          client.off('failed', onFailed);
          resolve(e);
        };
        const onFailed = (e: { seq: bigint }): void => {
          if (e.seq !== seq) return;
          client.off('recovered', onRecovered);
          client.off('failed', onFailed);
          resolve(undefined);
        };
        client.on('recovered', onRecovered);
        client.on('failed', onFailed);
        client.enqueue({ hashKey: DEAD_HASH_KEY, startSeq: seq });
      });
      const ms = performance.now() - t0;
      if (outcome === undefined) {
        failed++;
        continue;
      }
      recovered++;
      all.push(ms);
      if (demoted) afterDemotion.push(ms);
      if (outcome.attempts > 1) waited++;
      slowest.push({ seq: Number(seq), ms, attempts: outcome.attempts });
    }
  } finally {
    await client.close();
    await transport.close();
    await raw.close();
  }
  return {
    rawP50: quantile(rawRtt, 0.5),
    rawP99: quantile(rawRtt, 0.99),
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    demotedP50: quantile(afterDemotion, 0.5),
    demotedP99: quantile(afterDemotion, 0.99),
    recovered,
    failed,
    waited,
    afterDemotion: afterDemotion.length,
    slowest: slowest.sort((a, b) => b.ms - a.ms).slice(0, 10),
    deadUpstream: client.stats().upstreams[0],
  };
}

async function deadUpstream(up: UpstreamProcess, host: string): Promise<void> {
  const dead = await up.emulator(host, 'silent', DEAD_HASH_KEY, 0, PAYLOAD);
  const live = await up.emulator(host, 'serve', DEAD_HASH_KEY, FRAMES, PAYLOAD);
  const trials: DeadTrial[] = [];
  for (let t = 0; t < DEAD_TRIALS; t++) trials.push(await deadTrial(dead, live, t * 2 * DEAD_GAPS));
  await up.closeEmulators();
  const med = (f: (t: DeadTrial) => number): number => median(trials.map(f));
  const rawP50 = med((t) => t.rawP50);
  const rawP99 = med((t) => t.rawP99);
  const p50 = med((t) => t.p50);
  const p99 = med((t) => t.p99);
  const dp99 = med((t) => t.demotedP99);
  const waitedShare = med((t) => t.waited / Math.max(1, t.recovered));
  const dp99Ratio = med((t) => t.demotedP99 / t.rawP50);
  details.dead = { gaps: DEAD_GAPS, timeoutMs: DEAD_TIMEOUT_MS, inFlight: 1, trials };
  row({
    metric: 'dead 1st upstream: p50, all 2,000',
    value: p50 * 1000,
    baseline: rawP50 * 1000,
    unit: 'µs',
    target: '',
    met: undefined,
  });
  row({
    metric: 'dead 1st upstream: p99, all 2,000',
    value: p99 * 1000,
    baseline: rawP50 * 1000,
    unit: 'µs',
    target: '',
    met: undefined,
  });
  row({
    metric: 'dead 1st upstream: raw p99 (noise floor)',
    value: rawP99 * 1000,
    baseline: rawP50 * 1000,
    unit: 'µs',
    target: '',
    met: undefined,
  });
  row({
    metric: 'dead 1st upstream: p99 once demoted',
    value: dp99 * 1000,
    baseline: rawP50 * 1000,
    ratio: dp99Ratio,
    unit: 'µs',
    target: '< 10 × raw RTT',
    met: dp99Ratio < 10,
  });
  row({
    metric: 'dead 1st upstream: waited for a timeout',
    value: waitedShare * 100,
    baseline: undefined,
    unit: '% of recoveries',
    target: '',
    met: undefined,
  });
  console.error(
    `  dead: p50 ${(p50 * 1000).toFixed(0)}µs p99 ${(p99 * 1000).toFixed(0)}µs demoted p99 ${(dp99 * 1000).toFixed(0)}µs (raw RTT ${(rawP50 * 1000).toFixed(0)}µs) waited ${(waitedShare * 100).toFixed(2)}%`,
  );
}

async function enqueueCost(): Promise<void> {
  const script = fileURLToPath(new URL('./enqueue.ts', import.meta.url));
  const child = fork(script, QUICK ? ['--quick'] : [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const result = await new Promise<EnqueueResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('enqueue bench timed out'));
    }, 120_000);
    child.once('message', (m: EnqueueResult) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`enqueue bench exited with ${code}`));
    });
  });
  details.enqueue = result;
  const costRows: [string, Cost, string, number | undefined][] = [
    ['enqueue, accepted (queue up to 1,024)', result.acceptedShallow, '< 1,000', 1000],
    ['enqueue, accepted (queue filled to 100,000)', result.accepted, '< 1,000', 1000],
    ['enqueue, accepted, decodeNack gaps, to 100,000', result.acceptedDecoded, '< 1,000', 1000],
    ['enqueue, dropped (queue-full)', result.dropped, '< 200', 200],
    ["enqueue, dropped, with a 'dropped' listener", result.droppedListened, '', undefined],
  ];
  for (const [metric, cost, target, limit] of costRows) {
    row({
      metric: `${metric}: CPU`,
      value: cost.cpuNs,
      baseline: undefined,
      unit: 'ns',
      target,
      met: limit === undefined ? undefined : cost.cpuNs < limit,
    });
    row({
      metric: `${metric}: wall`,
      value: cost.wallNs,
      baseline: undefined,
      unit: 'ns',
      target: '',
      met: undefined,
    });
  }
  row({
    metric: `heap per queued gap (${result.depth.toLocaleString('en')} deep)`,
    value: result.heapBytesPerGap,
    baseline: undefined,
    unit: 'bytes',
    target: '< 300',
    met: result.heapBytesPerGap < 300,
  });
  row({
    metric: 'heap per queued gap, decodeNack gaps',
    value: result.heapBytesPerDecodedGap,
    baseline: undefined,
    unit: 'bytes',
    target: '< 300',
    met: result.heapBytesPerDecodedGap < 300,
  });
}

function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || Number.isNaN(v)) return '';
  return v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(): string {
  const head = ['metric', 'nack-proxy', 'baseline (raw)', 'unit', 'ratio', 'target', 'met'];
  const body = rows.map((r) => [
    r.metric,
    fmt(r.value, r.value < 100 ? 1 : 0),
    fmt(r.baseline, r.baseline !== undefined && r.baseline < 100 ? 1 : 0),
    r.unit,
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    r.target,
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]): string =>
    '| ' +
    cells
      .map((c, i) => (i === 0 || i >= 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join(' | ') +
    ' |';
  return [
    line(head),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...body.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const host = await loopbackAddress();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loopback: host,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
  console.error(
    `nack-proxy bench: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, loopback ${host}, load average ${machine.loadAverageAtStart.join(' ')}`,
  );
  if (run('enqueue')) {
    console.error('enqueue cost (child process, --expose-gc)…');
    await enqueueCost();
  }
  if (run('throughput') || run('latency') || run('dead')) {
    const up = await UpstreamProcess.start();
    console.error(`upstream emulator process pid ${up.pid}`);
    try {
      if (run('throughput') || run('latency')) {
        console.error('throughput and latency…');
        await throughput(up, host);
      }
      if (run('dead')) {
        console.error('dead first upstream…');
        await deadUpstream(up, host);
      }
    } finally {
      await up.stop();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const out = table();
  console.log(out);
  console.log(
    `\n(${seconds.toFixed(0)} s; payload ${PAYLOAD} B; ${ROUNDS} rounds × ${ROUND_MS} ms per throughput figure, medians)`,
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const json = { at: new Date().toISOString(), machine, seconds, quick: QUICK, rows, details };
  writeFileSync(`${dir}latest.json`, JSON.stringify(json, null, 2) + '\n');
  console.log(`wrote ${dir}latest.json`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
