/**
 * Fault injection: every injected component throwing, rejecting and hanging; transports
 * that break or answer nonsense; hostile gap objects. The client keeps serving, reports
 * each fault exactly once, and every gap still ends in exactly one outcome. (DNS failures
 * and ICMP port-unreachable, over real sockets: test/transport/faults.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Logger, Recorder, Transport } from '../../src/index.js';
import { FakeTransport, RecordingCache, RecordingDeduper } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { FaultyRecorder, FaultyTransport, type Mode } from '../helpers/faulty.js';
import { A, B, harness, type HarnessOptions } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { tick, within } from '../helpers/wait.js';

const MODES: Mode[] = ['throw', 'reject', 'hang'];

const leaks = useLeakCheck();

/**
 * A harness with a RecordingDeduper, short component timeouts and no failure memory, over
 * the given transport (a FakeTransport by default); closed after the test.
 */
function faultClient<T extends Transport = FakeTransport>(
  extra: HarnessOptions<T, RecordingCache, Recorder> = {},
) {
  const deduper = new RecordingDeduper();
  const h = harness<T, RecordingCache, Recorder>({
    deduper,
    componentTimeoutMs: 50,
    failureMemoryMs: 0,
    ...extra,
  });
  leaks.closeAfter(h);
  return { ...h, deduper };
}

/**
 * A {@link faultClient} whose FakeTransport serves everything, after the interceptors
 * `script` adds (the oldest matching interceptor wins).
 */
function fakeClient(
  extra: Omit<HarnessOptions<FakeTransport, RecordingCache, Recorder>, 'transport'> = {},
  script: (t: FakeTransport) => void = () => undefined,
) {
  const h = faultClient(extra);
  script(h.transport);
  h.transport.intercept('*').serve().persist();
  return h;
}

describe('cache, retransmitter and deduper that fail', () => {
  const cases = (['cache', 'retransmitter', 'deduper'] as const).flatMap((component) =>
    MODES.map((mode) => [component, mode] as const),
  );

  it.each(cases)(
    '%s that %ss: reported once per call, recovery goes on',
    async (component, mode) => {
      const h = fakeClient();
      const target =
        component === 'cache'
          ? h.cache
          : component === 'retransmitter'
            ? h.retransmitter
            : h.deduper;
      target.fault = mode;
      const n = 5;
      for (let s = 0; s < n; s++)
        expect(h.client.enqueue({ hashKey: 1n, startSeq: BigInt(s) })).toBe(true);
      await within(h.client.onIdle(), 'onIdle with a faulty component');
      let s = h.client.stats();
      expect(s.recovered).toBe(n);
      expect(s.errors[component]).toBe(n);
      expect(h.events.error).toHaveLength(n);
      const operation =
        component === 'cache' ? 'store' : component === 'retransmitter' ? 'retransmit' : 'setNX';
      for (const e of h.events.error) expect(e).toMatchObject({ component, operation });
      expect(new Set(h.events.error.map((e) => e.seq))).toEqual(new Set([0n, 1n, 2n, 3n, 4n]));
      // A failing cache does not stop the retransmit, and the other way round.
      if (component !== 'cache') expect(h.cache.stored).toHaveLength(n);
      if (component !== 'retransmitter') expect(h.retransmitter.frames).toHaveLength(n);
      // Healed: the next gaps go through and nothing more is reported.
      target.fault = undefined;
      for (let s2 = n; s2 < 2 * n; s2++) h.client.enqueue({ hashKey: 1n, startSeq: BigInt(s2) });
      await h.client.onIdle();
      s = h.client.stats();
      expect(s.recovered).toBe(2 * n);
      expect(s.errors[component]).toBe(n);
      expectAccounting(s, h.events);
    },
  );
});

describe('recorder that fails', () => {
  it.each(MODES)('every hook %ss: each call reported once, outcomes unchanged', async (mode) => {
    const recorder = new FaultyRecorder();
    const h = fakeClient({ recorder, queueDepth: 2, workers: 1 }, (t) =>
      t.intercept(A, { seq: 1n }).miss().persist(),
    );
    recorder.mode = mode;
    const accepted: boolean[] = [];
    for (let s = 0; s < 6; s++)
      accepted.push(h.client.enqueue({ hashKey: 1n, startSeq: BigInt(s) }));
    accepted.push(h.client.enqueue({ hashKey: 1n, startSeq: 0n, flags: 1 }));
    expect(accepted).toEqual([true, true, true, false, false, false, false]);
    await within(h.client.onIdle(), 'onIdle with a faulty recorder');
    for (let i = 0; i < 5; i++) await tick(); // rejections are reported asynchronously
    const s = h.client.stats();
    expect(s).toMatchObject({ requests: 3, recovered: 3, droppedTotal: 4 });
    expect(h.events.recovered.map((e) => e.seq).sort()).toEqual([0n, 1n, 2n]);
    const expected = mode === 'hang' ? 0 : recorder.faultyCalls;
    expect(recorder.faultyCalls).toBeGreaterThan(10);
    expect(s.errors.recorder).toBe(expected);
    expect(h.events.error.filter((e) => e.component === 'recorder')).toHaveLength(expected);
    expectAccounting(s, h.events);
  });
});

describe('transport that fails', () => {
  const cases: [string, Mode | 'garbage' | 'bad-frame'][] = [
    ['throws', 'throw'],
    ['rejects', 'reject'],
    ['hangs', 'hang'],
    ['resolves a value that is not a Reply', 'garbage'],
    ['resolves a frame that is not bytes', 'bad-frame'],
  ];

  it.each(cases)('first upstream %s: reported once, the next upstream serves', async (_, mode) => {
    const inner = new FakeTransport();
    inner.intercept(B).serve().persist();
    const transport = new FaultyTransport(inner, new Map([[A, mode]]));
    // Without hedging, so each fault is reported before its gap ends.
    const h = faultClient({
      transport,
      timeoutMs: 100,
      gapDeadlineMs: 10_000,
      hedgeAfterMs: false,
    });
    for (let s = 0; s < 3; s++) h.client.enqueue({ hashKey: 7n, startSeq: BigInt(s) });
    await within(h.client.onIdle(), 'onIdle with a faulty transport');
    const s = h.client.stats();
    expect(s).toMatchObject({ recovered: 3, failedTotal: 0 });
    expect(h.events.recovered.every((e) => e.upstream === B)).toBe(true);
    if (mode === 'bad-frame') {
      // Refused by the client's own check, never cached: an upstream problem, not a fault.
      expect(s.invalidFrames).toEqual({ malformed: 3 });
      expect(s.errors.transport).toBe(0);
    } else {
      expect(s.errors.transport).toBe(3);
      const faults = h.events.error.filter((e) => e.component === 'transport');
      expect(faults).toHaveLength(3);
      for (const f of faults) expect(f).toMatchObject({ operation: 'exchange', upstream: A });
    }
    expect(h.cache.stored).toHaveLength(3);
    expectAccounting(s, h.events);
  });
});

describe('event listeners and loggers that throw', () => {
  it('a throwing listener is counted; every gap still gets its outcome', async () => {
    const h = fakeClient({}, (t) => {
      t.intercept(A, { seq: 1n }).miss();
      t.intercept(B, { seq: 1n }).miss();
    });
    for (const name of ['recovered', 'failed', 'deduped', 'dropped', 'error'] as const) {
      h.client.on(name, () => {
        throw new Error(`listener of ${name}`);
      });
    }
    h.deduper.claim('00000000000000010000000000000002');
    h.retransmitter.fault = 'reject';
    for (let s = 0; s < 3; s++)
      expect(h.client.enqueue({ hashKey: 1n, startSeq: BigInt(s) })).toBe(true);
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 3n, flags: 1 })).toBe(false);
    await h.client.onIdle();
    const s = h.client.stats();
    expect(s).toMatchObject({
      requests: 3,
      recovered: 1,
      failedTotal: 1,
      dedupedTotal: 1,
      droppedTotal: 1,
    });
    // recovered, failed, deduped, dropped and error (the retransmit fault) listeners threw.
    expect(s.errors.listener).toBe(5);
    expect(s.errors.retransmitter).toBe(1);
  });

  it.each(['debug', 'info', 'warn', 'error'] as const)(
    'a logger whose %s throws breaks neither enqueue nor outcomes',
    async (level) => {
      const logger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
      logger[level] = () => {
        throw new Error(`logger.${level}`);
      };
      const h = fakeClient({ logger, queueDepth: 1, workers: 1 }, (t) => {
        t.intercept(A, { seq: 1n }).miss();
        t.intercept(B, { seq: 1n }).miss();
      });
      h.client.on('recovered', () => {
        throw new Error('listener');
      });
      h.cache.fault = 'throw';
      const results: boolean[] = [];
      for (let s = 0; s < 4; s++) {
        results.push(h.client.enqueue({ hashKey: 1n, startSeq: BigInt(s) }));
      }
      results.push(h.client.enqueue({ hashKey: 1n, startSeq: 9n, flags: 1 }));
      results.push(h.client.enqueue(null as never));
      expect(results).toEqual([true, true, false, false, false, false]);
      await within(h.client.onIdle(), 'onIdle with a throwing logger');
      const s = h.client.stats();
      expect(s).toMatchObject({
        requests: 2,
        recovered: 1,
        failed: { exhausted: 1 },
        droppedTotal: 4,
      });
      expect(s.errors.cache).toBe(1);
      expectAccounting(s, h.events);
      await within(h.client.close(), 'close with a throwing logger');
    },
  );
});

describe('hostile gap objects', () => {
  it('enqueue never throws, whatever it is given', () => {
    const h = fakeClient({ queueDepth: 100_000 });
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withTypedArray: true }), (v) => {
        const r = h.client.enqueue(v as never);
        expect(typeof r).toBe('boolean');
      }),
      { numRuns: 500 },
    );
    const s = h.client.stats();
    expect(s.requests + s.droppedTotal).toBeGreaterThan(0);
  });

  it('getters that throw or change their answer between reads', async () => {
    const h = fakeClient({ maxRangeSpan: 4 });
    let reads = 0;
    const shifty = {
      hashKey: 1n,
      get startSeq(): bigint {
        return reads++ === 0 ? 5n : -1n;
      },
    };
    const flipping = {
      hashKey: 1n,
      startSeq: 10n,
      get endSeq(): unknown {
        return reads++ % 2 === 0 ? 11n : 'eleven';
      },
    };
    const growing = {
      hashKey: 1n,
      startSeq: 20n,
      get endSeq(): bigint {
        return reads++ < 2 ? 21n : 20n + 1_000_000_000n;
      },
    };
    const proxiedLater = {
      hashKey: 1n,
      startSeq: 30n,
      get flags(): number {
        return reads++ < 1 ? 0 : 1;
      },
    };
    const throwing = {
      hashKey: 1n,
      get startSeq(): bigint {
        throw new Error('getter');
      },
    };
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error('proxy trap');
        },
        has() {
          throw new Error('proxy trap');
        },
      },
    );
    for (const gap of [shifty, flipping, growing, proxiedLater]) {
      reads = 0;
      expect(h.client.enqueue(gap as never)).toBe(true);
      // Each field is read once: what was validated is what is used.
      expect(reads).toBe(1);
    }
    for (const gap of [throwing, trap]) expect(h.client.enqueue(gap as never)).toBe(false);
    await h.client.onIdle();
    const s = h.client.stats();
    expectAccounting(s, h.events);
    expect(s.requests).toBe(1 + 2 + 2 + 1);
    expect(s.dropped.invalid).toBe(2);
    expect(h.transport.sent.map((n) => n.nack.startSeq).sort((x, y) => Number(x - y))).toEqual([
      5n,
      10n,
      11n,
      20n,
      21n,
      30n,
    ]);
    expect(h.transport.sent.every((n) => n.flags === 1)).toBe(true);
  });

  it('a SubtreeID changed by the host after enqueue does not change the NACK', async () => {
    const h = fakeClient({}, (t) => t.intercept('*').delay(20).serve().persist());
    const subtreeId = new Uint8Array(32).fill(7);
    h.client.enqueue({ hashKey: 1n, startSeq: 1n, subtreeId });
    subtreeId.fill(9);
    await h.client.onIdle();
    expect([...(h.transport.sent[0]?.nack.subtreeId ?? [])]).toEqual(new Array(32).fill(7));
  });
});
