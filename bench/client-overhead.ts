/**
 * The client's own cost per recovery, with an in-process transport that answers at once
 * (no sockets): what ProxyClient adds on top of any transport. Gaps are fed in batches of
 * 256, as the throughput bench keeps its queue fed; the transport declares itself
 * `selfTimed` and calls `onSent`, as UdpTransport does.
 *
 *   npm run build && node --import tsx bench/client-overhead.ts [workers] [batches] [paced]
 *
 * `paced`: the default admission path (p-queue per upstream and per flow) with limits far
 * above the rate reached, over 1,024 flows, so it measures the cost of admission, not a wait.
 * Unpaced (`nackRate: false`, the default here) uses one flow.
 */
import { ProxyClient } from './lib.js';
import { buildFrame } from '../src/testing/frames.js';
import type { ExchangeOptions, Reply, Transport } from '../src/transport/transport.js';

const workers = Number(process.argv[2] ?? 64);
const batches = Number(process.argv[3] ?? 400);
const paced = process.argv[4] === 'paced';
const FLOWS = paced ? 1024n : 1n;
const BATCH = 256;
const template = buildFrame({ hashKey: 1n, seq: 0n });

const transport: Transport = {
  selfTimed: true,
  exchange(_u: string, _n: Uint8Array, o: ExchangeOptions): Promise<Reply> {
    // A fresh datagram per exchange, as a socket would deliver it.
    o.onSent?.();
    const frame = Buffer.from(template);
    frame.writeBigUInt64BE(o.hashKey, 40);
    frame.writeBigUInt64BE(o.seq, 48);
    return Promise.resolve({ kind: 'frame', frame });
  },
};

const client = new ProxyClient({
  upstreams: ['[::1]:9300'],
  cache: { store() {} },
  retransmitter: { retransmit() {} },
  transport,
  workers,
  queueDepth: 4096,
  nackRate: paced ? { perSecond: 1e6, burst: 1e5, perFlow: 1e6 } : false,
});
let recovered = 0;
client.on('recovered', () => recovered++);
let seq = 0n;
for (let round = 0; round < 6; round++) {
  const before = recovered;
  const c0 = process.cpuUsage();
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < BATCH; i++)
      client.enqueue({ hashKey: 1n + (seq % FLOWS), startSeq: seq++ });
    await client.onIdle();
  }
  const c = process.cpuUsage(c0);
  const n = recovered - before;
  if (n !== batches * BATCH) throw new Error(`recovered ${n} of ${batches * BATCH}`);
  // The first round warms the JIT up.
  if (round > 0)
    console.log(`${(((c.user + c.system) * 1000) / n).toFixed(0)} ns CPU per recovery`);
}
await client.close();
