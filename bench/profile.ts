/**
 * One scenario of the bench, alone, for profiling the client process:
 *
 *   npm run build
 *   node --cpu-prof --cpu-prof-dir=bench/results/prof --import tsx bench/profile.ts [lib|raw] [workers] [ms]
 *   node --cpu-prof --cpu-prof-dir=bench/results/prof --import tsx bench/profile.ts enqueue
 *   node --import tsx bench/profile-summary.ts bench/results/prof
 *
 * The emulator runs in its own (unprofiled) child process, as in the bench.
 */
import { ProxyClient, UdpTransport } from './lib.js';
import { loopbackAddress } from '../src/testing/loopback.js';
import { UpstreamProcess } from './upstream.js';
import { rawThroughput } from './raw.js';
import { sleep } from './stats.js';

const [mode = 'lib', workersArg = '64', msArg = '3000'] = process.argv.slice(2);
const workers = Number(workersArg);
const durationMs = Number(msArg);
const FRAMES = 32_768;
const HASH_KEY = 0x5eed_0001n;

/** Fills a client's queue to 100,000 gaps, five times (the transport never answers). */
async function enqueueOnly(): Promise<void> {
  const depth = 100_000;
  const gaps = Array.from({ length: depth }, (_, i) => ({ hashKey: 1n, startSeq: BigInt(i) }));
  for (let r = 0; r < 5; r++) {
    const client = new ProxyClient({
      upstreams: ['[::1]:9'],
      cache: { store() {} },
      retransmitter: { retransmit() {} },
      transport: {
        exchange: (_u, _n, o) =>
          new Promise((resolve) =>
            o.signal?.addEventListener('abort', () => resolve({ kind: 'error', code: 'aborted' })),
          ),
      },
      workers: 1,
      queueDepth: depth,
    });
    const t0 = performance.now();
    for (const g of gaps) client.enqueue(g);
    console.log(`enqueue: ${(((performance.now() - t0) * 1e6) / depth).toFixed(0)} ns each`);
    await client.close();
  }
}

async function main(): Promise<void> {
  if (mode === 'enqueue') return enqueueOnly();
  const host = await loopbackAddress();
  const up = await UpstreamProcess.start();
  try {
    const e = await up.emulator(
      host,
      (process.env.EMU_MODE ?? 'retry-endpoint') as 'serve',
      HASH_KEY,
      FRAMES,
      256,
    );
    const c0 = process.cpuUsage();
    const e0 = (await up.stats()).cpuUs;
    const report = async (n: number): Promise<void> => {
      const c = process.cpuUsage(c0);
      const e1 = (await up.stats()).cpuUs;
      console.log(
        `client cpu ${((c.user + c.system) / n).toFixed(1)} µs/exchange (user ${(c.user / n).toFixed(1)}), emulator cpu ${((e1 - e0) / n).toFixed(1)} µs/exchange`,
      );
    };
    if (mode === 'raw') {
      const r = await rawThroughput(e.host, e.port, HASH_KEY, FRAMES, workers, durationMs);
      console.log(`raw ${workers}: ${r.rate.toFixed(0)}/s`);
      await report(r.exchanges);
      return;
    }
    const client = new ProxyClient({
      upstreams: [e.endpoint],
      cache: { store() {} },
      retransmitter: { retransmit() {} },
      workers,
      queueDepth: 4096,
      nackRate: false,
      verifyContent: process.env.VERIFY === '1',
      ...(process.env.UNCONNECTED ? { transport: new UdpTransport({ connected: false }) } : {}),
    });
    let seq = 0;
    let recovered = 0;
    let feeding = true;
    const feed = (): void => {
      while (feeding && client.size < Number(process.env.BACKLOG ?? Math.max(256, workers * 4))) {
        client.enqueue({ hashKey: HASH_KEY, startSeq: BigInt(seq++ % FRAMES) });
      }
    };
    client.on('recovered', () => {
      recovered++;
      if (client.size < workers) feed();
    });
    client.on('failed', () => {
      if (client.size < workers) feed();
    });
    feed();
    const t0 = performance.now();
    await sleep(durationMs);
    const rate = (recovered / (performance.now() - t0)) * 1000;
    console.log(JSON.stringify(client.stats().transport), JSON.stringify(client.stats().failed));
    feeding = false;
    await client.onIdle();
    await client.close();
    console.log(`lib ${workers}: ${rate.toFixed(0)}/s`);
    await report(recovered);
  } finally {
    await up.stop();
  }
}

void main();
