/**
 * Fuzzing the receive path over real loopback UDP: for each generated gap, a hostile
 * upstream sends a random sequence of hostile datagrams (noise, mutated frames and
 * responses, frames for other gaps, oversize junk, datagrams from other ports and other
 * addresses), then the right frame. The client must accept exactly the right frame, cache
 * and retransmit nothing else, and count every other datagram under the reason the spec
 * gives it. The reference retry-endpoint sends its frame copy from another port of its host,
 * so frames from the asked host on any port are judged as frames; ACK, MISS and THROTTLED
 * count only from the asked port; anything from another address is foreign.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { MsgType, type UdpTransport } from '../../src/index.js';
import { buildFrame } from '../../src/testing/index.js';
import {
  ack,
  anyValidDatagram,
  hostileBytes,
  rawResponse,
  u64,
  verdictFor,
  type Verdict,
} from '../helpers/datagrams.js';
import { HostileUpstream, type Source } from '../helpers/hostile-upstream.js';
import { harness, type Harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { ignoreCounters, ignoredTotal, roomyTransport } from '../helpers/udp.js';
import { waitFor } from '../helpers/wait.js';

interface Junk {
  bytes: Uint8Array;
  from: Source;
}

interface Case {
  hashKey: bigint;
  seq: bigint;
  junk: Junk[];
}

/** Oversize noise, built from a seed (generating 64 KB byte by byte would be slow). */
const bigNoise = (): fc.Arbitrary<Uint8Array> =>
  fc
    .record({ size: fc.integer({ min: 1000, max: 65_000 }), seed: fc.integer(), keep: fc.nat(100) })
    .map(({ size, seed, keep }) => {
      const b = Buffer.alloc(size);
      let x = seed | 1;
      for (let i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        b[i] = x & 0xff;
      }
      // Sometimes start like a real frame, so deeper checks run.
      if (keep > 30) buildFrame({ hashKey: 1n, seq: 2n }).copy(b, 0, 0, 92);
      return b;
    });

const caseArb = (): fc.Arbitrary<Case> =>
  fc.record({ hashKey: u64(), seq: u64() }).chain(({ hashKey, seq }) =>
    fc.record({
      hashKey: fc.constant(hashKey),
      seq: fc.constant(seq),
      junk: fc.array(
        fc.record({
          bytes: fc.oneof(
            { weight: 4, arbitrary: hostileBytes() },
            { weight: 2, arbitrary: anyValidDatagram() },
            // Near misses: the right gap with one field wrong, responses for other seqs.
            {
              weight: 2,
              arbitrary: fc
                .record({
                  dh: fc.bigInt({ min: -2n, max: 2n }),
                  ds: fc.bigInt({ min: -2n, max: 2n }),
                })
                .map(({ dh, ds }) =>
                  buildFrame({
                    hashKey: (hashKey + dh) & 0xffff_ffff_ffff_ffffn,
                    seq: (seq + ds) & 0xffff_ffff_ffff_ffffn,
                  }),
                ),
            },
            { weight: 1, arbitrary: fc.constant(ack(seq)) },
            {
              weight: 1,
              arbitrary: fc
                .integer({ min: 0x11, max: 0x13 })
                .map((t) => rawResponse(t, 0, (seq + 1n) & 0xffff_ffff_ffff_ffffn)),
            },
            { weight: 1, arbitrary: bigNoise() },
          ),
          from: fc.constantFrom<Source>('self', 'self', 'self', 'other-port', 'other-address'),
        }),
        { maxLength: 12 },
      ),
    }),
  );

/**
 * The counter each junk datagram lands in, or undefined when it would answer the NACK.
 * `lastFrameSeq` is the sequence number of the frame the connection received last: an ACK
 * for it from the asked port trails that frame (the reference server sends the frame first).
 */
function counterFor(
  j: Junk,
  hashKey: bigint,
  seq: bigint,
  lastFrameSeq: bigint | undefined,
): string | undefined {
  if (j.from === 'other-address') return 'foreignSource';
  if (j.from === 'other-port' && j.bytes.length === 16) return 'foreignSource';
  const v: Verdict = verdictFor(j.bytes, hashKey, seq);
  if (
    j.from === 'self' &&
    (v === 'acks' || v === 'mismatchedSeq') &&
    j.bytes[6] === MsgType.Ack &&
    Buffer.from(j.bytes).readBigUInt64BE(8) === lastFrameSeq
  ) {
    return 'trailingAcks';
  }
  return v === 'answer' ? undefined : v;
}

describe('loopback receive path under random hostile datagrams', () => {
  const leaks = useLeakCheck();
  let hostile: HostileUpstream;
  let r: Harness<UdpTransport>;
  let current: { c: Case; junk: Junk[] } | undefined;

  beforeAll(async () => {
    hostile = await HostileUpstream.start({
      script: async (turn) => {
        const run = current;
        if (run === undefined) return;
        for (const j of run.junk) {
          const before = ignoredTotal(r.transport);
          await turn.send(j.bytes, j.from);
          await waitFor(() => ignoredTotal(r.transport) > before, 'a junk datagram to be counted');
        }
        await turn.send(buildFrame({ hashKey: run.c.hashKey, seq: run.c.seq }));
      },
    });
    leaks.closeAfter(hostile);
    r = leaks.closeAfter(
      harness({
        upstreams: [hostile.endpoint],
        timeoutMs: 10_000,
        failureMemoryMs: 0,
        transport: roomyTransport(),
      }),
    );
  });

  it('accepts exactly the right frame and counts every other datagram by reason', async () => {
    let runs = 0;
    // One gap at a time to one upstream: every exchange reuses the same connection.
    let lastFrameSeq: bigint | undefined;
    await fc.assert(
      fc.asyncProperty(caseArb(), async (c) => {
        // Junk that would legitimately end the exchange (the frame itself from any port of
        // the host, MISS, THROTTLED for this seq) is not junk: leave it out.
        const verdict = (j: Junk): string | undefined =>
          counterFor(j, c.hashKey, c.seq, lastFrameSeq);
        const junk = c.junk.filter((j) => verdict(j) !== undefined);
        const expected = { ...ignoreCounters(r.transport.stats()) };
        for (const j of junk) {
          const k = verdict(j) as string;
          expected[k] = (expected[k] ?? 0) + 1;
        }
        const stored = r.cache.stored.length;
        const recovered = r.client.stats().recovered;
        current = { c, junk };
        expect(r.client.enqueue({ hashKey: c.hashKey, startSeq: c.seq })).toBe(true);
        await r.client.onIdle();
        runs++;
        lastFrameSeq = c.seq;
        expect(r.client.stats().recovered).toBe(recovered + 1);
        expect(r.client.stats().failedTotal).toBe(0);
        expect(ignoreCounters(r.transport.stats())).toEqual(expected);
        expect(r.cache.stored).toHaveLength(stored + 1);
        const got = r.cache.stored[stored]?.frame ?? new Uint8Array();
        expect(Buffer.from(got).equals(buildFrame({ hashKey: c.hashKey, seq: c.seq }))).toBe(true);
        expect(r.retransmitter.frames).toHaveLength(stored + 1);
      }),
      { numRuns: 100 },
    );
    expect(runs).toBeGreaterThanOrEqual(100);
    expect(r.client.stats().invalidFrames).toEqual({});
  });
});
