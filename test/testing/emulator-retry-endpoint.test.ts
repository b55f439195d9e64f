import { afterEach, describe, expect, it } from 'vitest';
import { FLAG_PROXIED, MsgType, encodeNack } from '../../src/index.js';
import { UpstreamEmulator, buildFrame } from '../../src/testing/index.js';
import { Peer, bundle, closeAll, emulator, frames, response } from '../helpers/emulator-peer.js';
import { useLeakCheck } from '../helpers/leaks.js';

useLeakCheck();
afterEach(closeAll); // before the leak check: vitest runs `after` hooks last-registered first

const proxied = (hashKey: bigint, seq: bigint): Parameters<Peer['nack']>[0] => ({
  hashKey,
  startSeq: seq,
  flags: FLAG_PROXIED,
});

describe("UpstreamEmulator 'retry-endpoint' mode (the default)", () => {
  it('sends the frame first from its unicast socket, then ACK 0x02 from the NACK port', async () => {
    const frame = buildFrame({ hashKey: 3n, seq: 5n });
    const up = await emulator({ frames: [frame] });
    expect(up.unicastHost).toBe(up.host);
    expect(up.unicastPort).not.toBe(up.port);
    const peer = await Peer.open(up);
    peer.nack(proxied(3n, 5n));
    const [first, second] = await peer.waitFor(2);
    expect(first!.bytes.equals(frame)).toBe(true);
    expect(first!.from).toEqual({ address: up.host, port: up.unicastPort });
    expect(response(second!)).toEqual({ type: MsgType.Ack, flags: 0x02, seq: 5n });
    expect(second!.from).toEqual({ address: up.host, port: up.port });
    expect(up.stats()).toMatchObject({ nacks: 1, framesSent: 1, acks: 1, unanswered: 0 });
  });

  it('answers MISS from the NACK port; suppressMiss turns it into counted silence', async () => {
    const up = await emulator();
    const peer = await Peer.open(up);
    peer.nack(proxied(3n, 9n));
    const [miss] = await peer.waitFor(1);
    expect(response(miss!)).toEqual({ type: MsgType.Miss, flags: 0, seq: 0n });
    expect(miss!.from.port).toBe(up.port);

    const quiet = await emulator({ retryEndpoint: { suppressMiss: true } });
    quiet.putRange(3n, 1n, 1n);
    const asker = await Peer.open(quiet);
    asker.nack(proxied(3n, 9n));
    asker.nack(proxied(3n, 1n)); // a fence: its answer comes after any answer to the first
    await asker.waitFor(2);
    expect(frames(asker.inbox).map((d) => d.bytes.readBigUInt64BE(48))).toEqual([1n]);
    const held = buildFrame({ hashKey: 3n, seq: 1n });
    expect(asker.inbox.map((d) => d.bytes.length)).toEqual([held.length, 16]);
    expect(quiet.stats()).toMatchObject({ misses: 0, suppressedMisses: 1, unanswered: 1 });
  });

  it('reads NACKs as the server does: under 64 bytes dropped, over 64 cut to 64', async () => {
    const up = await emulator();
    up.putRange(3n, 1n, 2n);
    const peer = await Peer.open(up);
    const nack = Buffer.from(encodeNack(proxied(3n, 1n)));
    peer.send(nack.subarray(0, 63));
    peer.send(Buffer.concat([Buffer.from(encodeNack(proxied(3n, 2n))), Buffer.from([0xff])]));
    const wrongType = Buffer.from(nack);
    wrongType[6] = MsgType.Ack;
    peer.send(wrongType);
    // The protocol version is not checked by the server, so this one is served.
    const oddVersion = Buffer.from(nack);
    oddVersion.writeUInt16BE(0x0001, 4);
    peer.send(oddVersion);
    await up.waitForNacks(2);
    await peer.waitFor(4);
    expect(frames(peer.inbox).map((d) => d.bytes.readBigUInt64BE(48))).toEqual([2n, 1n]);
    expect(up.stats()).toMatchObject({
      nacks: 2,
      badLength: 1,
      truncated: 1,
      malformed: 1,
      framesSent: 2,
    });
  });

  it('drops a range NACK in silence and counts it', async () => {
    const up = await emulator();
    up.putRange(3n, 1n, 3n);
    const peer = await Peer.open(up);
    peer.nack({ ...proxied(3n, 1n), endSeq: 2n });
    peer.nack(proxied(3n, 3n)); // fence
    await up.waitForNacks(2);
    await peer.waitFor(2);
    expect(frames(peer.inbox).map((d) => d.bytes.readBigUInt64BE(48))).toEqual([3n]);
    expect(up.received.map((r) => [r.nack.startSeq, r.nack.endSeq])).toEqual([
      [1n, 2n],
      [3n, 3n],
    ]);
    expect(up.stats()).toMatchObject({ nacks: 2, rangeDropped: 1, unanswered: 1, acks: 1 });
  });

  it('sends no frame for a NACK without the Proxied flag unless unicast is on', async () => {
    const plain = await emulator();
    plain.putRange(3n, 1n, 1n);
    const a = await Peer.open(plain);
    a.nack({ hashKey: 3n, startSeq: 1n });
    const [bare] = await a.waitFor(1);
    // Neither retransmit path is on, so nothing was attempted: a bare ACK.
    expect(response(bare!)).toEqual({ type: MsgType.Ack, flags: 0, seq: 1n });

    const both = await emulator({ retryEndpoint: { unicast: true, multicast: true } });
    both.putRange(3n, 1n, 1n);
    const b = await Peer.open(both);
    b.nack({ hashKey: 3n, startSeq: 1n });
    const [frame, ack] = await b.waitFor(2);
    expect(frame!.from.port).toBe(both.unicastPort);
    expect(response(ack!).flags).toBe(0x03);

    const multicastOnly = await emulator({ retryEndpoint: { multicast: true } });
    multicastOnly.putRange(3n, 1n, 2n);
    const c = await Peer.open(multicastOnly);
    c.nack({ hashKey: 3n, startSeq: 1n });
    c.nack(proxied(3n, 2n));
    await c.waitFor(3);
    expect(c.inbox.map((d) => (d.bytes.length === 16 ? response(d).flags : 'frame'))).toEqual([
      0x01,
      'frame',
      0x03,
    ]);
  });

  it('suppressAck sends the frame copy alone', async () => {
    const up = await emulator({ retryEndpoint: { suppressAck: true } });
    up.putRange(3n, 1n, 1n);
    const peer = await Peer.open(up);
    peer.nack(proxied(3n, 1n));
    peer.nack(proxied(3n, 2n)); // fence: MISS
    await peer.waitFor(2);
    expect(peer.inbox.map((d) => d.from.port)).toContain(up.unicastPort);
    expect(peer.inbox.filter((d) => d.bytes.length === 16).map((d) => response(d).type)).toEqual([
      MsgType.Miss,
    ]);
    expect(up.stats()).toMatchObject({ acks: 0, suppressedAcks: 1, framesSent: 1, unanswered: 0 });
  });

  it('serves a BRC-142 bundle byte for byte, keyed by its HashKey and SeqNum', async () => {
    const b = bundle(0xfeedn, 77n, 3, [Buffer.alloc(150, 1), Buffer.alloc(220, 2)]);
    expect(b.length).toBe(66 + 2 + 150 + 2 + 220);
    const up = await emulator({ frames: [b] });
    expect(up.has(0xfeedn, 77n)).toBe(true);
    const peer = await Peer.open(up);
    peer.nack(proxied(0xfeedn, 77n));
    const [frame, ack] = await peer.waitFor(2);
    expect(frame!.bytes.equals(b)).toBe(true);
    expect(response(ack!)).toEqual({ type: MsgType.Ack, flags: 0x02, seq: 77n });
  });

  it('refuses to hold a legacy frame, a short frame or a wrong magic', async () => {
    const up = await emulator();
    expect(() => up.put(buildFrame({ hashKey: 1n, seq: 1n, frameVer: 0x01 }))).toThrow(/legacy/);
    expect(() => up.put(new Uint8Array(55))).toThrow(/55 bytes/);
    expect(() => up.put(new Uint8Array(92))).toThrow(/magic/);
    expect(up.size).toBe(0);
  });

  it('sends the frame copy from another address with unicastHost', async () => {
    const up = await emulator({ host: '127.0.0.1', retryEndpoint: { unicastHost: '127.0.0.2' } });
    up.putRange(3n, 1n, 1n);
    const peer = await Peer.open(up);
    peer.nack(proxied(3n, 1n));
    const [frame, ack] = await peer.waitFor(2);
    expect(frame!.from).toEqual({ address: '127.0.0.2', port: up.unicastPort });
    expect(ack!.from).toEqual({ address: '127.0.0.1', port: up.port });
  });

  it('refuses a unicastHost of another family, naming the option', async () => {
    await expect(
      UpstreamEmulator.start({ host: '127.0.0.1', retryEndpoint: { unicastHost: '::1' } }),
    ).rejects.toThrow(/retryEndpoint\.unicastHost.*::1/);
  });
});
