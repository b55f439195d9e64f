/**
 * Runs the README quick start (examples/quick-start.ts) against an upstream emulator and a
 * test consumer on loopback, so that the snippet users copy is known to work.
 */
import { once } from 'node:events';
import type { Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAG_PROXIED } from '../src/index.js';
import {
  TestConsumer,
  UpstreamEmulator,
  loopbackAddress,
  type ConsumerDatagram,
  type UdpPeer,
} from '../src/testing/index.js';

const FLOW = 0xabcn;
const host = await loopbackAddress();

/** The port `socket` is bound to, once it is. */
async function boundPort(socket: Socket): Promise<number> {
  try {
    return socket.address().port;
  } catch {
    await once(socket, 'listening');
    return socket.address().port;
  }
}

const isFrame = (seq: bigint) => (d: ConsumerDatagram) => d.kind === 'frame' && d.seq === seq;

describe('the README quick start', () => {
  let upstream: UpstreamEmulator;
  let consumer: TestConsumer;
  let quickStart: typeof import('./quick-start.js');
  let relay: UdpPeer;

  beforeAll(async () => {
    upstream = await UpstreamEmulator.start({ host });
    upstream.putRange(FLOW, 1n, 5n);
    consumer = await TestConsumer.open(host);
    Object.assign(process.env, {
      UPSTREAMS: upstream.endpoint,
      NACK_HOST: host,
      NACK_PORT: '0',
      DOMAIN_GROUP: consumer.address.address,
      DOMAIN_PORT: String(consumer.address.port),
    });
    quickStart = await import('./quick-start.js');
    relay = { address: host, port: await boundPort(quickStart.server) };
  });

  afterAll(async () => {
    await quickStart?.shutdown();
    await consumer?.close();
    await upstream?.close();
  });

  it('answers MISS, recovers the frame from upstream, then serves it from its cache', async () => {
    consumer.nack(relay, { hashKey: FLOW, startSeq: 3n });
    const miss = await consumer.next();
    expect(miss.kind === 'response' && miss.response.kind).toBe('miss');
    // The recovered frame arrives through the "multicast group" (the consumer here).
    await consumer.next(isFrame(3n));
    expect(upstream.nacksFor(FLOW, 3n).map((r) => r.nack.flags)).toEqual([FLAG_PROXIED]);

    consumer.nack(relay, { hashKey: FLOW, startSeq: 3n });
    const ack = await consumer.next();
    expect(ack.kind === 'response' && ack.response).toMatchObject({ kind: 'ack', seq: 3n });
    await consumer.next(isFrame(3n));
    expect(upstream.nacksFor(FLOW, 3n)).toHaveLength(1);
  });

  it('counts a stray datagram, ignores it and keeps answering', async () => {
    consumer.send(relay, Buffer.from('hello, is this the NACK port?'));
    consumer.send(relay, new Uint8Array(64)); // NACK-sized, wrong magic
    consumer.nack(relay, { hashKey: FLOW, startSeq: 5n });
    const miss = await consumer.next();
    expect(miss.kind === 'response' && miss.response.kind).toBe('miss');
    await consumer.next(isFrame(5n));
    expect(quickStart.strays()).toBe(2);
  });

  it('does not proxy a proxied NACK', async () => {
    consumer.nack(relay, { hashKey: FLOW, startSeq: 4n, flags: FLAG_PROXIED });
    const miss = await consumer.next();
    expect(miss.kind === 'response' && miss.response.kind).toBe('miss');
    expect(await consumer.quiet(isFrame(4n), 200)).toBe(true);
    expect(quickStart.client.stats().dropped.proxied).toBe(1);
    expect(upstream.nacksFor(FLOW, 4n)).toHaveLength(0);
  });
});
