/**
 * `npx tsx examples/relay.ts --selftest`: starts the relay on loopback between an upstream
 * emulator and a test consumer, walks through the three paths a NACK can take, and exits.
 * Throws (exit status 1) when the relay does not behave.
 */
import { FLAG_PROXIED, UdpTransport, type FailedEvent } from '../src/index.js';
import {
  TestConsumer,
  UpstreamEmulator,
  buildFrame,
  loopbackAddress,
  type ConsumerDatagram,
} from '../src/testing/index.js';
import { UdpDomain, startRelay } from './relay.js';

const FLOW = 0xfeedn;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`relay selftest: ${what}`);
  console.log(`  ok  ${what}`);
}

const isFrame = (seq: bigint) => (d: ConsumerDatagram) => d.kind === 'frame' && d.seq === seq;
const isResponse = (kind: string) => (d: ConsumerDatagram) =>
  d.kind === 'response' && d.response.kind === kind;

export async function selfTest(): Promise<void> {
  const host = await loopbackAddress();
  const upstream = await UpstreamEmulator.start({ host });
  upstream.putRange(FLOW, 1n, 3n); // the upstream domain saw frames 1..3; 9 exists nowhere
  const consumer = await TestConsumer.open(host);
  const domain = await UdpDomain.open(host, [consumer.address]);
  // Bound to loopback: by default the transport's sockets take any address.
  const transport = new UdpTransport({ bindAddress: host });
  const running = await startRelay({
    upstreams: [upstream.endpoint],
    domain,
    transport,
    listen: { address: host, port: 0 },
    ingest: { address: host, port: 0 },
    client: { timeoutMs: 200 },
  });
  const failed = new Promise<FailedEvent>((resolve) =>
    running.relay.client.once('failed', resolve),
  );
  console.log(`relay selftest on ${host}: NACKs to port ${running.nack.port}`);
  try {
    // 1. A frame the relay saw live is served from its cache: ACK + unicast frame.
    consumer.send(running.ingest, buildFrame({ hashKey: FLOW, seq: 1n }));
    await until(() => running.relay.counts.ingested === 1);
    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 1n });
    check((await consumer.next()).kind === 'response', 'cached frame: ACK first');
    check((await consumer.next(isFrame(1n))).from.port === running.nack.port, 'then the frame');

    // 2. A frame the relay missed: MISS now, then the recovered frame arrives via the domain.
    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 2n });
    await consumer.next(isResponse('miss'));
    check(true, 'missing frame: MISS at once');
    const recovered = await consumer.next(isFrame(2n));
    check(
      recovered.from.port === domain.local.port,
      'recovered frame retransmitted into the domain',
    );
    check(upstream.received[0]?.nack.flags === FLAG_PROXIED, 'upstream got a proxied NACK');
    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 2n });
    await consumer.next(isFrame(2n));
    check(true, 're-cached: the next NACK is served from the cache');

    // 3. A frame nobody holds: MISS, and the recovery fails as exhausted.
    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 9n });
    await consumer.next(isResponse('miss'));
    check((await failed).reason === 'exhausted', 'unknown frame: recovery failed (exhausted)');

    // A proxied NACK is answered from the cache only (one hop).
    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 3n, flags: FLAG_PROXIED });
    await consumer.next(isResponse('miss'));
    check(await consumer.quiet(isFrame(3n), 300), 'proxied NACK: MISS, never proxied again');
    check(upstream.nacksFor(FLOW, 3n).length === 0, 'upstream never asked for it');
    console.log('relay selftest passed');
  } finally {
    await running.close();
    await transport.close();
    await domain.close();
    await consumer.close();
    await upstream.close();
  }
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('relay selftest: timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
