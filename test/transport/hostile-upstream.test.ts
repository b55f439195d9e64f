/**
 * Hostile upstreams over real loopback UDP. A raw-dgram upstream answers the client's NACKs
 * with junk: replies from sources that may not answer (16-byte responses from another port,
 * anything from another address), frames for other gaps, bad magic,
 * short headers, lying payload lengths, oversize datagrams, ACK floods, MISS and THROTTLED
 * storms, legacy frames. None may be cached or retransmitted; each is counted; the right
 * frame, when it follows in time, is still accepted.
 */
import { describe, expect, it } from 'vitest';
import { FrameVer, type UdpTransport, type UdpTransportOptions } from '../../src/index.js';
import { MAGIC } from '../../src/wire/index.js';
import { UpstreamEmulator, buildFrame } from '../../src/testing/index.js';
import type { UdpTransportStats } from '../../src/transport/udp.js';
import { ack, miss, rawResponse, throttled } from '../helpers/datagrams.js';
import { HostileUpstream, type HostileTurn, type Source } from '../helpers/hostile-upstream.js';
import { harness, type ClientOptions, type Harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { counts, ignoreCounters, ignoredTotal, roomyTransport } from '../helpers/udp.js';
import { waitFor } from '../helpers/wait.js';

const H = 0x5eed_0000_0000_0007n;
const S = 4242n;

interface Junk {
  bytes: Uint8Array;
  from?: Source;
}

const leaks = useLeakCheck();

/** A client over a real UdpTransport (4 MiB receive buffers), closed after the test. */
type Rig = Harness<UdpTransport>;

function rig(options: ClientOptions, transportOptions: UdpTransportOptions = {}): Rig {
  return leaks.closeAfter(harness({ ...options, transport: roomyTransport(transportOptions) }));
}

async function startHostile(
  script: (turn: HostileTurn) => Promise<void> | void,
  host: '127.0.0.1' | '::1' = '127.0.0.1',
): Promise<HostileUpstream> {
  return leaks.closeAfter(await HostileUpstream.start({ host, script }));
}

function startRig(
  upstreams: string[],
  extra: {
    timeoutMs?: number;
    workers?: number;
    lateReplyGuardMs?: number;
    hedgeAfterMs?: false;
    frameSource?: UdpTransportOptions['frameSource'];
  } = {},
): Rig {
  return rig(
    {
      upstreams,
      timeoutMs: extra.timeoutMs ?? 5000,
      gapDeadlineMs: 20_000,
      failureMemoryMs: 0,
      workers: extra.workers ?? 4,
      ...(extra.hedgeAfterMs === false ? { hedgeAfterMs: false } : {}),
    },
    { lateReplyGuardMs: extra.lateReplyGuardMs ?? 2000, frameSource: extra.frameSource },
  );
}

/**
 * Sends each junk datagram and waits until the transport has counted it (so the receive
 * buffer never overflows and counts are exact), then sends `finale` if given.
 */
async function paced(r: Rig, turn: HostileTurn, junk: Junk[]): Promise<void> {
  for (const j of junk) {
    const before = ignoredTotal(r.transport);
    await turn.send(j.bytes, j.from ?? 'self');
    await waitFor(
      () => ignoredTotal(r.transport) > before,
      'the transport to count a junk datagram',
    );
  }
}

/** The frame the client asked for. */
const right = (): Buffer => buildFrame({ hashKey: H, seq: S });

/** One gap, answered by `junk` then the right frame; asserts it is recovered cleanly. */
async function junkThenRight(
  junk: (nackSeq: bigint) => Junk[],
  expected: Partial<UdpTransportStats>,
  host: '127.0.0.1' | '::1' = '127.0.0.1',
  rightFrom: Source = 'self',
): Promise<Rig> {
  const frame = right();
  const hostile = await startHostile(async (turn) => {
    await paced(r, turn, junk(turn.nack.startSeq));
    await turn.send(frame, rightFrom);
  }, host);
  const r = startRig([hostile.endpoint]);
  expect(r.client.enqueue({ hashKey: H, startSeq: S })).toBe(true);
  await r.client.onIdle();
  expect(r.client.stats()).toMatchObject({ requests: 1, recovered: 1, failedTotal: 0 });
  expect(ignoreCounters(r.transport.stats())).toEqual(counts(expected));
  // Exactly the right bytes were cached and retransmitted, once.
  expect(r.cache.stored).toHaveLength(1);
  expect(Buffer.from(r.cache.stored[0]?.frame ?? []).equals(frame)).toBe(true);
  expect(r.retransmitter.frames).toHaveLength(1);
  expect(Buffer.from(r.retransmitter.frames[0]?.frame ?? []).equals(frame)).toBe(true);
  expect(r.client.stats().invalidFrames).toEqual({});
  expect(hostile.nacks).toHaveLength(1);
  return r;
}

/** Answers to the NACK (ACK, MISS, THROTTLED): they count only from the asked port. */
function answers(from: Source): Junk[] {
  return [
    { bytes: ack(S), from },
    { bytes: miss(), from },
    { bytes: throttled(S, 15), from },
  ];
}

/** Things an attacker would like the client to take: the frame, and answers to the NACK. */
function tempting(from: Source): Junk[] {
  return [{ bytes: right(), from }, ...answers(from)];
}

describe('replies from a source that was not asked', () => {
  // The reference retry-endpoint sends the frame copy from its unicast-retransmit socket,
  // another port of the asked host: the frame is taken from there, ACK, MISS and THROTTLED
  // are not (they come from the NACK port).
  it.each(['127.0.0.1', '::1'] as const)(
    'accepts the frame from another port of the asked host (its unicast socket); ACK, MISS, THROTTLED from there count as foreignSource (%s)',
    async (host) => {
      await junkThenRight(() => answers('other-port'), { foreignSource: 3 }, host, 'other-port');
    },
  );

  it.each(['127.0.0.1', '::1'] as const)(
    'anything from another address is foreign: frame, ACK, MISS, THROTTLED (%s)',
    async (host) => {
      await junkThenRight(() => tempting('other-address'), { foreignSource: 4 }, host);
    },
  );

  it.each(['127.0.0.1', '::1'] as const)(
    "with frameSource 'any' the frame from another address is accepted, its ACK, MISS, THROTTLED still ignored (%s)",
    async (host) => {
      const frame = right();
      const hostile = await startHostile(async (turn) => {
        await paced(r, turn, answers('other-address').concat(answers('other-port')));
        await turn.send(frame, 'other-address');
      }, host);
      const r = startRig([hostile.endpoint], { frameSource: 'any' });
      r.client.enqueue({ hashKey: H, startSeq: S });
      await r.client.onIdle();
      expect(r.client.stats()).toMatchObject({ requests: 1, recovered: 1, failedTotal: 0 });
      expect(ignoreCounters(r.transport.stats())).toEqual(counts({ foreignSource: 6 }));
      expect(r.cache.stored).toHaveLength(1);
      expect(Buffer.from(r.cache.stored[0]?.frame ?? []).equals(frame)).toBe(true);
      expect(r.retransmitter.frames).toHaveLength(1);
    },
  );

  it('a spoofer answering while the real upstream stays silent gets nothing in', async () => {
    const hostile = await startHostile(async (turn) => {
      for (const j of tempting('other-address')) await turn.send(j.bytes, j.from);
      for (const j of answers('other-port')) await turn.send(j.bytes, j.from);
    });
    const r = startRig([hostile.endpoint], { timeoutMs: 500 });
    r.client.enqueue({ hashKey: H, startSeq: S });
    await r.client.onIdle();
    expect(r.client.stats()).toMatchObject({ recovered: 0, failed: { exhausted: 1 } });
    // Counted on arrival: before the timeout or after it, from a stranger either way.
    await waitFor(() => r.transport.stats().foreignSource === 7, 'seven foreign datagrams');
    expect(ignoreCounters(r.transport.stats())).toEqual(counts({ foreignSource: 7 }));
    expect(r.cache.stored).toHaveLength(0);
    expect(r.retransmitter.frames).toHaveLength(0);
  });
});

describe('frames that are not the requested frame', () => {
  it('valid frames for other gaps, of every version', async () => {
    await junkThenRight(
      () => [
        { bytes: buildFrame({ hashKey: H, seq: S + 1n }) },
        { bytes: buildFrame({ hashKey: H, seq: S - 1n }) },
        { bytes: buildFrame({ hashKey: H + 1n, seq: S }) },
        { bytes: buildFrame({ hashKey: 0n, seq: S }) },
        { bytes: buildFrame({ hashKey: H ^ (1n << 63n), seq: S ^ (1n << 63n) }) },
        ...[
          FrameVer.Fragment,
          FrameVer.Block,
          FrameVer.Subtree,
          FrameVer.Anchor,
          FrameVer.Beef,
        ].map((frameVer) => ({ bytes: buildFrame({ hashKey: H, seq: S + 7n, frameVer }) })),
      ],
      { wrongGap: 10 },
    );
  });

  it('bad magic, in each of its four bytes', async () => {
    const bad = (at: number): Buffer => {
      const f = right();
      f[at] = (f[at] ?? 0) ^ 0xff;
      return f;
    };
    const badResponse = rawResponse(0x12, 2, S);
    badResponse.writeUInt32BE((MAGIC ^ 1) >>> 0, 0);
    await junkThenRight(
      () => [0, 1, 2, 3].map((at) => ({ bytes: bad(at) })).concat([{ bytes: badResponse }]),
      { malformed: 5 },
    );
  });

  it('short headers: cut anywhere before the end of the header, fragments included', async () => {
    const frag = buildFrame({ hashKey: H, seq: S, frameVer: FrameVer.Fragment });
    const cuts = [0, 1, 4, 7, 8, 15, 16, 17, 43, 44, 45, 64, 88, 91];
    await junkThenRight(
      () => [
        ...cuts.map((n) => ({ bytes: right().subarray(0, n) })),
        ...[92, 100, 103].map((n) => ({ bytes: frag.subarray(0, n) })),
      ],
      { malformed: cuts.length + 3 },
    );
  });

  it('a payload length that disagrees with the datagram', async () => {
    const lying = (declared: number, pad = 0): Buffer => {
      const f = Buffer.concat([right(), Buffer.alloc(pad)]);
      f.writeUInt32BE(declared, 88);
      return f;
    };
    const len = right().length - 92;
    await junkThenRight(
      () => [
        { bytes: lying(len + 1) },
        { bytes: lying(len - 1) },
        { bytes: lying(0) },
        { bytes: lying(0xffff_ffff) },
        { bytes: lying(len, 1) },
        { bytes: lying(len + 3, 4) },
      ],
      { malformed: 6 },
    );
  });

  it.each(['127.0.0.1', '::1'] as const)('oversize datagrams up to ~64 KB (%s)', async (host) => {
    const big = 65_000;
    const headerOfRight = (): Buffer => {
      const f = Buffer.alloc(big, 0x5a);
      right().copy(f, 0, 0, 92);
      return f; // declares a 16-byte payload but carries 64 KB
    };
    const noise = Buffer.alloc(big);
    for (let i = 0; i < big; i++) noise[i] = (i * 131 + 7) & 0xff;
    const wrongGapBig = buildFrame({
      hashKey: H,
      seq: S + 1n,
      payload: Buffer.alloc(big - 92, 1),
    });
    await junkThenRight(
      () => [{ bytes: headerOfRight() }, { bytes: noise }, { bytes: wrongGapBig }],
      { malformed: 2, wrongGap: 1 },
      host,
    );
  });

  it('legacy frames (44-byte header, no HashKey/SeqNum)', async () => {
    const legacy = (payload: number): Buffer =>
      buildFrame({ hashKey: H, seq: S, frameVer: FrameVer.Legacy, payload: Buffer.alloc(payload) });
    await junkThenRight(
      () => [{ bytes: legacy(0) }, { bytes: legacy(48) }, { bytes: legacy(200) }],
      { legacyFrame: 3 },
    );
  });

  it('responses for other sequence numbers and malformed responses', async () => {
    await junkThenRight(
      () => [
        { bytes: ack(S + 1n) },
        { bytes: throttled(S - 1n, 3) },
        { bytes: rawResponse(0x14, 0, S) }, // unknown type
        { bytes: rawResponse(0xff, 0xff, S) },
        {
          bytes: (() => {
            const b = rawResponse(0x11, 0, 0n);
            b.writeUInt16BE(0x0001, 4);
            return b;
          })(),
        },
      ],
      { mismatchedSeq: 2, malformed: 3 },
    );
  });

  it('everything at once, then the frame', async () => {
    await junkThenRight(
      () => [
        ...answers('other-port'),
        ...tempting('other-address'),
        { bytes: buildFrame({ hashKey: H, seq: S + 1n }) },
        { bytes: right().subarray(0, 91) },
        { bytes: buildFrame({ hashKey: H, seq: S, frameVer: FrameVer.Legacy }) },
        { bytes: ack(S) },
        { bytes: ack(S) },
        { bytes: ack(S + 9n) },
      ],
      { foreignSource: 7, wrongGap: 1, malformed: 1, legacyFrame: 1, acks: 2, mismatchedSeq: 1 },
    );
  });
});

describe('floods and storms', () => {
  async function withEmulator(): Promise<UpstreamEmulator> {
    return leaks.closeAfter(await UpstreamEmulator.start({ host: '127.0.0.1' }));
  }

  it('an ACK flood ended by a MISS: counted, then the next upstream serves', async () => {
    const emu = await withEmulator();
    emu.put(right());
    const hostile = await startHostile(async (turn) => {
      for (let burst = 0; burst < 10; burst++) {
        const sends: Promise<void>[] = [];
        for (let i = 0; i < 50; i++) sends.push(turn.send(ack(S)));
        for (let i = 0; i < 10; i++) sends.push(turn.send(ack(S + 1n + BigInt(i))));
        await Promise.all(sends);
        const want = (burst + 1) * 60;
        await waitFor(() => ignoredTotal(r.transport) >= want, 'the ACK burst to be counted');
      }
      await turn.send(miss());
    });
    // The flood must run its course on the first upstream: no hedge to the second.
    const r = startRig([hostile.endpoint, emu.endpoint], { hedgeAfterMs: false });
    r.client.enqueue({ hashKey: H, startSeq: S });
    await r.client.onIdle();
    expect(r.client.stats()).toMatchObject({ recovered: 1, failedTotal: 0 });
    expect(r.events.recovered[0]?.upstream).toBe(emu.endpoint);
    // 500 flooded ACKs; the emulator sends its frame first, so its own ACK trails it.
    await waitFor(() => r.transport.stats().trailingAcks === 1, "the emulator's ACK");
    expect(ignoreCounters(r.transport.stats())).toEqual(
      counts({ acks: 500, mismatchedSeq: 100, trailingAcks: 1 }),
    );
    expect(r.cache.stored).toHaveLength(1);
    expect(r.retransmitter.frames).toHaveLength(1);
  });

  it('an ACK flood with no frame times out, then the next upstream serves', async () => {
    const emu = await withEmulator();
    emu.put(right());
    const hostile = await startHostile(async (turn) => {
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 300; i++) sends.push(turn.send(ack(S)));
      await Promise.all(sends);
    });
    // The point is that ACKs alone end in a timeout; a hedge would overtake the attempt.
    const r = startRig([hostile.endpoint, emu.endpoint], { timeoutMs: 400, hedgeAfterMs: false });
    r.client.enqueue({ hashKey: H, startSeq: S });
    await r.client.onIdle();
    expect(r.client.stats()).toMatchObject({ recovered: 1, failedTotal: 0 });
    expect(r.events.recovered[0]?.upstream).toBe(emu.endpoint);
    expect(r.client.stats().upstreams[0]?.replies.timeout).toBe(1);
    // Every ACK is counted: as an ACK while the request waited, as late once it timed out
    // (plus the emulator's own ACK, which trails its frame).
    const acked = (): number => r.transport.stats().acks + r.transport.stats().lateReplies;
    await waitFor(() => acked() === 300, 'all ACKs to be counted');
    await waitFor(() => r.transport.stats().trailingAcks === 1, "the emulator's ACK");
    expect(r.transport.stats().acks).toBeGreaterThan(1);
    expect(ignoredTotal(r.transport)).toBe(301);
    expect(r.cache.stored).toHaveLength(1);
  });

  it('a MISS storm: every MISS is either the answer or counted; the next upstream serves', async () => {
    const emu = await withEmulator();
    const gaps = 16;
    emu.putRange(H, 0n, BigInt(gaps - 1));
    const storm = 100;
    const hostile = await startHostile(async (turn) => {
      const sends: Promise<void>[] = [];
      for (let i = 0; i < storm; i++) sends.push(turn.send(miss()));
      await Promise.all(sends);
    });
    const r = startRig([hostile.endpoint, emu.endpoint], { timeoutMs: 2000, workers: 4 });
    for (let s = 0; s < gaps; s++)
      expect(r.client.enqueue({ hashKey: H, startSeq: BigInt(s) })).toBe(true);
    await r.client.onIdle();
    expect(r.client.stats()).toMatchObject({ recovered: gaps, failedTotal: 0 });
    expect(r.events.recovered.every((e) => e.upstream === emu.endpoint)).toBe(true);
    await hostile.idle();
    const sent = storm * hostile.nacks.length;
    // Read on each poll: an attempt a hedge overtook still takes its MISS as its answer.
    const answered = (): number => r.client.stats().upstreams[0]?.replies.miss ?? 0;
    const stray = (): number => r.transport.stats().unsolicited + r.transport.stats().lateReplies;
    await waitFor(() => answered() + stray() === sent, 'every MISS to be accounted for');
    // Nothing else was ignored but the emulator's ACKs (one per gap it served, each after
    // its frame).
    await waitFor(() => r.transport.stats().trailingAcks === gaps, "the emulator's ACKs");
    expect(ignoredTotal(r.transport)).toBe(stray() + gaps);
    expect(r.transport.stats().acks).toBe(0);
    expect(r.cache.stored.map((x) => x.key).sort()).toHaveLength(gaps);
    expect(r.retransmitter.frames).toHaveLength(gaps);
  });

  it('a THROTTLED storm: holds are bounded, then the next upstream serves', async () => {
    const emu = await withEmulator();
    emu.put(right());
    const storm = 40;
    const hostile = await startHostile(async (turn) => {
      const sends: Promise<void>[] = [];
      for (let i = 0; i < storm; i++) sends.push(turn.send(throttled(turn.nack.startSeq, 0)));
      await Promise.all(sends);
    });
    const r = rig({
      upstreams: [hostile.endpoint, emu.endpoint],
      timeoutMs: 2000,
      maxThrottleRetries: 2,
      failureMemoryMs: 0,
      // Holds are counted on the first upstream alone: no hedge to the second.
      hedgeAfterMs: false,
    });
    r.client.enqueue({ hashKey: H, startSeq: S });
    await r.client.onIdle();
    expect(r.client.stats()).toMatchObject({ recovered: 1, failedTotal: 0, throttleHolds: 2 });
    expect(r.events.recovered[0]?.upstream).toBe(emu.endpoint);
    // Asked once, then once per honoured hold: the storm did not multiply the NACKs.
    expect(hostile.nacks).toHaveLength(3);
    await hostile.idle();
    const answered = r.client.stats().upstreams[0]?.replies.throttled ?? 0;
    const stray = (): number => r.transport.stats().unsolicited + r.transport.stats().lateReplies;
    await waitFor(() => answered + stray() === storm * 3, 'every THROTTLED to be counted');
    await waitFor(() => r.transport.stats().trailingAcks === 1, "the emulator's ACK");
    expect(ignoredTotal(r.transport)).toBe(stray() + 1); // + the emulator's ACK, after its frame
    expect(r.cache.stored).toHaveLength(1);
  });

  it('THROTTLED with the largest hint ends at the gap deadline, not hours later', async () => {
    const hostile = await startHostile(async (turn) => {
      await turn.send(throttled(turn.nack.startSeq, 15)); // 125 ms << 15 ≈ 68 minutes
    });
    const r = rig({ upstreams: [hostile.endpoint], timeoutMs: 500, gapDeadlineMs: 800 });
    r.client.enqueue({ hashKey: H, startSeq: S });
    await r.client.onIdle();
    expect(r.client.stats()).toMatchObject({ recovered: 0, failed: { deadline: 1 } });
    expect(r.cache.stored).toHaveLength(0);
  });
});

describe('the ACK that trails a frame', () => {
  it('is counted as trailing, on its own or during the next exchange; lookalikes are not', async () => {
    const lookalikes = (seq: bigint): Buffer[] => {
      const badMagic = rawResponse(0x12, 2, seq);
      badMagic.writeUInt32BE((MAGIC ^ 0x100) >>> 0, 0);
      const badVersion = rawResponse(0x12, 2, seq);
      badVersion.writeUInt16BE(0x0001, 4);
      return [badMagic, badVersion];
    };
    const hostile = await startHostile(async (turn) => {
      if (turn.index === 0) {
        // As the reference server answers: the frame, then its ACK; then two lookalikes
        // while nothing is asked (from the upstream, so unsolicited, but not ACKs).
        await turn.send(right());
        await waitFor(() => r.client.stats().recovered === 1, 'the first recovery');
        await turn.send(ack(S));
        await waitFor(() => r.transport.stats().trailingAcks === 1, 'the trailing ACK');
        for (const b of lookalikes(S)) await turn.send(b);
      } else {
        // The next gap on the same connection: a late copy of the previous ACK must not
        // count as this exchange's ACK, and the lookalikes are malformed.
        const junk = [ack(S), ...lookalikes(S)].map((bytes) => ({ bytes }));
        await paced(r, turn, junk);
        await turn.send(buildFrame({ hashKey: H, seq: S + 1n }));
      }
    });
    const r = startRig([hostile.endpoint]);
    r.client.enqueue({ hashKey: H, startSeq: S });
    await r.client.onIdle();
    await hostile.idle();
    await waitFor(
      () => ignoredTotal(r.transport) === 3,
      'the datagrams after the frame to be counted',
    );
    expect(ignoreCounters(r.transport.stats())).toEqual(
      counts({ trailingAcks: 1, unsolicited: 2 }),
    );
    r.client.enqueue({ hashKey: H, startSeq: S + 1n });
    await r.client.onIdle();
    expect(r.client.stats()).toMatchObject({ recovered: 2, failedTotal: 0 });
    expect(ignoreCounters(r.transport.stats())).toEqual(
      counts({ trailingAcks: 2, unsolicited: 2, malformed: 2 }),
    );
    expect(r.client.stats().transport).toMatchObject({ sent: 2 });
  });
});

describe('frames nobody is waiting for', () => {
  it('a frame sent before it was asked for (from any port or address), or after the request timed out, is never cached', async () => {
    let phase: 'learn' | 'silent' | 'late' = 'learn';
    const frame2 = buildFrame({ hashKey: H, seq: S + 2n });
    const frame3 = buildFrame({ hashKey: H, seq: S + 3n });
    const hostile = await startHostile(async (turn) => {
      if (phase === 'learn') {
        // Serve the first gap, then push the next gaps' frames before anyone asks.
        await turn.send(buildFrame({ hashKey: H, seq: turn.nack.startSeq }));
        await waitFor(() => r.client.stats().recovered === 1, 'the first recovery');
        await turn.send(frame2);
        await turn.send(frame3, 'other-port');
        await turn.send(frame3, 'other-address');
      } else if (phase === 'late') {
        await waitFor(() => r.client.stats().failedTotal === 2, 'the request to time out');
        await turn.send(frame3);
      }
    });
    // A long guard, so the late frame is recognised as late however slow the machine is.
    const r = startRig([hostile.endpoint], { timeoutMs: 300, lateReplyGuardMs: 60_000 });
    r.client.enqueue({ hashKey: H, startSeq: S });
    await r.client.onIdle();
    await hostile.idle();
    await waitFor(() => ignoredTotal(r.transport) === 3, 'the unprompted frames to be counted');
    // From the asked host (any port) it is unsolicited; from another address, foreign.
    expect(ignoreCounters(r.transport.stats())).toEqual(
      counts({ unsolicited: 2, foreignSource: 1 }),
    );
    phase = 'silent';
    r.client.enqueue({ hashKey: H, startSeq: S + 2n });
    await r.client.onIdle();
    phase = 'late';
    r.client.enqueue({ hashKey: H, startSeq: S + 3n });
    await r.client.onIdle();
    await hostile.idle();
    await waitFor(() => r.transport.stats().lateReplies === 1, 'the late frame to be counted');
    expect(r.client.stats()).toMatchObject({ recovered: 1, failed: { exhausted: 2 } });
    expect(r.cache.stored.map((x) => x.key)).toEqual([
      H.toString(16).padStart(16, '0') + S.toString(16).padStart(16, '0'),
    ]);
    expect(r.retransmitter.frames).toHaveLength(1);
  });

  it('two gaps in flight to one upstream: swapped frames are refused, the right ones accepted', async () => {
    const a = S;
    const b = S + 1n;
    const asked = new Set<bigint>();
    const turns: HostileTurn[] = [];
    const hostile = await startHostile(async (turn) => {
      turns.push(turn);
      asked.add(turn.nack.startSeq);
      if (turns.length < 2) return;
      // Both NACKs are in: answer each with the other's frame, then with its own.
      const [ta, tb] = turns[0]?.nack.startSeq === a ? turns : [turns[1], turns[0]];
      if (ta === undefined || tb === undefined) return;
      await ta.send(buildFrame({ hashKey: H, seq: b }));
      await tb.send(buildFrame({ hashKey: H, seq: a }));
      await waitFor(() => r.transport.stats().wrongGap === 2, 'the swapped frames to be counted');
      await ta.send(buildFrame({ hashKey: H, seq: a }));
      await tb.send(buildFrame({ hashKey: H, seq: b }));
    });
    const r = startRig([hostile.endpoint]);
    r.client.enqueue({ hashKey: H, startSeq: a });
    r.client.enqueue({ hashKey: H, startSeq: b });
    await r.client.onIdle();
    expect([...asked].sort()).toEqual([a, b]);
    expect(r.client.stats()).toMatchObject({ recovered: 2, failedTotal: 0 });
    expect(ignoreCounters(r.transport.stats())).toEqual(counts({ wrongGap: 2 }));
    for (const e of r.events.recovered) {
      const stored = r.cache.stored.find(
        (x) => x.key === H.toString(16).padStart(16, '0') + e.seq.toString(16).padStart(16, '0'),
      );
      expect(stored !== undefined && Buffer.from(stored.frame).readBigUInt64BE(48)).toBe(e.seq);
    }
  });
});
