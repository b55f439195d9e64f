/**
 * Two builds of the library against the raw baseline, interleaved round by round in one run
 * (raw, A, B, raw, A, B, …), so a change's cost is measured on the same machine, the same
 * emulator and the same load: the check behind "within noise of the previous build".
 *
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
 *   npm run build && node --import tsx bench/ab.ts /tmp/before/dist [dist] [workers,…]
 *
 * Prints per worker count the median per-round ratio to raw of each build, B ÷ A, and the
 * client CPU per recovery of each. Clients run as in `npm run bench` (pacing off).
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { loopbackAddress } from '../src/testing/loopback.js';
import { UpstreamProcess } from './upstream.js';
import { rawThroughput } from './raw.js';
import { median, sleep } from './stats.js';

type Lib = typeof import('../src/index.js');

const [distA, distB = 'dist', workersArg = '4,64'] = process.argv.slice(2);
if (distA === undefined) {
  console.error('usage: node --import tsx bench/ab.ts <distA> [distB] [workers,…]');
  process.exit(2);
}
const WORKERS = workersArg.split(',').map(Number);
const ROUNDS = 7;
const ROUND_MS = 800;
const FRAMES = 32_768;
const HASH_KEY = 0x5eed_0001n;

async function load(dist: string): Promise<Lib> {
  return (await import(pathToFileURL(resolve(dist, 'index.js')).href)) as Lib;
}

/** One timed round of one build: recoveries per second and client CPU µs per recovery. */
async function libRound(
  lib: Lib,
  endpoint: string,
  workers: number,
  firstSeq: number,
): Promise<{ rate: number; cpuUs: number; nextSeq: number }> {
  const client = new lib.ProxyClient({
    upstreams: [endpoint],
    cache: { store() {} },
    retransmitter: { retransmit() {} },
    nackRate: false,
    workers,
    queueDepth: 4096,
  });
  let seq = firstSeq;
  let ended = 0;
  let feeding = true;
  const backlog = Math.max(256, workers * 4);
  const feed = (): void => {
    while (feeding && client.size < backlog) {
      client.enqueue({ hashKey: HASH_KEY, startSeq: BigInt(seq++ % FRAMES) });
    }
  };
  const onEnd = (): void => {
    ended++;
    if (client.size < workers) feed();
  };
  client.on('recovered', onEnd);
  client.on('failed', onEnd);
  feed();
  await sleep(300); // warm-up: sockets open, JIT settled
  const n0 = ended;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(ROUND_MS);
  const elapsed = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const n = ended - n0;
  feeding = false;
  await client.onIdle();
  await client.close();
  return { rate: (n / elapsed) * 1000, cpuUs: (c.user + c.system) / n, nextSeq: seq };
}

const [a, b] = [await load(distA), await load(distB)];
const host = await loopbackAddress();
const up = await UpstreamProcess.start();
try {
  const serving = await up.emulator(host, 'retry-endpoint', HASH_KEY, FRAMES, 256);
  let seq = 0;
  console.log(`A = ${distA}, B = ${distB}; ${ROUNDS} rounds × ${ROUND_MS} ms, medians`);
  console.log('| workers | A ÷ raw | B ÷ raw | B ÷ A | A CPU µs | B CPU µs |');
  console.log('| ------- | ------- | ------- | ----- | -------- | -------- |');
  for (const w of WORKERS) {
    const ra: number[] = [];
    const rb: number[] = [];
    const ba: number[] = [];
    const ca: number[] = [];
    const cb: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const raw = await rawThroughput(serving.host, serving.port, HASH_KEY, FRAMES, w, ROUND_MS);
      const x = await libRound(a, serving.endpoint, w, seq);
      const y = await libRound(b, serving.endpoint, w, x.nextSeq);
      seq = y.nextSeq;
      ra.push(x.rate / raw.rate);
      rb.push(y.rate / raw.rate);
      ba.push(y.rate / x.rate);
      ca.push(x.cpuUs);
      cb.push(y.cpuUs);
    }
    const f = (v: number[]): string => median(v).toFixed(2);
    const g = (v: number[]): string => median(v).toFixed(1);
    console.log(`| ${w} | ${f(ra)} | ${f(rb)} | ${f(ba)} | ${g(ca)} | ${g(cb)} |`);
  }
} finally {
  await up.stop();
}
