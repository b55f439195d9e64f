/**
 * The cost of gaps that wait in admission holding no worker: N gaps of one flow at one
 * upstream that never answers, default pacing, so all but one wait behind their flow.
 * Prints the wall time until every gap has left the queue and the client CPU per gap. It
 * stays flat as N grows (it once grew with N: one abort listener per waiting gap on a
 * shared signal).
 *
 *   npm run build && node --import tsx bench/parked.ts [n,n,...]
 */
import { ProxyClient } from './lib.js';
import type { ExchangeOptions, Reply, Transport } from '../src/transport/transport.js';

const sizes = (process.argv[2] ?? '5000,20000,50000').split(',').map(Number);

const silent: Transport = {
  selfTimed: true,
  exchange(_u: string, _n: Uint8Array, o: ExchangeOptions): Promise<Reply> {
    return new Promise((resolve) => {
      o.signal?.addEventListener('abort', () => resolve({ kind: 'error', code: 'aborted' }), {
        once: true,
      });
    });
  },
};

for (const n of sizes) {
  const client = new ProxyClient({
    upstreams: ['[::1]:9'],
    cache: { store() {} },
    retransmitter: { retransmit() {} },
    transport: silent,
    workers: 64,
    queueDepth: 100_000,
    gapDeadlineMs: 600_000,
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) client.enqueue({ hashKey: 7n, startSeq: BigInt(i) });
  for (let k = 0; k < 10_000 && client.stats().queued > 0; k++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  const cpu = process.cpuUsage(c0);
  const { queued, waiting } = client.stats();
  console.log(
    `${n} gaps of one flow: ${waiting} waiting, ${queued} queued after ` +
      `${(performance.now() - t0).toFixed(0)} ms; ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU per gap`,
  );
  await client.close();
}
