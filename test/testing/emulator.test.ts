import { afterEach, describe, expect, it } from 'vitest';
import { FLAG_PROXIED, MsgType, encodeNack } from '../../src/index.js';
import { MAGIC } from '../../src/wire/index.js';
import {
  UpstreamEmulator,
  buildFrame,
  formatEndpoint,
  loopbackAddress,
} from '../../src/testing/index.js';
import { Peer, closeAll, emulator, frames, response } from '../helpers/emulator-peer.js';
import { useLeakCheck } from '../helpers/leaks.js';

useLeakCheck();
afterEach(closeAll); // before the leak check: vitest runs `after` hooks last-registered first

const ask = (peer: Peer, seq: bigint, flags = FLAG_PROXIED): void =>
  peer.nack({ hashKey: 1n, startSeq: seq, flags });

/** Sequence numbers of the frames received, and whether their magic is intact. */
const frameSeqs = (peer: Peer): [bigint, boolean][] =>
  frames(peer.inbox).map((d) => [d.bytes.readBigUInt64BE(48), d.bytes.readUInt32BE(0) === MAGIC]);

describe('UpstreamEmulator', () => {
  it("answers in 'serve' mode with ACK then the frame from the NACK port, MISS when it lacks one", async () => {
    const up = await emulator({
      behaviour: { mode: 'serve' },
      frames: [buildFrame({ hashKey: 1n, seq: 5n })],
    });
    const peer = await Peer.open(up);
    ask(peer, 5n);
    ask(peer, 6n);
    await peer.waitFor(3);
    expect(peer.inbox.map((d) => d.from.port)).toEqual([up.port, up.port, up.port]);
    expect(response(peer.inbox[0]!)).toEqual({ type: MsgType.Ack, flags: 0x02, seq: 5n });
    expect(frameSeqs(peer)).toEqual([[5n, true]]);
    expect(response(peer.inbox[2]!)).toEqual({ type: MsgType.Miss, flags: 0, seq: 0n });
    expect(up.stats()).toMatchObject({ nacks: 2, acks: 1, framesSent: 1, misses: 1 });
    expect(up.received.map((r) => [r.nack.startSeq, r.nack.flags])).toEqual([
      [5n, FLAG_PROXIED],
      [6n, FLAG_PROXIED],
    ]);
    expect(up.nacksFor(1n, 5n)).toHaveLength(1);
  });

  it("is in 'retry-endpoint' mode unless told otherwise, per gap too", async () => {
    const up = await emulator({ behaviour: { mode: 'serve' } });
    up.putRange(1n, 1n, 2n);
    up.setGapBehaviour(1n, 2n, {});
    const peer = await Peer.open(up);
    ask(peer, 2n);
    await peer.waitFor(2);
    expect(peer.inbox[0]!.from.port).toBe(up.unicastPort);
    up.setBehaviour({ delayMs: 0 });
    ask(peer, 1n);
    await peer.waitFor(4);
    expect(peer.inbox[2]!.from.port).toBe(up.unicastPort);
  });

  it('holds, reports and forgets frames', async () => {
    const up = await emulator();
    up.putRange(1n, 10n, 14n);
    expect(up.size).toBe(5);
    expect(up.has(1n, 12n)).toBe(true);
    up.remove(1n, 12n);
    expect(up.has(1n, 12n)).toBe(false);
    expect(up.endpoint).toBe(formatEndpoint(up.host, up.port));
  });

  it('returns a snapshot from stats()', async () => {
    const up = await emulator();
    const before = up.stats();
    const peer = await Peer.open(up);
    ask(peer, 1n);
    await peer.waitFor(1);
    expect(before).toMatchObject({ nacks: 0, misses: 0, rateLimited: { ip: 0 } });
    expect(up.stats()).toMatchObject({ nacks: 1, misses: 1 });
  });

  it('throttles a set number of times per gap, then serves', async () => {
    const up = await emulator();
    up.putRange(1n, 1n, 1n);
    up.setBehaviour({ mode: 'throttle', throttleBucket: 2, throttleTimes: 1 });
    const peer = await Peer.open(up);
    ask(peer, 1n);
    await peer.waitFor(1);
    expect(response(peer.inbox[0]!)).toEqual({ type: MsgType.Throttled, flags: 2, seq: 1n });
    ask(peer, 1n);
    await peer.waitFor(3);
    expect(frameSeqs(peer)).toEqual([[1n, true]]);
    expect(up.stats().throttled).toBe(1);
  });

  it('misbehaves per gap: silent, ack-only, wrong frame, corrupt, frame-first', async () => {
    const up = await emulator();
    up.putRange(1n, 1n, 5n);
    up.setGapBehaviour(1n, 1n, { mode: 'silent' });
    up.setGapBehaviour(1n, 2n, { mode: 'ack-only' });
    up.setGapBehaviour(1n, 3n, { mode: 'wrong-frame' });
    up.setGapBehaviour(1n, 4n, { mode: 'corrupt' });
    up.setGapBehaviour(1n, 5n, { mode: 'frame-first' });
    const peer = await Peer.open(up);
    for (const seq of [1n, 2n, 3n, 4n, 5n]) ask(peer, seq);
    // 0 + 1 + 2 + 2 + 2 datagrams, all from the NACK port.
    await peer.waitFor(7);
    expect(peer.inbox.every((d) => d.from.port === up.port)).toBe(true);
    expect(frameSeqs(peer)).toEqual([
      [4n, true],
      [4n, false],
      [5n, true],
    ]);
    // frame-first: the frame, then the ACK
    expect(peer.inbox.at(-2)!.bytes.length).toBeGreaterThan(16);
    expect(response(peer.inbox.at(-1)!)).toEqual({ type: MsgType.Ack, flags: 0x02, seq: 5n });
    expect(up.stats()).toMatchObject({ unanswered: 1, acks: 4, framesSent: 3 });
  });

  it('answers a share of NACKs only, reproducibly for a seed', async () => {
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const up = await emulator({ seed: 7, behaviour: { mode: 'miss', dropRate: 0.5 } });
      const peer = await Peer.open(up);
      for (let i = 0; i < 40; i++) ask(peer, BigInt(i));
      await up.waitForNacks(40);
      const s = up.stats();
      await peer.waitFor(s.misses);
      expect(s.unanswered + s.misses).toBe(40);
      counts.push(s.misses);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeGreaterThan(5);
    expect(counts[0]).toBeLessThan(35);
  });

  it('delays its answers', async () => {
    const up = await emulator({ behaviour: { mode: 'miss', delayMs: 120 } });
    const peer = await Peer.open(up);
    const started = performance.now();
    ask(peer, 1n);
    await peer.waitFor(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('counts datagrams that are not NACKs and does not answer them', async () => {
    const up = await emulator({ behaviour: { mode: 'miss' } });
    const peer = await Peer.open(up);
    peer.send(Buffer.from('hello'));
    // The fault modes keep the codec's strict checks: 65 bytes is not a NACK there.
    peer.send(
      Buffer.concat([Buffer.from(encodeNack({ hashKey: 1n, startSeq: 2n })), Buffer.alloc(1)]),
    );
    ask(peer, 1n);
    await up.waitForNacks(1);
    await peer.waitFor(1);
    expect(up.stats()).toMatchObject({ nacks: 1, badLength: 1, malformed: 1, misses: 1 });
  });

  it('times out and rejects waits on close; close is idempotent', async () => {
    const up = await emulator();
    await expect(up.waitForNacks(1, 20)).rejects.toThrow(/0 of 1 NACKs/);
    const pending = up.waitForNacks(1, 5000);
    await up.close();
    await expect(pending).rejects.toThrow(/closed/);
    await up.close();
    await expect(up.waitForNacks(1)).rejects.toThrow(/closed/);
  });

  it('refuses a host that is not an IP address', async () => {
    await expect(UpstreamEmulator.start({ host: 'localhost' })).rejects.toThrow(TypeError);
  });
});

describe('loopbackAddress', () => {
  it('names an address this host can bind', async () => {
    const host = await loopbackAddress();
    expect(['::1', '127.0.0.1']).toContain(host);
    const up = await emulator({ host });
    expect(up.host).toBe(host);
  });
});
