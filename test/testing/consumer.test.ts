import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { MulticastRetransmitter } from '../../src/multicast/index.js';
import { TestConsumer, buildFrame, type ConsumerDatagram } from '../../src/testing/index.js';
import { decodeNack } from '../../src/wire/index.js';
import { useLeakCheck } from '../helpers/leaks.js';

const leaks = useLeakCheck();
const HOST = '127.0.0.1';

async function open(host = HOST, unicastHost?: string): Promise<TestConsumer> {
  return leaks.closeAfter(await TestConsumer.open(host, { unicastHost }));
}

async function peer(): Promise<Socket> {
  const socket = createSocket('udp4');
  leaks.defer(() => new Promise<void>((r) => socket.close(() => r())));
  await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
  return socket;
}

const isFrame =
  (seq: bigint) =>
  (d: ConsumerDatagram): boolean =>
    d.kind === 'frame' && d.seq === seq;

describe('TestConsumer unicast socket', () => {
  it('records frames on both sockets, each with the path it came by', async () => {
    const consumer = await open();
    expect(consumer.requester.address).toBe(HOST);
    expect(consumer.requester.port).not.toBe(consumer.address.port);
    const tx = await peer();
    const domainCopy = buildFrame({ hashKey: 7n, seq: 1n });
    const unicastCopy = buildFrame({ hashKey: 7n, seq: 2n });
    tx.send(domainCopy, consumer.address.port, HOST);
    tx.send(unicastCopy, consumer.requester.port, HOST);

    const byUnicast = await consumer.next((d) => d.kind === 'frame' && d.via === 'unicast');
    expect(byUnicast.kind === 'frame' && byUnicast.seq).toBe(2n);
    expect(byUnicast.kind === 'frame' && byUnicast.frame.equals(unicastCopy)).toBe(true);
    const byDomain = await consumer.next(isFrame(1n));
    expect(byDomain.via).toBe('domain');
    expect(byDomain.from.port).toBe(tx.address().port);
    expect(consumer.received.map((d) => d.via).sort()).toEqual(['domain', 'unicast']);
    expect(await consumer.quiet(undefined, 50)).toBe(true);
  });

  it('receives the exact bytes MulticastRetransmitter.retransmitUnicast sends to it', async () => {
    const consumer = await open();
    const mt = leaks.closeAfter(
      new MulticastRetransmitter({ port: 9, unicastSourceAddress: '127.0.0.2' }),
    );
    const frame = buildFrame({ hashKey: 0xabn, seq: 99n, payload: Buffer.alloc(1200, 3) });
    await mt.retransmitUnicast(frame, consumer.requester);
    const got = await consumer.next(isFrame(99n));
    expect(got.via).toBe('unicast');
    expect(got.from.address).toBe('127.0.0.2');
    expect(got.kind === 'frame' && got.frame.equals(frame)).toBe(true);
  });

  it('sends NACKs from the unicast socket when asked, so replies come back there', async () => {
    const consumer = await open();
    const relay = await peer();
    const nacks: Array<[Buffer, RemoteInfo]> = [];
    relay.on('message', (msg, rinfo) => {
      nacks.push([msg, rinfo]);
      relay.send(buildFrame({ hashKey: 5n, seq: 5n }), rinfo.port, rinfo.address); // as a relay would
    });
    const to = { address: HOST, port: relay.address().port };
    consumer.nack(to, { hashKey: 5n, startSeq: 5n }, { from: 'unicast' });
    expect((await consumer.next(isFrame(5n))).via).toBe('unicast');
    consumer.nack(to, { hashKey: 5n, startSeq: 5n });
    expect((await consumer.next(isFrame(5n))).via).toBe('domain');
    expect(nacks.map(([, r]) => r.port)).toEqual([consumer.requester.port, consumer.address.port]);
    expect(decodeNack(nacks[0]![0]).startSeq).toBe(5n);
  });

  it('binds the unicast socket on unicastHost, another loopback address', async () => {
    const consumer = await open(HOST, '127.0.0.2');
    expect(consumer.address.address).toBe(HOST);
    expect(consumer.requester.address).toBe('127.0.0.2');
    const tx = await peer();
    tx.send(buildFrame({ hashKey: 1n, seq: 3n }), consumer.requester.port, '127.0.0.2');
    expect((await consumer.next(isFrame(3n))).via).toBe('unicast');
  });

  it('fails to open on an address it cannot bind, leaving no socket behind', async () => {
    await expect(TestConsumer.open(HOST, { unicastHost: '192.0.2.1' })).rejects.toThrow(
      /EADDRNOTAVAIL/,
    );
  });

  it('close() closes both sockets and rejects waits', async () => {
    const consumer = await TestConsumer.open(HOST);
    const waiting = consumer.next(undefined, 5_000);
    await consumer.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await consumer.close(); // idempotent
    consumer.send(consumer.requester, new Uint8Array(1), { from: 'unicast' }); // ignored
  });
});
