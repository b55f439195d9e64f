import { loopbackAddress } from '../src/testing/loopback.js';
import { UpstreamProcess } from './upstream.js';
const oldLib = await import('/tmp/oldrepo/dist/index.js');
const newLib = await import(new URL('../dist/index.js', import.meta.url).href);
const FRAMES = 32768, HASH_KEY = 0x5eed_0001n;
const host = await loopbackAddress();
const up = await UpstreamProcess.start();
const e = await up.emulator(host, 'serve', HASH_KEY, FRAMES, 256);
async function run(name: string, Client: any, transport: any) {
  const client = new Client({ upstreams: [e.endpoint], cache: { store() {} }, retransmitter: { retransmit() {} }, transport, workers: 64, queueDepth: 4096, ...(Client === newLib.ProxyClient ? { nackRate: false } : {}) });
  let seq = 0, rec = 0, feeding = true;
  const feed = () => { while (feeding && client.size < 256) client.enqueue({ hashKey: HASH_KEY, startSeq: BigInt(seq++ % FRAMES) }); };
  client.on('recovered', () => { rec++; if (client.size < 64) feed(); });
  feed(); await new Promise(r => setTimeout(r, 300));
  const r0 = rec; const c0 = process.cpuUsage(); const t0 = performance.now();
  await new Promise(r => setTimeout(r, 2500));
  const n = rec - r0; const c = process.cpuUsage(c0);
  console.log(name, (n / (performance.now() - t0) * 1000).toFixed(0), '/s', ((c.user + c.system) / n).toFixed(1), 'µs cpu', (c.user / n).toFixed(1), 'user');
  feeding = false; await client.onIdle(); await client.close(); await transport.close();
}
for (let i = 0; i < 2; i++) {
  await run('old client + old transport', oldLib.ProxyClient, new oldLib.UdpTransport());
  await run('old client + new transport', oldLib.ProxyClient, new newLib.UdpTransport());
  await run('new client + new transport', newLib.ProxyClient, new newLib.UdpTransport());
  await run('new client + old transport', newLib.ProxyClient, new oldLib.UdpTransport());
}
await up.stop();
