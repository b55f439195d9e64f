/**
 * The relay from examples/relay.ts with a RedisCache as its frame store, over real UDP on
 * loopback and a real redis-server: reads of the shared store are asynchronous, and a relay
 * written against FrameStore awaits them (before, it sent a Promise to socket.send).
 */
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { UdpTransport, cacheKey } from '../../src/index.js';
import { RedisCache } from '../../src/redis/index.js';
import {
  TestConsumer,
  UpstreamEmulator,
  buildFrame,
  loopbackAddress,
  type ConsumerDatagram,
} from '../../src/testing/index.js';
import { UdpDomain, startRelay, type RunningRelay } from '../../examples/relay.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { describeRedis, useRedisServer } from '../helpers/redis-server.js';

const FLOW = 0x7e1a_0000_0000_0001n;
const frameKey = (seq: bigint) => Buffer.concat([Buffer.from('bre:frame:'), cacheKey(FLOW, seq)]);
const isFrame = (seq: bigint) => (d: ConsumerDatagram) => d.kind === 'frame' && d.seq === seq;
const isResponse = (kind: string) => (d: ConsumerDatagram) =>
  d.kind === 'response' && d.response.kind === kind;

describeRedis('examples/relay.ts with a RedisCache', () => {
  useLeakCheck();
  const db = useRedisServer();
  let host: string;
  let upstream: UpstreamEmulator;
  let consumer: TestConsumer;
  let domain: UdpDomain;
  let transport: UdpTransport;
  let cache: RedisCache;
  let running: RunningRelay;

  beforeAll(async () => {
    host = await loopbackAddress();
  });
  beforeEach(async () => {
    upstream = await UpstreamEmulator.start({ host });
    upstream.putRange(FLOW, 1n, 5n);
    consumer = await TestConsumer.open(host);
    domain = await UdpDomain.open(host, [consumer.address]);
    transport = new UdpTransport({ bindAddress: host });
    cache = new RedisCache({ url: db.server.url });
    running = await startRelay({
      upstreams: [upstream.endpoint],
      domain,
      transport,
      cache,
      listen: { address: host, port: 0 },
      ingest: { address: host, port: 0 },
      client: { timeoutMs: 1_000, componentTimeoutMs: 2_000 },
    });
  });
  afterEach(async () => {
    await running.close();
    await transport.close();
    await domain.close();
    await cache.close();
    await consumer.close();
    await upstream.close();
  });

  it('serves a frame an existing endpoint stored in Redis: ACK, then the frame', async () => {
    await db.raw.set(
      frameKey(2n),
      Buffer.from(buildFrame({ hashKey: FLOW, seq: 2n })),
      'PX',
      60_000,
    );
    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 2n });
    const ack = await consumer.next();
    expect(ack.kind === 'response' && ack.response).toMatchObject({ kind: 'ack', seq: 2n });
    const frame = await consumer.next(isFrame(2n));
    expect(frame.from.port).toBe(running.nack.port);
    expect(upstream.received).toHaveLength(0);
  });

  it('answers MISS, recovers into Redis, then serves the next NACK from Redis', async () => {
    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 3n });
    await consumer.next(isResponse('miss'));
    const recovered = await consumer.next(isFrame(3n));
    expect(recovered.from.port).toBe(domain.local.port);
    const stored = await db.raw.getBuffer(frameKey(3n));
    expect(stored?.equals(buildFrame({ hashKey: FLOW, seq: 3n }))).toBe(true);

    consumer.nack(running.nack, { hashKey: FLOW, startSeq: 3n });
    const ack = await consumer.next();
    expect(ack.kind === 'response' && ack.response).toMatchObject({ kind: 'ack', seq: 3n });
    await consumer.next(isFrame(3n));
    expect(upstream.nacksFor(FLOW, 3n)).toHaveLength(1);
    expect(running.relay.counts).toMatchObject({ served: 1, misses: 1, readErrors: 0 });
  });

  it('keeps answering while Redis is down: MISS, and the gap still reaches the domain', async () => {
    await db.server.stop();
    try {
      consumer.nack(running.nack, { hashKey: FLOW, startSeq: 4n });
      await consumer.next(isResponse('miss'));
      await consumer.next(isFrame(4n)); // recovered and retransmitted, not cached
      expect(running.relay.counts.readErrors).toBe(1);
      expect(upstream.nacksFor(FLOW, 4n)).toHaveLength(1);
    } finally {
      await db.server.start();
    }
  });
});
