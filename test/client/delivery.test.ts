/**
 * Delivery modes (`delivery`): multicast, unicast to every requester, both, or cache-warm
 * only; one upstream NACK per lost frame whatever the mode, in one client and across two
 * clients sharing a deduper and a frame store.
 */
import { describe, expect, it } from 'vitest';
import { MemoryCache, MemoryDeduper, ProxyClient, cacheKey } from '../../src/index.js';
import { FakeTransport, RecordingRetransmitter } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { A, harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';

const leaks = useLeakCheck();
const R1 = { address: '127.0.0.1', port: 40001 };
const R2 = { address: '::1', port: 40002 };
const R3 = { address: '127.0.0.2', port: 40003 };

function client(delivery?: { multicast?: boolean; unicast?: boolean }) {
  const cache = new MemoryCache();
  const h = leaks.closeAfter(
    harness({ upstreams: [A], cache, ...(delivery === undefined ? {} : { delivery }) }),
  );
  h.transport.intercept(A).serve().persist();
  return { ...h, cache };
}

describe('delivery modes', () => {
  it.each([
    { name: 'default', delivery: undefined, multicast: 1, unicast: 0 },
    {
      name: 'unicast only',
      delivery: { multicast: false, unicast: true },
      multicast: 0,
      unicast: 1,
    },
    { name: 'both', delivery: { unicast: true }, multicast: 1, unicast: 1 },
    { name: 'neither (cache-warm)', delivery: { multicast: false }, multicast: 0, unicast: 0 },
  ])('$name: frames multicast $multicast, unicast $unicast; the cache is warmed', async (c) => {
    const h = client(c.delivery);
    h.client.enqueue({ hashKey: 5n, startSeq: 1n, requester: R1 });
    await h.client.onIdle();
    const stored = h.cache.retrieve(cacheKey(5n, 1n));
    expect(stored).toBeDefined();
    expect(h.retransmitter.frames).toHaveLength(c.multicast);
    expect(h.retransmitter.unicast).toHaveLength(c.unicast);
    for (const u of h.retransmitter.unicast) {
      expect(u.requester).toEqual(R1);
      expect(Buffer.from(u.frame).equals(Buffer.from(stored!))).toBe(true);
    }
    expect(h.client.stats()).toMatchObject({ recovered: 1, unicastDeliveries: c.unicast });
    expect(h.recorder.unicastRetransmits).toBe(c.unicast);
  });

  it('three requesters of one gap in flight: one upstream NACK, three unicast copies, one outcome', async () => {
    const h = client({ multicast: false, unicast: true });
    for (const requester of [R1, R2, R3, R1]) {
      h.client.enqueue({ hashKey: 5n, startSeq: 2n, requester });
    }
    await h.client.onIdle();
    expect(h.transport.sent).toHaveLength(1);
    expect(h.retransmitter.unicast.map((u) => u.requester)).toEqual([R1, R2, R3]);
    const s = h.client.stats();
    expect(s).toMatchObject({ requests: 4, recovered: 1, unicastDeliveries: 3 });
    expect(s.deduped.coalesced).toBe(3);
    expectAccounting(s, h.events);
  });

  it.each([
    [{ address: 'not-an-ip', port: 1 }, /requester.address/],
    [{ address: '127.0.0.1', port: 0 }, /requester.port/],
    [{ address: '127.0.0.1', port: 70_000 }, /requester.port/],
    ['127.0.0.1:5', /requester must be/],
  ])('a malformed requester %j is dropped as invalid, never thrown', (requester, message) => {
    const h = client({ unicast: true });
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 1n, requester } as never)).toBe(false);
    expect(h.events.dropped).toMatchObject([{ reason: 'invalid', message }]);
    expect(h.client.stats().dropped.invalid).toBe(1);
  });

  it('unicast delivery needs a retransmitter with retransmitUnicast', () => {
    expect(
      () =>
        new ProxyClient({
          upstreams: [A],
          cache: new MemoryCache(),
          retransmitter: { retransmit: () => undefined },
          delivery: { unicast: true },
        }),
    ).toThrow(/delivery.unicast needs a retransmitter with a retransmitUnicast/);
    expect(
      () =>
        new ProxyClient({
          upstreams: [A],
          cache: new MemoryCache(),
          retransmitter: new RecordingRetransmitter(),
          delivery: { unicst: true } as never,
        }),
    ).toThrow(/delivery.unicst is not an option/);
  });
});

describe('unicast across a fleet sharing a deduper and a frame store', () => {
  it('two clients asked for one gap: one upstream NACK, both requesters get the frame', async () => {
    const transport = leaks.closeAfter(new FakeTransport());
    transport.intercept(A).serve().delay(20).persist();
    const cache = new MemoryCache();
    const deduper = new MemoryDeduper();
    const make = () =>
      leaks.closeAfter(
        harness({
          upstreams: [A],
          cache,
          deduper,
          transport,
          delivery: { multicast: false, unicast: true },
        }),
      );
    const one = make();
    const two = make();
    one.client.enqueue({ hashKey: 9n, startSeq: 1n, requester: R1 });
    two.client.enqueue({ hashKey: 9n, startSeq: 1n, requester: R2 });
    await Promise.all([one.client.onIdle(), two.client.onIdle()]);
    expect(transport.sent).toHaveLength(1);
    expect(one.retransmitter.unicast.map((u) => u.requester)).toEqual([R1]);
    expect(two.retransmitter.unicast.map((u) => u.requester)).toEqual([R2]);
    expect(one.client.stats()).toMatchObject({ recovered: 1, unicastDeliveries: 1 });
    expect(two.client.stats()).toMatchObject({ unicastDeliveries: 1 });
    expect(two.client.stats().deduped['claim-lost']).toBe(1);
  });

  it('when the winner never stores the frame, the loser’s gap fails as deadline', async () => {
    const cache = new MemoryCache();
    const deduper = new MemoryDeduper();
    // Another relay holds the claim and never stores anything.
    deduper.setNX(cacheKey(9n, 2n), '1', 60_000);
    const h = leaks.closeAfter(
      harness({
        upstreams: [A],
        cache,
        deduper,
        gapDeadlineMs: 100,
        delivery: { multicast: false, unicast: true },
      }),
    );
    h.client.enqueue({ hashKey: 9n, startSeq: 2n, requester: R1 });
    await h.client.onIdle();
    expect(h.transport.sent).toHaveLength(0);
    expect(h.events.failed).toMatchObject([{ seq: 2n, reason: 'deadline', attempts: 0 }]);
    expect(h.retransmitter.unicast).toHaveLength(0);
  });
});
