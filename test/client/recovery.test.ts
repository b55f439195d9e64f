import { describe, expect, it } from 'vitest';
import { FLAG_PROXIED, FrameVer, decodeFrameHeader } from '../../src/index.js';
import { cacheKeyHex } from '../../src/wire/index.js';
import { RecordingDeduper, RecordingRecorder, buildFrame } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { A, B, C, harness } from '../helpers/harness.js';

describe('one recovery job', () => {
  it('sends a proxied single-frame NACK carrying the SubtreeID, re-caches and retransmits', async () => {
    const h = harness();
    h.transport.intercept(A).serve();
    const subtreeId = Buffer.alloc(32, 7);
    expect(h.client.enqueue({ hashKey: 5n, startSeq: 42n, subtreeId })).toBe(true);
    await h.client.onIdle();
    expect(h.transport.sent).toHaveLength(1);
    const sent = h.transport.sent[0]!;
    expect(sent.upstream).toBe(A);
    expect(sent.flags).toBe(FLAG_PROXIED);
    expect(sent.nack).toMatchObject({ hashKey: 5n, startSeq: 42n, endSeq: 42n });
    expect(Buffer.from(sent.nack.subtreeId).equals(subtreeId)).toBe(true);
    expect(h.cache.stored).toHaveLength(1);
    expect(h.cache.stored[0]).toMatchObject({ key: cacheKeyHex(5n, 42n), ttlMs: 60_000 });
    const frame = h.retransmitter.frames[0]!;
    expect(Buffer.from(frame.txId).equals(Buffer.from(decodeFrameHeader(frame.frame).txId))).toBe(
      true,
    );
    expect(h.events.recovered[0]).toMatchObject({
      hashKey: 5n,
      seq: 42n,
      upstream: A,
      attempts: 1,
    });
    expect(h.recorder).toMatchObject({ requests: 1, recovered: 1 });
    expectAccounting(h.client.stats(), h.events);
  });

  it.each([
    [FrameVer.Tx, 'tx', 1_000],
    [FrameVer.Block, 'block', 2_000],
    [FrameVer.Subtree, 'subtree', 3_000],
    [FrameVer.Anchor, 'anchor', 4_000],
    [FrameVer.Beef, 'beef', 5_000],
    [0x0c, 'unknown→tx', 1_000],
  ])('re-caches FrameVer 0x%s with the %s TTL', async (frameVer, _cls, ttl) => {
    const h = harness({
      ttls: { tx: 1_000, block: 2_000, subtree: 3_000, anchor: 4_000, beef: 5_000 },
    });
    h.transport.intercept(A).serve(buildFrame({ hashKey: 1n, seq: 2n, frameVer }));
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await h.client.onIdle();
    expect(h.cache.stored[0]?.ttlMs).toBe(ttl);
  });

  it('re-caches a fragment with the TTL of its original version', async () => {
    const h = harness({ ttls: { block: 2_000 } });
    h.transport.intercept(A).serve(
      buildFrame({
        hashKey: 1n,
        seq: 2n,
        frameVer: FrameVer.Fragment,
        originalFrameVer: FrameVer.Block,
      }),
    );
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await h.client.onIdle();
    expect(h.cache.stored[0]?.ttlMs).toBe(2_000);
  });

  it('moves to the next upstream at once on MISS, timeout and send error', async () => {
    const h = harness({ upstreams: [A, B, C], timeoutMs: 20 });
    h.transport.intercept(A, { seq: 1n }).miss();
    h.transport.intercept(B, { seq: 1n }).serve();
    h.transport.intercept(A, { seq: 2n }).silent();
    h.transport.intercept(B, { seq: 2n }).error('send');
    h.transport.intercept(C, { seq: 2n }).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await h.client.onIdle();
    expect(h.events.recovered.map((e) => [e.seq, e.upstream])).toEqual(
      expect.arrayContaining([
        [1n, B],
        [2n, C],
      ]),
    );
    expect(h.transport.sent.map((s) => `${s.upstream}:${s.nack.startSeq}`).sort()).toEqual(
      [`${A}:1`, `${B}:1`, `${A}:2`, `${B}:2`, `${C}:2`].sort(),
    );
    h.transport.assertNoPendingInterceptors();
  });

  it('ends as failed(exhausted) when every upstream misses, and stops at maxEndpoints', async () => {
    const h = harness({ upstreams: [A, B, C], maxEndpoints: 2 });
    h.transport.intercept('*').miss().persist();
    h.client.enqueue({ hashKey: 1n, startSeq: 9n });
    await h.client.onIdle();
    expect(h.transport.sent.map((s) => s.upstream)).toEqual([A, B]);
    expect(h.events.failed).toMatchObject([
      { hashKey: 1n, seq: 9n, reason: 'exhausted', attempts: 2 },
    ]);
    expect(h.recorder.failed).toEqual({ exhausted: 1 });
    expect(h.cache.stored).toHaveLength(0);
    expect(h.retransmitter.frames).toHaveLength(0);
  });

  it('holds the THROTTLED hint and asks the same upstream again, bounded', async () => {
    const h = harness({ upstreams: [A, B], maxThrottleRetries: 2 });
    h.transport.intercept(A, { seq: 1n }).throttle(5).times(2);
    h.transport.intercept(A, { seq: 1n }).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(h.transport.sent.map((s) => s.upstream)).toEqual([A, A, A]);
    expect(h.events.recovered[0]).toMatchObject({ upstream: A, attempts: 3 });
    expect(h.client.stats().throttleHolds).toBe(2);

    // Past the bound, the next upstream is asked.
    h.transport.intercept(A, { seq: 2n }).throttle(1).persist();
    h.transport.intercept(B, { seq: 2n }).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await h.client.onIdle();
    expect(h.transport.sentTo(A).filter((s) => s.nack.startSeq === 2n)).toHaveLength(3);
    expect(h.events.recovered[1]).toMatchObject({ seq: 2n, upstream: B });
  });

  it('waits out the hinted backoff before asking again', async () => {
    const h = harness({ upstreams: [A] });
    h.transport.intercept(A).throttle(60);
    h.transport.intercept(A).serve();
    const t0 = performance.now();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    expect(h.events.recovered).toHaveLength(1);
  });

  it('refuses a frame for another gap: never cached, never retransmitted', async () => {
    const h = harness({ upstreams: [A, B] });
    h.transport.intercept(A).wrongFrame();
    h.transport.intercept(B).serve();
    h.client.enqueue({ hashKey: 3n, startSeq: 3n });
    await h.client.onIdle();
    expect(h.cache.stored.map((s) => s.key)).toEqual([cacheKeyHex(3n, 3n)]);
    expect(h.retransmitter.frames.map((f) => f.seq)).toEqual([3n]);
    expect(h.client.stats().invalidFrames).toEqual({ 'wrong-gap': 1 });
  });

  it('a deduper claim that is lost ends the job as deduped without a fetch', async () => {
    const deduper = new RecordingDeduper();
    deduper.claim(cacheKeyHex(1n, 1n));
    const h = harness({ deduper, dedupWindowMs: 1234 });
    h.transport.intercept(A).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await h.client.onIdle();
    expect(deduper.claims).toEqual([
      { key: cacheKeyHex(1n, 1n), value: '1', ttlMs: 1234, won: false },
      { key: cacheKeyHex(1n, 2n), value: '1', ttlMs: 1234, won: true },
    ]);
    expect(h.events.deduped).toEqual([{ hashKey: 1n, seq: 1n, cause: 'claim-lost' }]);
    expect(h.transport.sent.map((s) => s.nack.startSeq)).toEqual([2n]);
    expect(h.recorder.inflightDedup).toBe(1);
  });

  it.each(['throw', 'reject', 'hang'] as const)(
    'a deduper that %ss is reported and the job proceeds',
    async (fault) => {
      const deduper = new RecordingDeduper();
      deduper.fault = fault;
      const h = harness({ deduper, componentTimeoutMs: 30 });
      h.transport.intercept(A).serve();
      h.client.enqueue({ hashKey: 1n, startSeq: 1n });
      await h.client.onIdle();
      expect(h.events.error).toMatchObject([
        { component: 'deduper', operation: 'setNX', hashKey: 1n, seq: 1n },
      ]);
      expect(h.events.recovered).toHaveLength(1);
    },
  );

  it.each(['throw', 'reject', 'hang'] as const)(
    'cache and retransmitter faults (%s) are reported and do not undo the recovery',
    async (fault) => {
      const h = harness({ componentTimeoutMs: 30 });
      h.cache.fault = fault;
      h.retransmitter.fault = fault;
      h.transport.intercept(A).serve();
      h.client.enqueue({ hashKey: 1n, startSeq: 1n });
      await h.client.onIdle();
      expect(h.events.error.map((e) => `${e.component}.${e.operation}`)).toEqual([
        'cache.store',
        'retransmitter.retransmit',
      ]);
      expect(h.events.recovered).toHaveLength(1);
      expect(h.client.stats().errors).toMatchObject({ cache: 1, retransmitter: 1 });
    },
  );

  it('a transport that rejects is reported and treated as a send error', async () => {
    const h = harness();
    h.transport.intercept(A).throws(new Error('boom'));
    h.transport.intercept(B).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(h.events.error).toMatchObject([
      { component: 'transport', operation: 'exchange', upstream: A },
    ]);
    expect(h.events.recovered[0]?.upstream).toBe(B);
  });

  it('a throwing recorder or event listener does not stop recovery', async () => {
    // Hooks are read when the client is constructed.
    const recorder = new RecordingRecorder();
    recorder.proxyRecovered = () => {
      throw new Error('metrics down');
    };
    const h = harness({ recorder });
    h.client.on('recovered', () => {
      throw new Error('listener bug');
    });
    h.transport.intercept(A).serve().times(2);
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await h.client.onIdle();
    expect(h.client.stats().recovered).toBe(2);
    expect(h.client.stats().errors).toMatchObject({ recorder: 2, listener: 2 });
  });
});

describe('enqueue', () => {
  it('refuses proxied gaps (one-hop bound) with a dropped event', () => {
    const h = harness();
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 1n, flags: FLAG_PROXIED })).toBe(false);
    expect(h.events.dropped).toMatchObject([{ reason: 'proxied' }]);
    expect(h.transport.sent).toHaveLength(0);
    expect(h.client.stats().dropped.proxied).toBe(1);
  });

  it.each([
    ['null', null, /must be an object/],
    ['a string hashKey', { hashKey: '1', startSeq: 1n }, /hashKey must be a uint64 bigint/],
    ['a negative seq', { hashKey: 1n, startSeq: -1n }, /startSeq/],
    ['a reversed range', { hashKey: 1n, startSeq: 5n, endSeq: 4n }, /below/],
    ['a short subtreeId', { hashKey: 1n, startSeq: 1n, subtreeId: new Uint8Array(3) }, /subtreeId/],
    ['a fractional flags', { hashKey: 1n, startSeq: 1n, flags: 1.5 }, /flags/],
  ])('refuses %s as invalid without throwing', (_n, gap, message) => {
    const h = harness();
    expect(h.client.enqueue(gap as never)).toBe(false);
    expect(h.events.dropped[0]?.reason).toBe('invalid');
    expect(h.events.dropped[0]?.message).toMatch(message);
    expect(h.recorder.dropped).toEqual({ invalid: 1 });
  });

  it('bounds the waiting queue and counts queue-full drops', async () => {
    const h = harness({ workers: 1, queueDepth: 2, upstreams: [A] });
    h.transport.intercept(A).serve().persist();
    const accepted = [1n, 2n, 3n, 4n, 5n].map((s) =>
      h.client.enqueue({ hashKey: 1n, startSeq: s }),
    );
    // one running, two waiting, two refused
    expect(accepted).toEqual([true, true, true, false, false]);
    expect(h.client.size).toBe(2);
    expect(h.client.pending).toBe(1);
    expect(h.recorder.queueDropped).toBe(2);
    await h.client.onIdle();
    const s = h.client.stats();
    expect(s).toMatchObject({ requests: 3, recovered: 3, dropped: { 'queue-full': 2 } });
    expectAccounting(s, h.events);
  });

  it('expands a range into one job per sequence number', async () => {
    const h = harness({ upstreams: [A] });
    h.transport.intercept(A).serve().persist();
    expect(h.client.enqueue({ hashKey: 2n, startSeq: 10n, endSeq: 14n })).toBe(true);
    await h.client.onIdle();
    expect(h.transport.sent.map((s) => [s.nack.startSeq, s.nack.endSeq])).toEqual([
      [10n, 10n],
      [11n, 11n],
      [12n, 12n],
      [13n, 13n],
      [14n, 14n],
    ]);
    expect(h.client.stats()).toMatchObject({ requests: 5, recovered: 5 });
  });

  it('refuses ranges wider than maxRangeSpan, and ranges that do not fit the queue', () => {
    const h = harness({ maxRangeSpan: 8, queueDepth: 4, workers: 1 });
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 0n, endSeq: 8n })).toBe(false);
    expect(h.events.dropped[0]).toMatchObject({ reason: 'range-too-large' });
    expect(h.events.dropped[0]?.message).toMatch(/9 sequence numbers exceeds maxRangeSpan 8/);
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 0n, endSeq: 5n })).toBe(false);
    expect(h.events.dropped[1]).toMatchObject({ reason: 'queue-full' });
    expect(h.client.stats().requests).toBe(0);
  });
});

describe('close', () => {
  it('aborts in-flight attempts, ends queued gaps as failed(aborted) and refuses new ones', async () => {
    const h = harness({ workers: 1, upstreams: [A], timeoutMs: 60_000, gapDeadlineMs: 60_000 });
    h.transport.intercept(A).silent().persist();
    for (let s = 1n; s <= 3n; s++) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await new Promise((r) => setTimeout(r, 5));
    await h.client.close();
    expect(h.events.failed.map((f) => [f.seq, f.reason])).toEqual(
      expect.arrayContaining([
        [1n, 'aborted'],
        [2n, 'aborted'],
        [3n, 'aborted'],
      ]),
    );
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 9n })).toBe(false);
    expect(h.events.dropped.at(-1)?.reason).toBe('closed');
    expectAccounting(h.client.stats(), h.events);
  });

  it('with drain, finishes queued work first', async () => {
    const h = harness({ workers: 1, upstreams: [A] });
    h.transport.intercept(A).serve().delay(5).persist();
    for (let s = 1n; s <= 3n; s++) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await h.client.close({ drain: true });
    expect(h.client.stats().recovered).toBe(3);
    expect(h.client.closed).toBe(true);
  });
});

describe('queueDepth 0', () => {
  it('still hands gaps to idle workers; only waiting is refused', async () => {
    const h = harness({ workers: 2, queueDepth: 0, upstreams: [A] });
    h.transport.intercept(A).serve().delay(5).persist();
    const accepted = [1n, 2n, 3n].map((s) => h.client.enqueue({ hashKey: 1n, startSeq: s }));
    expect(accepted).toEqual([true, true, false]);
    await h.client.onIdle();
    expect(h.client.stats()).toMatchObject({ recovered: 2, dropped: { 'queue-full': 1 } });
  });
});

describe('queue-depth gauge', () => {
  it('follows the queue down as workers take jobs, ending at 0', async () => {
    const h = harness({ workers: 1, upstreams: [A] });
    h.transport.intercept(A).serve().delay(2).persist();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n, endSeq: 4n });
    await h.client.onIdle();
    expect(h.recorder.queueDepths.at(-1)).toBe(0);
    expect(Math.max(...h.recorder.queueDepths)).toBe(4);
    expect(h.recorder.queueDepths).toContain(2);
  });
});
