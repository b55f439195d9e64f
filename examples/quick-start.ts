/**
 * The README quick start, as a file that is type-checked and run in CI
 * (examples/quick-start.test.ts drives it on loopback). The README shows the region between
 * the `#region` markers; in your project import from 'nack-proxy'.
 */
// #region quick-start
import { createSocket } from 'node:dgram';
import {
  MemoryCache,
  ProxyClient,
  UdpTransport,
  cacheKey,
  decodeNack,
  encodeResponse,
} from '../src/index.js';

const env = process.env;
const upstreams = (env.UPSTREAMS ?? '[2001:db8::10]:9300,upstream-b.example:9300').split(',');
const host = env.NACK_HOST ?? '::'; // the address consumers send NACKs to
const group = { address: env.DOMAIN_GROUP ?? 'ff05::b', port: Number(env.DOMAIN_PORT ?? 9001) };

// Your endpoint's frame cache; your multicast listener stores live frames in it too.
const cache = new MemoryCache({ maxBytes: 256 * 1024 * 1024 });
const server = createSocket(host.includes(':') ? 'udp6' : 'udp4');
const transport = new UdpTransport({ bindAddress: host }); // NACKs leave from the same address
const client = new ProxyClient({
  upstreams,
  cache,
  transport,
  // Recovered frames go back into this domain's multicast group.
  retransmitter: {
    retransmit: (frame) =>
      new Promise<void>((resolve, reject) =>
        server.send(frame, group.port, group.address, (err) => (err ? reject(err) : resolve())),
      ),
  },
});
client.on('recovered', (e) => console.log(`recovered ${e.seq} from ${e.upstream}`));
client.on('failed', (e) => console.log(`gave up on ${e.seq}: ${e.reason}`));

// The NACK handler: serve from the cache, or answer MISS and recover in the background.
server.on('message', (datagram, from) => {
  let nack;
  try {
    nack = decodeNack(datagram);
  } catch {
    return; // not a NACK
  }
  const frame = cache.retrieve(cacheKey(nack.hashKey, nack.startSeq));
  if (frame !== undefined) {
    server.send(encodeResponse({ kind: 'ack', seq: nack.startSeq }), from.port, from.address);
    server.send(frame, from.port, from.address);
  } else {
    server.send(encodeResponse({ kind: 'miss' }), from.port, from.address);
    client.enqueue(nack); // never blocks; refuses proxied NACKs (one hop at most)
  }
});
server.bind(Number(env.NACK_PORT ?? 9300), host);
// #endregion quick-start

/** Stops the quick start (used by its test; a server would call it on SIGTERM). */
export async function shutdown(): Promise<void> {
  await client.close();
  await transport.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export { client, server };
