/**
 * The README quick start, as a file that is type-checked and run in CI
 * (examples/quick-start.test.ts drives it on loopback). The README shows the region between
 * the `#region` markers; in your project import from 'nack-proxy'.
 */
// #region quick-start
import { createSocket, type RemoteInfo } from 'node:dgram';
import {
  MemoryCache,
  ProxyClient,
  UdpTransport,
  WireError,
  cacheKey,
  decodeNack,
  encodeResponse,
  type DecodedNack,
  type FrameStore,
} from '../src/index.js';

const env = process.env;
const upstreams = (env.UPSTREAMS ?? '[2001:db8::10]:9300,upstream-b.example:9300').split(',');
const host = env.NACK_HOST ?? '::'; // the address consumers send NACKs to
const group = { address: env.DOMAIN_GROUP ?? 'ff05::b', port: Number(env.DOMAIN_PORT ?? 9001) };

// Your endpoint's frame cache; your multicast listener stores live frames in it too.
// A FrameStore: a RedisCache ('nack-proxy/redis') fits here as well, since reads are awaited.
const cache: FrameStore = new MemoryCache({ maxBytes: 256 * 1024 * 1024 });
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
let strayDatagrams = 0; // datagrams that are not NACKs: counted and ignored, never fatal
server.on('message', (datagram, from) => {
  let nack: DecodedNack;
  try {
    nack = decodeNack(datagram);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    strayDatagrams++;
    return;
  }
  answer(nack, from).catch((err: unknown) => console.error('NACK handler:', err));
});

async function answer(nack: DecodedNack, to: RemoteInfo): Promise<void> {
  let frame: Uint8Array | undefined;
  try {
    frame = await cache.retrieve(cacheKey(nack.hashKey, nack.startSeq)); // async with Redis
  } catch (err) {
    console.warn('cache read failed; answering MISS:', err); // e.g. Redis unreachable
  }
  if (frame !== undefined) {
    server.send(encodeResponse({ kind: 'ack', seq: nack.startSeq }), to.port, to.address);
    server.send(frame, to.port, to.address);
  } else {
    server.send(encodeResponse({ kind: 'miss' }), to.port, to.address);
    client.enqueue(nack); // never blocks; refuses proxied NACKs (one hop at most)
  }
}
server.bind(Number(env.NACK_PORT ?? 9300), host);

// Shutting down: close the client first (gaps in flight end as failed 'aborted'; pass
// { drain: true } to let them finish), then what this host created. client.close() closes
// a transport only if the client created it, and this one was passed in.
let stopping: Promise<void> | undefined;
function shutdown(): Promise<void> {
  stopping ??= (async () => {
    await client.close();
    await transport.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  })();
  return stopping;
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void shutdown()
      .catch((err: unknown) => console.error('shutdown failed:', err))
      .finally(() => process.exit());
  });
}
// #endregion quick-start

/** Datagrams the handler ignored because they were not NACKs (read by its test). */
export const strays = (): number => strayDatagrams;

/** Stops the quick start, as SIGTERM does (used by its test). */
export { client, server, shutdown };
