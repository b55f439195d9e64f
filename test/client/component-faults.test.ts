/**
 * Injected components that misbehave in ways a plain try/catch does not cover: values that
 * cannot be turned into strings, recorders built as strict Proxies, transports that never
 * settle. Each case reproduces a reported failure; the client must report the fault and keep
 * every gap's accounting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ComponentError, MemoryDeduper, type Recorder } from '../../src/index.js';
import { cacheKeyHex } from '../../src/wire/index.js';
import { FakeTransport, RecordingDeduper } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { A, harness } from '../helpers/harness.js';
import { activeTimers } from '../helpers/leaks.js';

/** Values whose conversion to a string throws. */
const unprintable = (): unknown[] => [
  Object.create(null) as object,
  {
    toString() {
      throw new Error('no string for you');
    },
  },
];

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on('unhandledRejection', onUnhandled);
afterEach(() => {
  expect(unhandled.splice(0)).toEqual([]);
});

describe('faults that cannot be printed', () => {
  it.each(unprintable())(
    'a recorder hook throwing %o: reported, the gap recovers',
    async (thrown) => {
      const recorder: Recorder = {
        proxyRequest() {
          throw thrown;
        },
        recoveryLatency() {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point of the test
          return Promise.reject(thrown) as unknown as void; // an async hook that rejects
        },
      };
      const h = harness({ upstreams: [A], recorder });
      h.transport.intercept(A).serve();
      expect(() => h.client.enqueue({ hashKey: 1n, startSeq: 1n })).not.toThrow();
      await h.client.onIdle();
      await new Promise((r) => setImmediate(r));
      expect(h.retransmitter.frames).toHaveLength(1);
      expect(h.client.stats().errors.recorder).toBe(2);
      expect(h.events.error.map((e) => e.operation).sort()).toEqual([
        'proxyRequest',
        'recoveryLatency',
      ]);
      for (const e of h.events.error) {
        expect(e).toBeInstanceOf(ComponentError);
        expect(e.message).toMatch(/^recorder\.\w+ failed: non-Error thrown/);
      }
    },
  );

  it.each(unprintable())(
    'cache.store and deduper.setNX throwing %o: reported, the gap recovers',
    async (thrown) => {
      const deduper = {
        setNX(): boolean {
          throw thrown;
        },
      };
      const h = harness({ upstreams: [A], deduper });
      h.cache.store = () => {
        throw thrown;
      };
      h.transport.intercept(A).serve();
      h.client.enqueue({ hashKey: 1n, startSeq: 1n });
      await h.client.onIdle();
      expect(h.retransmitter.frames).toHaveLength(1);
      expect(h.events.recovered).toHaveLength(1);
      expect(h.events.error.map((e) => `${e.component}.${e.operation}`)).toEqual([
        'deduper.setNX',
        'cache.store',
      ]);
    },
  );

  it.each(unprintable())(
    'a dropped listener throwing %o: enqueue still returns false',
    (thrown) => {
      const h = harness({ upstreams: [A] });
      h.client.on('dropped', () => {
        throw thrown;
      });
      expect(h.client.enqueue({ hashKey: -1n, startSeq: 1n })).toBe(false);
      expect(h.client.stats()).toMatchObject({ droppedTotal: 1, errors: { listener: 1 } });
    },
  );
});

describe('a recorder built as a strict Proxy (throws for hooks it lacks)', () => {
  it('never wedges the client: every gap gets its outcome and onIdle resolves', async () => {
    const hooks: Recorder = { proxyRecovered() {}, proxyQueueDropped() {} };
    const strict = new Proxy(hooks, {
      get(target, name) {
        if (!(name in target)) throw new Error(`no hook ${String(name)}`);
        return Reflect.get(target, name) as unknown;
      },
    });
    const h = harness({ upstreams: [A], recorder: strict, workers: 1, queueDepth: 1 });
    h.transport.intercept(A).serve().delay(5).persist();
    const accepted = [1n, 2n, 3n, 4n, 5n].map((s) =>
      h.client.enqueue({ hashKey: 1n, startSeq: s }),
    );
    expect(accepted).toEqual([true, true, false, false, false]);
    await h.client.onIdle();
    expect(h.client.stats()).toMatchObject({ recovered: 2, droppedTotal: 3 });
    expectAccounting(h.client.stats(), h.events);
  });
});

describe('close() with a host transport that never settles', () => {
  it('leaves no timer behind once it resolves', async () => {
    const before = activeTimers();
    const h = harness({
      upstreams: [A],
      transport: { exchange: () => new Promise<never>(() => {}) },
      timeoutMs: 8000,
    });
    for (let s = 1n; s <= 3n; s++) h.client.enqueue({ hashKey: 1n, startSeq: s });
    expect(activeTimers()).toBeGreaterThan(before);
    await h.client.close();
    expect(h.events.failed.map((e) => e.reason)).toEqual(['aborted', 'aborted', 'aborted']);
    expect(activeTimers()).toBe(before);
  });
});

describe('the dedup claim of a gap that failed', () => {
  it('is released, so failureMemoryMs (not the 60 s dedup window) decides when it is retried', async () => {
    const deduper = new RecordingDeduper();
    const h = harness({ upstreams: [A], deduper, failureMemoryMs: 50 });
    h.transport.intercept(A).miss();
    h.transport.intercept(A).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(h.events.failed).toMatchObject([{ reason: 'exhausted' }]);
    expect(deduper.released).toEqual([cacheKeyHex(1n, 1n)]);
    // Within failureMemoryMs: remembered locally, not fetched.
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(h.events.failed.map((f) => f.reason)).toEqual(['exhausted', 'recent-failure']);
    await new Promise((r) => setTimeout(r, 80));
    // After it: claimed afresh (the released claim does not block it) and recovered.
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(h.events.recovered).toHaveLength(1);
    expect(deduper.claims.map((c) => c.won)).toEqual([true, true]);
    expect(h.events.deduped).toEqual([]);
  });

  it('of a recovered gap stays for the window, so siblings do not fetch it again', async () => {
    const deduper = new MemoryDeduper();
    const transport = new FakeTransport();
    transport.intercept(A).serve();
    const h = harness({ upstreams: [A], deduper, transport });
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(deduper.setNX(Buffer.from(cacheKeyHex(1n, 1n), 'hex'), '1', 1000)).toBe(false);
  });
});
