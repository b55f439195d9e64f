/**
 * close() under load, with components that hang, and concurrent calls: it resolves
 * promptly, every accepted gap still ends in exactly one outcome, nothing is accepted
 * afterwards, and no socket or timer is left open. (UdpTransport.close() during socket
 * set-up: test/transport/shutdown.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { UdpTransport, type ProxyClient } from '../../src/index.js';
import {
  RecordingDeduper,
  UpstreamEmulator,
  type RetryEndpointOptions,
} from '../../src/testing/index.js';
import { expectAccounting, type Events } from '../helpers/events.js';
import { A, harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { stillOpen } from '../helpers/ports.js';
import { waitFor, within } from '../helpers/wait.js';

const leaks = useLeakCheck();

/** Nothing queued or in flight, the accounting adds up, one outcome per sequence number. */
function outcomesAddUp(h: { client: ProxyClient; events: Events }): void {
  const s = h.client.stats();
  expect({ queued: s.queued, inFlight: s.inFlight }).toEqual({ queued: 0, inFlight: 0 });
  expectAccounting(s, h.events);
  // Exactly one outcome per accepted sequence number.
  const seen = new Map<string, number>();
  for (const e of [...h.events.recovered, ...h.events.failed, ...h.events.deduped]) {
    const k = `${e.hashKey}:${e.seq}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  expect([...seen].filter(([, n]) => n !== 1)).toEqual([]);
}

/** `retryEndpoint` settings shared by the emulators (the server's defaults unless given). */
async function emulators(retryEndpoint: RetryEndpointOptions = {}): Promise<{
  fast: UpstreamEmulator;
  slow: UpstreamEmulator;
  silent: UpstreamEmulator;
}> {
  const fast = leaks.closeAfter(await UpstreamEmulator.start({ host: '::1', retryEndpoint }));
  const slow = leaks.closeAfter(
    await UpstreamEmulator.start({
      host: '127.0.0.1',
      behaviour: { delayMs: 20 },
      retryEndpoint,
    }),
  );
  const silent = leaks.closeAfter(
    await UpstreamEmulator.start({ host: '::1', behaviour: { mode: 'silent' } }),
  );
  for (const e of [fast, slow]) e.putRange(1n, 0n, 3999n);
  return { fast, slow, silent };
}

describe('close() during heavy load', () => {
  it('without drain: in-flight attempts abort, queued gaps fail as aborted, sockets close', async () => {
    const { fast, slow, silent } = await emulators();
    // The client owns its UdpTransport here, so close() must close its sockets too.
    const h = leaks.closeAfter(
      harness({
        transport: 'own',
        upstreams: [silent.endpoint, slow.endpoint, fast.endpoint],
        workers: 64,
        queueDepth: 4000,
        timeoutMs: 200,
      }),
    );
    let accepted = 0;
    for (let s = 0; s < 4000; s++)
      if (h.client.enqueue({ hashKey: 1n, startSeq: BigInt(s) })) accepted++;
    expect(accepted).toBe(4000);
    await waitFor(() => silent.stats().nacks >= 64, 'workers to be busy on the silent upstream');
    await within(h.client.close(), 'close() under load');
    outcomesAddUp(h);
    expect(h.client.stats().failed.aborted).toBeGreaterThan(0);
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 1n })).toBe(false);
    expect(h.events.dropped.at(-1)?.reason).toBe('closed');
    // Idle sockets are unref()ed, so the leak check after each test cannot see them: ask
    // the kernel whether any port the client sent from is still open.
    const from = [silent, slow, fast].flatMap((e) => e.received.map((r) => r.from));
    expect(from.length).toBeGreaterThanOrEqual(64);
    expect(await stillOpen(from)).toEqual([]);
  });

  it('with drain: every queued gap finishes first, nothing new is accepted', async () => {
    // 2000 gaps is a load test: paced at the default 90 NACKs/s (and within the server's
    // default limits) they would take 22 s and most would reach their deadline first.
    const { fast } = await emulators({ limits: false });
    const h = leaks.closeAfter(
      harness({
        transport: new UdpTransport(),
        upstreams: [fast.endpoint],
        workers: 8,
        queueDepth: 2000,
        nackRate: false,
      }),
    );
    for (let s = 0; s < 2000; s++) h.client.enqueue({ hashKey: 1n, startSeq: BigInt(s) });
    const closing = h.client.close({ drain: true });
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 3000n })).toBe(false);
    await within(closing, 'close({ drain: true })', 30_000);
    outcomesAddUp(h);
    expect(h.client.stats().recovered).toBe(2000);
    expect(h.cache.stored).toHaveLength(2000);
    expect(h.client.stats().dropped.closed).toBe(1);
  });

  it('while every component hangs: close() resolves within the component timeout', async () => {
    const deduper = new RecordingDeduper();
    const h = leaks.closeAfter(
      harness({ upstreams: [A], deduper, workers: 4, componentTimeoutMs: 100 }),
    );
    h.transport.intercept('*').serve().persist();
    h.cache.fault = 'hang';
    h.retransmitter.fault = 'hang';
    for (let s = 0; s < 50; s++) h.client.enqueue({ hashKey: 2n, startSeq: BigInt(s) });
    await waitFor(() => h.events.error.length >= 4, 'the hanging store calls to be reported');
    deduper.fault = 'hang';
    await within(h.client.close(), 'close() with hanging components');
    outcomesAddUp(h);
    expect(h.client.stats().failed.aborted).toBeGreaterThan(0);
  });

  it('concurrent and repeated close() calls share one shutdown', async () => {
    const h = harness({ upstreams: [A], timeoutMs: 10_000 });
    h.transport.intercept('*').silent().persist();
    for (let s = 0; s < 20; s++) h.client.enqueue({ hashKey: 3n, startSeq: BigInt(s) });
    const a = h.client.close();
    const b = h.client.close({ drain: true });
    expect(b).toBe(a);
    await within(Promise.all([a, b, h.client.close()]), 'repeated close()');
    outcomesAddUp(h);
    expect(h.client.stats().failed.aborted).toBe(20);
  });
});
