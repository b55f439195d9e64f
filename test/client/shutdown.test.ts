/**
 * close() under load, with components that hang, and in the middle of socket set-up:
 * it resolves promptly, every accepted gap still ends in exactly one outcome, nothing is
 * accepted afterwards, and no socket or timer is left open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyClient, UdpTransport } from '../../src/index.js';
import {
  FakeTransport,
  RecordingCache,
  RecordingDeduper,
  RecordingRetransmitter,
  UpstreamEmulator,
  type RetryEndpointOptions,
} from '../../src/testing/index.js';
import { encodeNack } from '../../src/wire/nack.js';
import { collect, type Events } from '../helpers/rig.js';
import { openResources, settleLeaks, type ResourceCounts } from '../helpers/resources.js';
import { stillOpen } from '../helpers/ports.js';
import { waitFor, within } from '../helpers/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
let baseline: ResourceCounts = openResources();

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(await settleLeaks(baseline)).toEqual([]);
  baseline = openResources();
});

function outcomesAddUp(client: ProxyClient, events: Events): void {
  const s = client.stats();
  expect(s.queued).toBe(0);
  expect(s.inFlight).toBe(0);
  expect(s.requests).toBe(s.recovered + s.failedTotal + s.dedupedTotal);
  expect(events.recovered.length + events.failed.length + events.deduped.length).toBe(s.requests);
  expect(events.dropped).toHaveLength(s.droppedTotal);
  // Exactly one outcome per accepted sequence number.
  const seen = new Map<string, number>();
  for (const e of [...events.recovered, ...events.failed, ...events.deduped]) {
    const k = `${e.hashKey}:${e.seq}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
}

/** `retryEndpoint` settings shared by the emulators (the server's defaults unless given). */
async function emulators(retryEndpoint: RetryEndpointOptions = {}): Promise<{
  fast: UpstreamEmulator;
  slow: UpstreamEmulator;
  silent: UpstreamEmulator;
}> {
  const fast = await UpstreamEmulator.start({ host: '::1', retryEndpoint });
  const slow = await UpstreamEmulator.start({
    host: '127.0.0.1',
    behaviour: { delayMs: 20 },
    retryEndpoint,
  });
  const silent = await UpstreamEmulator.start({ host: '::1', behaviour: { mode: 'silent' } });
  cleanups.push(
    () => fast.close(),
    () => slow.close(),
    () => silent.close(),
  );
  for (const e of [fast, slow]) e.putRange(1n, 0n, 3999n);
  return { fast, slow, silent };
}

describe('close() during heavy load', () => {
  it('without drain: in-flight attempts abort, queued gaps fail as aborted, sockets close', async () => {
    const { fast, slow, silent } = await emulators();
    // The client owns its UdpTransport here, so close() must close its sockets too.
    const client = new ProxyClient({
      upstreams: [silent.endpoint, slow.endpoint, fast.endpoint],
      cache: new RecordingCache(),
      retransmitter: new RecordingRetransmitter(),
      workers: 64,
      queueDepth: 4000,
      timeoutMs: 200,
    });
    const events = collect(client);
    cleanups.push(() => client.close());
    let accepted = 0;
    for (let s = 0; s < 4000; s++)
      if (client.enqueue({ hashKey: 1n, startSeq: BigInt(s) })) accepted++;
    expect(accepted).toBe(4000);
    await waitFor(() => silent.stats().nacks >= 64, 'workers to be busy on the silent upstream');
    await within(client.close(), 'close() under load');
    outcomesAddUp(client, events);
    expect(client.stats().failed.aborted).toBeGreaterThan(0);
    expect(client.enqueue({ hashKey: 1n, startSeq: 1n })).toBe(false);
    expect(events.dropped.at(-1)?.reason).toBe('closed');
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
    const transport = new UdpTransport();
    cleanups.push(() => transport.close());
    const cache = new RecordingCache();
    const client = new ProxyClient({
      upstreams: [fast.endpoint],
      cache,
      retransmitter: new RecordingRetransmitter(),
      transport,
      workers: 8,
      queueDepth: 2000,
      nackRate: false,
    });
    const events = collect(client);
    cleanups.push(() => client.close());
    for (let s = 0; s < 2000; s++) client.enqueue({ hashKey: 1n, startSeq: BigInt(s) });
    const closing = client.close({ drain: true });
    expect(client.enqueue({ hashKey: 1n, startSeq: 3000n })).toBe(false);
    await within(closing, 'close({ drain: true })', 30_000);
    outcomesAddUp(client, events);
    expect(client.stats().recovered).toBe(2000);
    expect(cache.stored).toHaveLength(2000);
    expect(client.stats().dropped.closed).toBe(1);
  });

  it('while every component hangs: close() resolves within the component timeout', async () => {
    const transport = new FakeTransport();
    transport.intercept('*').serve().persist();
    const cache = new RecordingCache();
    const retransmitter = new RecordingRetransmitter();
    const deduper = new RecordingDeduper();
    cache.fault = 'hang';
    retransmitter.fault = 'hang';
    const client = new ProxyClient({
      upstreams: ['[::1]:9301'],
      cache,
      retransmitter,
      deduper,
      transport,
      workers: 4,
      componentTimeoutMs: 100,
    });
    const events = collect(client);
    cleanups.push(() => client.close());
    for (let s = 0; s < 50; s++) client.enqueue({ hashKey: 2n, startSeq: BigInt(s) });
    await waitFor(() => events.error.length >= 4, 'the hanging store calls to be reported');
    deduper.fault = 'hang';
    await within(client.close(), 'close() with hanging components');
    outcomesAddUp(client, events);
    expect(client.stats().failed.aborted).toBeGreaterThan(0);
  });

  it('concurrent and repeated close() calls share one shutdown', async () => {
    const transport = new FakeTransport();
    transport.intercept('*').silent().persist();
    const client = new ProxyClient({
      upstreams: ['[::1]:9301'],
      cache: new RecordingCache(),
      retransmitter: new RecordingRetransmitter(),
      transport,
      timeoutMs: 10_000,
    });
    const events = collect(client);
    for (let s = 0; s < 20; s++) client.enqueue({ hashKey: 3n, startSeq: BigInt(s) });
    const a = client.close();
    const b = client.close({ drain: true });
    expect(b).toBe(a);
    await within(Promise.all([a, b, client.close()]), 'repeated close()');
    outcomesAddUp(client, events);
    expect(client.stats().failed.aborted).toBe(20);
  });
});

describe('UdpTransport.close() during socket set-up and lookups', () => {
  const nack = encodeNack({ hashKey: 1n, startSeq: 1n, flags: 1 });
  const opts = { timeoutMs: 5000, hashKey: 1n, seq: 1n };

  it('close() right after exchange(): the socket being opened is closed too', async () => {
    const up = await UpstreamEmulator.start({ host: '::1', behaviour: { mode: 'silent' } });
    cleanups.push(() => up.close());
    const t = new UdpTransport();
    const replies = [t.exchange(up.endpoint, nack, opts), t.exchange('127.0.0.1:9', nack, opts)];
    await t.close();
    const got = await within(Promise.all(replies), 'exchanges after close()');
    for (const r of got) expect(r.kind).toBe('error');
    expect(t.socketCount).toBe(0);
  });

  it('close() while a lookup is pending: nothing is opened afterwards', async () => {
    let answer: ((v: { address: string; family: number }) => void) | undefined;
    const t = new UdpTransport({
      lookup: () =>
        new Promise((resolve) => {
          answer = resolve;
        }),
    });
    const reply = t.exchange('upstream.example:9', nack, opts);
    await waitFor(() => answer !== undefined, 'the lookup to start');
    await t.close();
    answer?.({ address: '::1', family: 6 });
    const r = await within(reply, 'exchange after close()');
    expect(r.kind).toBe('error');
    expect(t.socketCount).toBe(0);
  });

  it('a socket that cannot bind is closed, not leaked', async () => {
    // 192.0.2.1 (TEST-NET-1) is not an address of this host: bind fails.
    const t = new UdpTransport({ bindAddress: '192.0.2.1' });
    const r = await within(t.exchange('127.0.0.1:9', nack, opts), 'exchange with a bad bind');
    expect(r).toMatchObject({ kind: 'error' });
    expect(t.socketCount).toBe(0);
    await t.close();
  });

  it('a lookup that never answers is bounded by the attempt timeout', async () => {
    const t = new UdpTransport({ lookup: () => new Promise(() => undefined) });
    cleanups.push(() => t.close());
    const r = await within(
      t.exchange('upstream.example:9', nack, { ...opts, timeoutMs: 100 }),
      'an exchange whose lookup hangs',
      5000,
    );
    expect(r).toMatchObject({ kind: 'error', code: 'resolve' });
  });

  it('an abort during the lookup ends the exchange at once', async () => {
    const t = new UdpTransport({ lookup: () => new Promise(() => undefined) });
    cleanups.push(() => t.close());
    const ac = new AbortController();
    const reply = t.exchange('upstream.example:9', nack, {
      ...opts,
      timeoutMs: 60_000,
      signal: ac.signal,
    });
    ac.abort();
    const r = await within(reply, 'an aborted exchange', 5000);
    expect(r).toMatchObject({ kind: 'error', code: 'aborted' });
  });
});
