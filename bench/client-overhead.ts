/**
 * The client's own cost per recovery, with an in-process transport that answers at once
 * (no sockets): what ProxyClient adds on top of any transport.
 *
 *   node --import tsx bench/client-overhead.ts [workers] [gaps]
 */
import { ProxyClient } from './lib.js';
import { buildFrame } from '../src/testing/frames.js';
import type { ExchangeOptions, Reply } from '../src/transport/transport.js';

const workers = Number(process.argv[2] ?? 64);
const gaps = Number(process.argv[3] ?? 200_000);
const template = buildFrame({ hashKey: 1n, seq: 0n });

const transport = {
  exchange(_u: string, _n: Uint8Array, o: ExchangeOptions): Promise<Reply> {
    // A fresh datagram per exchange, as a socket would deliver it.
    const frame = Buffer.from(template);
    frame.writeBigUInt64BE(o.seq, 48);
    return Promise.resolve({ kind: 'frame', frame });
  },
};

async function round(): Promise<number> {
  const client = new ProxyClient({
    upstreams: ['[::1]:9300'],
    cache: { store() {} },
    retransmitter: { retransmit() {} },
    transport,
    workers,
    queueDepth: gaps,
    nackRate: false,
  });
  let done = 0;
  client.on('recovered', () => done++);
  const c0 = process.cpuUsage();
  for (let i = 0; i < gaps; i++) client.enqueue({ hashKey: 1n, startSeq: BigInt(i) });
  await client.onIdle();
  const c = process.cpuUsage(c0);
  await client.close();
  if (done !== gaps) throw new Error(`recovered ${done} of ${gaps}`);
  return ((c.user + c.system) * 1000) / gaps;
}

for (let r = 0; r < 5; r++) console.log(`${(await round()).toFixed(0)} ns CPU per recovery`);
