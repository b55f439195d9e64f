import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FLAG_PROXIED,
  MAGIC,
  ProxyClient,
  decodeFrameHeader,
  decodeResponse,
  encodeNack,
  type Response,
} from '../../src/index.js';
import {
  RecordingCache,
  RecordingRetransmitter,
  UpstreamEmulator,
  buildFrame,
  formatEndpoint,
  loopbackAddress,
  type EmulatorOptions,
} from '../../src/testing/index.js';

/** What came back for one NACK: decoded responses and frames, with their source ports. */
interface Answer {
  responses: Response[];
  frames: { seq: bigint; magicOk: boolean; port: number }[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function emulator(options: EmulatorOptions = {}): Promise<UpstreamEmulator> {
  const up = await UpstreamEmulator.start({ host: await loopbackAddress(), ...options });
  cleanups.push(() => up.close());
  return up;
}

async function client(up: UpstreamEmulator): Promise<Socket> {
  const socket = createSocket(up.host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => socket.bind(0, up.host, r));
  cleanups.push(() => new Promise((r) => socket.close(() => r())));
  return socket;
}

/** Sends one NACK and collects datagrams until `expect` arrived or `waitMs` passed. */
async function ask(
  up: UpstreamEmulator,
  seq: bigint,
  expected: number,
  waitMs = 1000,
  flags = FLAG_PROXIED,
): Promise<Answer> {
  const socket = await client(up);
  const answer: Answer = { responses: [], frames: [] };
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(answer), waitMs);
    socket.on('message', (msg, rinfo) => {
      if (msg.length === 16) answer.responses.push(decodeResponse(msg));
      else {
        const magicOk = msg.readUInt32BE(0) === MAGIC;
        const seqRead = msg.length >= 56 ? msg.readBigUInt64BE(48) : -1n;
        answer.frames.push({ seq: seqRead, magicOk, port: rinfo.port });
      }
      if (answer.responses.length + answer.frames.length >= expected) {
        clearTimeout(timer);
        resolve(answer);
      }
    });
    socket.send(encodeNack({ hashKey: 1n, startSeq: seq, flags }), up.port, up.host);
  });
}

describe('UpstreamEmulator', () => {
  it('answers ACK then the frame by unicast, and MISS for a frame it lacks', async () => {
    const up = await emulator({ frames: [buildFrame({ hashKey: 1n, seq: 5n })] });
    const served = await ask(up, 5n, 2);
    expect(served.responses).toMatchObject([{ kind: 'ack', seq: 5n, unicastSent: true }]);
    expect(served.frames).toEqual([{ seq: 5n, magicOk: true, port: up.port }]);
    const missed = await ask(up, 6n, 1);
    expect(missed.responses).toEqual([{ kind: 'miss' }]);
    expect(up.stats).toMatchObject({ nacks: 2, acks: 1, framesSent: 1, misses: 1 });
    expect(up.received.map((r) => [r.nack.startSeq, r.nack.flags])).toEqual([
      [5n, FLAG_PROXIED],
      [6n, FLAG_PROXIED],
    ]);
    expect(up.nacksFor(1n, 5n)).toHaveLength(1);
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

  it('throttles a set number of times per gap, then serves', async () => {
    const up = await emulator();
    up.putRange(1n, 1n, 1n);
    up.setBehaviour({ mode: 'throttle', throttleBucket: 2, throttleTimes: 1 });
    const first = await ask(up, 1n, 1);
    expect(first.responses).toEqual([{ kind: 'throttled', seq: 1n, bucket: 2, backoffMs: 500 }]);
    const second = await ask(up, 1n, 2);
    expect(second.frames.map((f) => f.seq)).toEqual([1n]);
    expect(up.stats.throttled).toBe(1);
  });

  it('misbehaves per gap: silent, ack-only, wrong frame, corrupt, frame-first, other port', async () => {
    const up = await emulator();
    up.putRange(1n, 1n, 6n);
    up.setGapBehaviour(1n, 1n, { mode: 'silent' });
    up.setGapBehaviour(1n, 2n, { mode: 'ack-only' });
    up.setGapBehaviour(1n, 3n, { mode: 'wrong-frame' });
    up.setGapBehaviour(1n, 4n, { mode: 'corrupt' });
    up.setGapBehaviour(1n, 5n, { mode: 'frame-first' });
    up.setGapBehaviour(1n, 6n, { mode: 'other-port' });

    expect(await ask(up, 1n, 1, 150)).toEqual({ responses: [], frames: [] });
    const ackOnly = await ask(up, 2n, 2, 150);
    expect([ackOnly.responses.length, ackOnly.frames.length]).toEqual([1, 0]);
    expect((await ask(up, 3n, 2)).frames.map((f) => f.seq)).toEqual([4n]);
    expect((await ask(up, 4n, 2)).frames.map((f) => f.magicOk)).toEqual([false]);
    expect((await ask(up, 5n, 2)).frames.map((f) => f.seq)).toEqual([5n]);
    const moved = await ask(up, 6n, 2);
    expect(moved.frames).toHaveLength(1);
    expect(moved.frames[0]?.port).not.toBe(up.port);
    expect(up.stats.unanswered).toBe(1);
  });

  it('answers a share of NACKs only, reproducibly for a seed', async () => {
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const up = await emulator({ seed: 7, behaviour: { mode: 'miss', dropRate: 0.5 } });
      const socket = await client(up);
      let answers = 0;
      socket.on('message', () => answers++);
      for (let i = 0; i < 40; i++) {
        socket.send(encodeNack({ hashKey: 1n, startSeq: BigInt(i) }), up.port, up.host);
      }
      await up.waitForNacks(40);
      await new Promise((r) => setTimeout(r, 50));
      counts.push(answers);
      expect(up.stats.unanswered + up.stats.misses).toBe(40);
      expect(answers).toBe(up.stats.misses);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeGreaterThan(5);
    expect(counts[0]).toBeLessThan(35);
  });

  it('delays its answers', async () => {
    const up = await emulator({ behaviour: { mode: 'miss', delayMs: 120 } });
    const started = performance.now();
    expect((await ask(up, 1n, 1)).responses).toEqual([{ kind: 'miss' }]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('counts datagrams that are not NACKs and does not answer them', async () => {
    const up = await emulator();
    const socket = await client(up);
    socket.send(Buffer.from('hello'), up.port, up.host);
    socket.send(encodeNack({ hashKey: 1n, startSeq: 1n }), up.port, up.host);
    await up.waitForNacks(1);
    expect(up.stats).toMatchObject({ nacks: 1, malformed: 1 });
  });

  it('times out and rejects waits on close; close is idempotent', async () => {
    const up = await emulator();
    await expect(up.waitForNacks(1, 20)).rejects.toThrow(/0 of 1 NACKs/);
    const pending = up.waitForNacks(1, 5000);
    await up.close();
    await expect(pending).rejects.toThrow(/closed/);
    await up.close();
  });

  it('refuses a host that is not an IP address', async () => {
    await expect(UpstreamEmulator.start({ host: 'localhost' })).rejects.toThrow(TypeError);
  });

  it('serves a ProxyClient over real UDP; the client refuses a wrong frame', async () => {
    const bad = await emulator({ behaviour: { mode: 'wrong-frame' } });
    const good = await emulator({ frames: [buildFrame({ hashKey: 1n, seq: 9n })] });
    bad.putRange(1n, 9n, 9n);
    const cache = new RecordingCache();
    const retransmitter = new RecordingRetransmitter();
    const c = new ProxyClient({
      upstreams: [bad.endpoint, good.endpoint],
      cache,
      retransmitter,
      timeoutMs: 200,
    });
    cleanups.push(() => c.close());
    c.enqueue({ hashKey: 1n, startSeq: 9n });
    await c.onIdle();
    expect(c.stats()).toMatchObject({ recovered: 1 });
    expect(bad.received).toHaveLength(1);
    expect(good.received).toHaveLength(1);
    expect(decodeFrameHeader(retransmitter.frames[0]!.frame).seq).toBe(9n);
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
