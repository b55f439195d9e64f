import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FLAG_PROXIED } from '../../src/index.js';
import { FakeTransport, RecordingDeduper, type Fault } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { A, B, harness } from '../helpers/harness.js';

type Op =
  | { t: 'enqueue'; hashKey: bigint; seq: bigint; span: bigint; kind: 'ok' | 'proxied' | 'invalid' }
  | { t: 'advance'; ms: number }
  | { t: 'script'; upstream: string; action: string; delay: number; times: number }
  | { t: 'fault'; component: 'cache' | 'retransmitter' | 'deduper'; fault: Fault }
  | { t: 'close'; drain: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('enqueue' as const),
      hashKey: fc.bigInt({ min: 0n, max: 2n }),
      seq: fc.bigInt({ min: 0n, max: 6n }),
      span: fc.bigInt({ min: 1n, max: 4n }),
      kind: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'proxied', 'invalid'),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 400 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('script' as const),
      upstream: fc.constantFrom(A, B),
      action: fc.constantFrom(
        'serve',
        'miss',
        'silent',
        'throttle',
        'error',
        'throws',
        'wrongFrame',
      ),
      delay: fc.integer({ min: 0, max: 300 }),
      times: fc.integer({ min: 1, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('fault' as const),
      component: fc.constantFrom('cache', 'retransmitter', 'deduper'),
      fault: fc.constantFrom<Fault>(undefined, undefined, 'throw', 'reject', 'hang'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), drain: fc.boolean() }) },
);

const config = fc.record({
  workers: fc.integer({ min: 1, max: 3 }),
  queueDepth: fc.integer({ min: 0, max: 5 }),
  timeoutMs: fc.integer({ min: 20, max: 200 }),
  hedgeAfterMs: fc.option(fc.integer({ min: 5, max: 100 }), { nil: undefined }),
  adaptiveTimeout: fc.boolean(),
  withDeduper: fc.boolean(),
  failureMemoryMs: fc.constantFrom(0, 300),
});

function script(t: FakeTransport, o: Extract<Op, { t: 'script' }>): void {
  const s = t.intercept(o.upstream).delay(o.delay).times(o.times);
  if (o.action === 'serve') s.serve();
  else if (o.action === 'miss') s.miss();
  else if (o.action === 'silent') s.silent();
  else if (o.action === 'throttle') s.throttle(50);
  else if (o.action === 'error') s.error('send');
  else if (o.action === 'throws') s.throws(new Error('transport bug'));
  else s.wrongFrame();
}

describe('accounting under random schedules (fast-check, fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: [
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'setImmediate',
        'clearImmediate',
        'Date',
        'performance',
      ],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('requests = recovered + failed + deduped once idle; every refused enqueue is one drop', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(op, { minLength: 1, maxLength: 40 }), async (cfg, ops) => {
        const transport = new FakeTransport({ unmatched: { kind: 'miss' } });
        const deduper = cfg.withDeduper ? new RecordingDeduper() : undefined;
        const h = harness({
          upstreams: [A, B],
          transport,
          deduper,
          workers: cfg.workers,
          queueDepth: cfg.queueDepth,
          timeoutMs: cfg.timeoutMs,
          hedgeAfterMs: cfg.hedgeAfterMs,
          adaptiveTimeout: cfg.adaptiveTimeout,
          failureMemoryMs: cfg.failureMemoryMs,
          maxRangeSpan: 3,
          componentTimeoutMs: 100,
          gapDeadlineMs: 2_000,
        });
        let refused = 0;
        let accepted = 0;
        let closing: Promise<void> | undefined;
        for (const o of ops) {
          if (o.t === 'enqueue') {
            const gap =
              o.kind === 'invalid'
                ? { hashKey: o.hashKey, startSeq: o.seq, endSeq: o.seq - 1n }
                : {
                    hashKey: o.hashKey,
                    startSeq: o.seq,
                    endSeq: o.seq + o.span - 1n,
                    flags: o.kind === 'proxied' ? FLAG_PROXIED : 0,
                  };
            if (h.client.enqueue(gap)) accepted++;
            else refused++;
          } else if (o.t === 'advance') await vi.advanceTimersByTimeAsync(o.ms);
          else if (o.t === 'script') script(transport, o);
          else if (o.t === 'fault') {
            if (o.component === 'cache') h.cache.fault = o.fault;
            else if (o.component === 'retransmitter') h.retransmitter.fault = o.fault;
            else if (deduper) deduper.fault = o.fault;
          } else closing ??= h.client.close({ drain: o.drain });
        }
        let closed = false;
        void (closing ?? h.client.close()).then(() => (closed = true));
        for (let i = 0; i < 200 && !closed; i++) await vi.advanceTimersByTimeAsync(500);
        expect(closed).toBe(true);
        const s = h.client.stats();
        expect(s.queued + s.inFlight).toBe(0);
        expect(s.droppedTotal).toBe(refused);
        expect(h.events.dropped).toHaveLength(refused);
        expectAccounting(s, h.events);
        expect(accepted === 0 ? s.requests === 0 : s.requests > 0).toBe(true);
        // Recorder hooks saw the same totals.
        expect(h.recorder.requests).toBe(s.requests);
        expect(h.recorder.recovered).toBe(s.recovered);
        expect(h.recorder.queueDropped).toBe(s.dropped['queue-full']);
        // Nothing but the requested gaps was ever retransmitted.
        expect(h.retransmitter.frames.length).toBeLessThanOrEqual(s.recovered);
      }),
      { numRuns: 150 },
    );
  });
});
