/**
 * `npm run bench`: nack-proxy against the physical limit on the same machine, same run.
 *
 * The upstream emulator runs in a child process (bench/upstream-process.ts); the client
 * under test and the raw node:dgram baseline run here, against the same emulator, in
 * alternating rounds so machine noise hits both alike. Enqueue cost runs in a third
 * process with --expose-gc (bench/enqueue.ts). Prints a table and writes
 * bench/results/latest.json.
 *
 * Options: --quick (shorter rounds, for a smoke run),
 * --only=enqueue,throughput,latency,verify,dead.
 */
import { admissionScenario } from './admission.js';
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createSocket } from 'node:dgram';
import { ProxyClient } from './lib.js';
import type { RecoveredEvent } from './lib.js';
import { loopbackAddress } from '../src/testing/loopback.js';
import { UpstreamProcess } from './upstream.js';
import { RawExchanger, rawThroughput } from './raw.js';
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

/**
 * The client under test: default options, except pacing off (the benchmarks measure speed
 * against an emulator without rate limits: pacing would measure the limit, not the client).
 */
function libClient(
  upstreams: string[],
  workers: number,
  queueDepth = 1024,
  verifyContent = false,
): ProxyClient {
  return new ProxyClient({
    upstreams,
    cache: noopCache,
    retransmitter: noopRetransmitter,
    nackRate: false,
    workers,
    queueDepth,
    verifyContent,
  });
}

/** Recoveries per second with `workers` in flight, queue kept fed, for `durationMs`. */
async function libThroughput(
  up: UpstreamProcess,
  endpoint: string,
  workers: number,
  durationMs: number,
  firstSeq: number,
  verifyContent = false,
): Promise<{
  rate: number;
  recovered: number;
  failed: number;
  nextSeq: number;
  cpuUs: number;
  upstreamCpuUs: number;
}> {
  const client = libClient([endpoint], workers, 4096, verifyContent);
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
  // Warm-up: open the connections and let the JIT settle, outside the timed window.
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
  return {
    rate: (count / elapsed) * 1000,
    recovered: count,
    failed,
    nextSeq: seq,
    cpuUs: (c.user + c.system) / count,
    upstreamCpuUs: (e1 - e0) / count,
  };
}

/** Recovers one gap and resolves with its enqueue → outcome time (ms) and the event. */
function recoverOne(
  client: ProxyClient,
  hashKey: bigint,
  seq: bigint,
): Promise<{ ms: number; recovered: RecoveredEvent | undefined }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const onRecovered = (e: RecoveredEvent): void => {
      if (e.seq !== seq) return;
      off();
      resolve({ ms: performance.now() - t0, recovered: e });
    };
    const onFailed = (e: { seq: bigint }): void => {
      if (e.seq !== seq) return;
      off();
      resolve({ ms: performance.now() - t0, recovered: undefined });
    };
    const off = (): void => {
      client.off('recovered', onRecovered);
      client.off('failed', onFailed);
    };
    client.on('recovered', onRecovered);
    client.on('failed', onFailed);
    client.enqueue({ hashKey, startSeq: seq });
  });
}

async function throughput(up: UpstreamProcess, host: string): Promise<void> {
  const serving = await up.emulator(host, 'retry-endpoint', HASH_KEY, FRAMES, PAYLOAD);
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
    const targeted = w === 4 || w === 64;
    row({
      metric: `throughput, ${w} worker${w === 1 ? '' : 's'}`,
      value: libRate,
      baseline: rawRate,
      ratio: pairRatio,
      unit: 'recoveries/s',
      target: targeted ? '≥ 0.9 × raw' : '',
      met: targeted ? pairRatio >= 0.9 : undefined,
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
  await latency(serving);
  await up.closeEmulators();
}

/** Throughput at 64 workers with `verifyContent` on, interleaved with raw rounds (≥ 0.85). */
async function verifyThroughput(up: UpstreamProcess, host: string): Promise<void> {
  const serving = await up.emulator(host, 'retry-endpoint', HASH_KEY, FRAMES, PAYLOAD);
  let seq = 0;
  const raw: number[] = [];
  const lib: number[] = [];
  const libCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await rawThroughput(serving.host, serving.port, HASH_KEY, FRAMES, 64, ROUND_MS);
    raw.push(a.rate);
    const b = await libThroughput(up, serving.endpoint, 64, ROUND_MS, seq, true);
    seq = b.nextSeq;
    lib.push(b.rate);
    libCpu.push(b.cpuUs);
  }
  const ratio = median(lib.map((l, i) => l / (raw[i] ?? NaN)));
  details.verifyContent = { raw, lib, libClientCpuUs: libCpu };
  row({
    metric: 'throughput, 64 workers, verifyContent on',
    value: median(lib),
    baseline: median(raw),
    ratio,
    unit: 'recoveries/s',
    target: '≥ 0.85 × raw',
    met: ratio >= 0.85,
  });
  row({
    metric: 'client CPU per recovery, 64 workers, verifyContent on',
    value: median(libCpu),
    baseline: undefined,
    unit: 'µs CPU',
    target: '',
    met: undefined,
  });
  console.error(`  verifyContent 64: lib ${median(lib).toFixed(0)}/s (${ratio.toFixed(2)})`);
  await up.closeEmulators();
}

/**
 * Latency at one worker: raw exchanges and library recoveries interleaved one by one
 * (raw, lib, raw, lib…) after a warm-up, so both see the same machine at the same moment.
 */
async function latency(serving: { endpoint: string; host: string; port: number }): Promise<void> {
  const n = QUICK ? 500 : 5000;
  const warm = QUICK ? 200 : 1000;
  const raw = await RawExchanger.open(serving.host, serving.port, HASH_KEY);
  const client = libClient([serving.endpoint], 1);
  const rawRtt: number[] = [];
  const libLat: number[] = [];
  try {
    for (let i = 0; i < warm + n; i++) {
      const rtt = await raw.exchange((2 * i) % FRAMES);
      const lib = await recoverOne(client, HASH_KEY, BigInt((2 * i + 1) % FRAMES));
      if (i < warm || Number.isNaN(rtt) || lib.recovered === undefined) continue;
      rawRtt.push(rtt);
      libLat.push(lib.ms);
    }
  } finally {
    await client.close();
    await raw.close();
  }
  const rawP50 = quantile(rawRtt, 0.5);
  const rawP99 = quantile(rawRtt, 0.99);
  const p50 = quantile(libLat, 0.5);
  const p99 = quantile(libLat, 0.99);
  details.latency = { samples: libLat.length, rawSamples: rawRtt.length, rawP50, rawP99, p50, p99 };
  details.rawRttP50Ms = rawP50;
  row({
    metric: 'latency p50, 1 worker',
    value: p50 * 1000,
    baseline: rawP50 * 1000,
    unit: 'µs',
    target: '≤ 1.3 × raw',
    met: p50 <= 1.3 * rawP50,
  });
  row({
    metric: 'latency p99, 1 worker',
    value: p99 * 1000,
    baseline: rawP99 * 1000,
    unit: 'µs',
    target: '≤ 2 × raw p99',
    met: p99 <= 2 * rawP99,
  });
  console.error(
    `  latency: p50 ${(p50 * 1000).toFixed(1)}µs (raw ${(rawP50 * 1000).toFixed(1)}) p99 ${(p99 * 1000).toFixed(1)}µs (raw ${(rawP99 * 1000).toFixed(1)})`,
  );
}

interface DeadTrial {
  rawP50: number;
  rawP99: number;
  p50: number;
  p99: number;
  recovered: number;
  failed: number;
  /** Gaps that took a full attempt timeout or longer. */
  waitedTimeout: number;
  /** NACKs sent beyond one per gap, and how many went to the dead upstream. */
  extraNacks: number;
  nacksToDead: number;
  hedges: number;
  slowest: { seq: number; ms: number; attempts: number }[];
  deadUpstream: unknown;
}

const DEAD_GAPS = 1000;
const DEFAULT_TIMEOUT_MS = 300;
const DEAD_TRIALS = QUICK ? 1 : 3;

/** A loopback port nothing listens on (ICMP port unreachable). */
async function closedPort(host: string): Promise<string> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * One trial: a fresh client (so the dead upstream starts healthy) with default options asks
 * [dead, live] for DEAD_GAPS gaps one at a time (each enqueued when the previous one
 * ended), each paired with one raw exchange against the live upstream right before it.
 */
async function deadTrial(
  dead: string,
  live: { endpoint: string; host: string; port: number },
  firstSeq: number,
): Promise<DeadTrial> {
  const raw = await RawExchanger.open(live.host, live.port, DEAD_HASH_KEY);
  const client = libClient([dead, live.endpoint], 4);
  const rawRtt: number[] = [];
  const all: number[] = [];
  const slowest: DeadTrial['slowest'] = [];
  let recovered = 0;
  let failed = 0;
  try {
    for (let i = 0; i < DEAD_GAPS; i++) {
      const rtt = await raw.exchange((firstSeq + DEAD_GAPS + i) % FRAMES);
      if (!Number.isNaN(rtt)) rawRtt.push(rtt);
      const seq = BigInt((firstSeq + i) % FRAMES);
      const r = await recoverOne(client, DEAD_HASH_KEY, seq);
      if (r.recovered === undefined) {
        failed++;
        continue;
      }
      recovered++;
      all.push(r.ms);
      slowest.push({ seq: Number(seq), ms: r.ms, attempts: r.recovered.attempts });
    }
    // Attempts a hedge overtook listen until their own timeout: let them end.
    await sleep(DEFAULT_TIMEOUT_MS + 50);
  } finally {
    await client.close();
    await raw.close();
  }
  const s = client.stats();
  const deadStats = s.upstreams[0];
  const toDead =
    deadStats === undefined ? 0 : Object.values(deadStats.replies).reduce((a, b) => a + b, 0);
  return {
    rawP50: quantile(rawRtt, 0.5),
    rawP99: quantile(rawRtt, 0.99),
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    recovered,
    failed,
    waitedTimeout: all.filter((ms) => ms >= DEFAULT_TIMEOUT_MS).length,
    extraNacks: s.attempts - DEAD_GAPS,
    nacksToDead: toDead,
    hedges: s.hedges,
    slowest: slowest.sort((a, b) => b.ms - a.ms).slice(0, 10),
    deadUpstream: deadStats,
  };
}

async function deadUpstream(up: UpstreamProcess, host: string): Promise<void> {
  const silent = await up.emulator(host, 'silent', DEAD_HASH_KEY, 0, PAYLOAD);
  const live = await up.emulator(host, 'retry-endpoint', DEAD_HASH_KEY, FRAMES, PAYLOAD);
  const kinds: { name: string; dead: () => Promise<string> }[] = [
    { name: 'silent', dead: () => Promise.resolve(silent.endpoint) },
    { name: 'refused', dead: () => closedPort(host) },
  ];
  const all: Record<string, DeadTrial[]> = {};
  for (const kind of kinds) {
    const trials: DeadTrial[] = [];
    for (let t = 0; t < DEAD_TRIALS; t++) {
      trials.push(await deadTrial(await kind.dead(), live, t * 2 * DEAD_GAPS));
    }
    all[kind.name] = trials;
    const med = (f: (t: DeadTrial) => number): number => median(trials.map(f));
    const rawP50 = med((t) => t.rawP50);
    const p99Ratio = med((t) => t.p99 / t.rawP50);
    const waited = Math.max(...trials.map((t) => t.waitedTimeout));
    row({
      metric: `${kind.name} 1st upstream: gaps that waited a full attempt timeout`,
      value: waited,
      baseline: undefined,
      unit: `of ${DEAD_GAPS}`,
      target: '0',
      met: waited === 0,
    });
    row({
      metric: `${kind.name} 1st upstream: p99 of ${DEAD_GAPS.toLocaleString('en')} sequential gaps`,
      value: med((t) => t.p99) * 1000,
      baseline: rawP50 * 1000,
      ratio: p99Ratio,
      unit: 'µs',
      target: '≤ 10 × raw RTT',
      met: p99Ratio <= 10,
    });
    row({
      metric: `${kind.name} 1st upstream: extra NACKs (hedges; to the dead one)`,
      value: med((t) => t.extraNacks),
      baseline: undefined,
      unit: `NACKs (${med((t) => t.hedges)} hedges; ${med((t) => t.nacksToDead)} to it)`,
      target: '',
      met: undefined,
    });
    console.error(
      `  ${kind.name}: p50 ${(med((t) => t.p50) * 1000).toFixed(0)}µs p99 ${(med((t) => t.p99) * 1000).toFixed(0)}µs (raw RTT ${(rawP50 * 1000).toFixed(0)}µs) waited ${waited} extra NACKs ${med((t) => t.extraNacks)}`,
    );
  }
  details.dead = { gaps: DEAD_GAPS, timeoutMs: DEFAULT_TIMEOUT_MS, trials: all };
  await up.closeEmulators();
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
    ['  of which: the first gap of a fresh client', result.acceptedShallowFirst, '', undefined],
    ['  of which: each of the other 1,023 gaps', result.acceptedShallowRest, '', undefined],
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
  if (run('throughput') || run('latency') || run('verify') || run('dead')) {
    const up = await UpstreamProcess.start();
    console.error(`upstream emulator process pid ${up.pid}`);
    try {
      if (run('throughput') || run('latency')) {
        console.error('throughput and latency…');
        await throughput(up, host);
      }
      if (run('verify')) {
        console.error('throughput with verifyContent…');
        await verifyThroughput(up, host);
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
  // Admission against default-limited emulators: bound by the limits, not by speed, so it
  // runs on its own after the interleaved rounds.
  console.log('\nadmission (bench/admission.ts): drain time as a ratio of the admission limit');
  for (const k of [1, 2, 3]) {
    const r = await admissionScenario(k);
    console.log(
      `  ${k} upstream(s): ratio ${r.ratio.toFixed(3)} (${r.drainMs.toFixed(0)} ms, limit ` +
        `${r.limitMs.toFixed(0)} ms), recovered ${r.recovered}, dropped by limits ${r.dropped}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
