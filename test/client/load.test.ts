/**
 * Load: one million enqueues offered at ten times the client's capacity per turn of the
 * event loop, against a live loopback emulator. Memory stays bounded (the queue never
 * exceeds its depth), every refused enqueue is counted with its reason, and the accounting
 * adds up exactly across return values, stats, events and recorder hooks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_PROXIED, ProxyClient, type DropReason } from '../../src/index.js';
import {
  RecordingCache,
  RecordingRecorder,
  RecordingRetransmitter,
  UpstreamEmulator,
  buildFrame,
} from '../../src/testing/index.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { roomyTransport } from '../helpers/udp.js';
import { tick, within } from '../helpers/wait.js';

const TOTAL = 1_000_000;
const QUEUE_DEPTH = 1000;
const WORKERS = 8;
/** Offered per turn of the event loop: ten times what the client can hold. */
const BURST = 10 * (QUEUE_DEPTH + WORKERS);
/** Sequence numbers cycle through this space; every fourth one is missing upstream. */
const SEQ_SPACE = 16_384;
const H = 0x10adn;

describe('one million enqueues at ten times capacity', () => {
  const leaks = useLeakCheck();
  let emu: UpstreamEmulator;

  beforeAll(async () => {
    // A load test measures the client, not an upstream's rate limits: the emulator's limits
    // and the client's pacing are off (with them, most gaps would wait out their deadline).
    emu = leaks.closeAfter(
      await UpstreamEmulator.start({
        host: '::1',
        recordLimit: 1000,
        retryEndpoint: { limits: false },
      }),
    );
    for (let s = 0; s < SEQ_SPACE; s++) {
      if (s % 4 !== 3) emu.put(buildFrame({ hashKey: H, seq: BigInt(s) }));
    }
  });

  it('stays bounded, counts every drop by reason, and adds up exactly', async () => {
    // Not the harness: its event arrays would hold a million events and blur the heap bound.
    const transport = roomyTransport();
    const cache = new RecordingCache();
    const recorder = new RecordingRecorder();
    const client = new ProxyClient({
      upstreams: [emu.endpoint],
      cache,
      retransmitter: new RecordingRetransmitter(),
      recorder,
      transport,
      workers: WORKERS,
      queueDepth: QUEUE_DEPTH,
      timeoutMs: 2000,
      nackRate: false,
    });
    const events = { recovered: 0, failed: 0, deduped: 0, error: 0 };
    const dropEvents: Record<string, number> = {};
    const recoveredBad: bigint[] = [];
    const failedBad: bigint[] = [];
    client.on('recovered', (e) => {
      events.recovered++;
      if (e.seq % 4n === 3n) recoveredBad.push(e.seq);
    });
    client.on('failed', (e) => {
      events.failed++;
      if (e.seq % 4n !== 3n) failedBad.push(e.seq);
    });
    client.on('deduped', () => events.deduped++);
    client.on('error', () => events.error++);
    client.on('dropped', (e) => {
      dropEvents[e.reason] = (dropEvents[e.reason] ?? 0) + 1;
    });

    const heapStart = process.memoryUsage().heapUsed;
    let heapMax = heapStart;
    let maxQueued = 0;
    let accepted = 0;
    let refused = 0;
    const offered: Record<'proxied' | 'invalid' | 'range-too-large', number> = {
      proxied: 0,
      invalid: 0,
      'range-too-large': 0,
    };
    for (let i = 0; i < TOTAL; i++) {
      let ok: boolean;
      const kind = i % 1000;
      if (kind === 999) {
        offered.proxied++;
        ok = client.enqueue({ hashKey: H, startSeq: BigInt(i % SEQ_SPACE), flags: FLAG_PROXIED });
      } else if (kind === 998) {
        offered.invalid++;
        ok = client.enqueue({ hashKey: -1n, startSeq: 0n });
      } else if (kind === 997) {
        offered['range-too-large']++;
        ok = client.enqueue({ hashKey: H, startSeq: 0n, endSeq: 100_000n });
      } else {
        ok = client.enqueue({ hashKey: H, startSeq: BigInt(i % SEQ_SPACE) });
      }
      if (ok) accepted++;
      else refused++;
      if (i % BURST === BURST - 1) {
        maxQueued = Math.max(maxQueued, client.size);
        heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
        await tick();
      }
    }
    maxQueued = Math.max(maxQueued, client.size);
    await within(client.onIdle(), 'the client to drain', 60_000);
    heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);

    const s = client.stats();
    // Bounded: the queue never held more than its depth, and the heap did not grow with
    // the number of enqueues (a million queued jobs alone would take hundreds of MB).
    expect(maxQueued).toBeLessThanOrEqual(QUEUE_DEPTH);
    expect(heapMax - heapStart).toBeLessThan(96 * 1024 * 1024);
    // Every enqueue either accepted one gap or was dropped with a reason.
    expect(accepted + refused).toBe(TOTAL);
    expect(s.requests).toBe(accepted);
    expect(s.droppedTotal).toBe(refused);
    expect(s.dropped).toEqual({
      'queue-full': refused - offered.proxied - offered.invalid - offered['range-too-large'],
      closed: 0,
      proxied: offered.proxied,
      invalid: offered.invalid,
      'range-too-large': offered['range-too-large'],
    });
    expect(s.dropped['queue-full']).toBeGreaterThan(TOTAL / 2);
    // Once idle: requests = recovered + failed + deduped, and events say the same.
    expect(s.queued + s.inFlight).toBe(0);
    expect(s.requests).toBe(s.recovered + s.failedTotal + s.dedupedTotal);
    expect(events).toEqual({
      recovered: s.recovered,
      failed: s.failedTotal,
      deduped: s.dedupedTotal,
      error: 0,
    });
    expect(dropEvents).toEqual(
      Object.fromEntries(Object.entries(s.dropped).filter(([, n]) => n > 0)) as Record<
        DropReason,
        number
      >,
    );
    // The recorder's hooks saw the same numbers.
    expect(recorder.requests).toBe(s.requests);
    expect(recorder.recovered).toBe(s.recovered);
    expect(recorder.inflightDedup).toBe(s.dedupedTotal);
    expect(recorder.queueDropped).toBe(s.dropped['queue-full']);
    expect(recorder.failed).toEqual(
      Object.fromEntries(Object.entries(s.failed).filter(([, n]) => n > 0)),
    );
    expect(recorder.dropped).toEqual(dropEvents);
    // Frames the upstream holds were recovered; those it lacks failed; nothing else cached.
    expect(s.recovered).toBeGreaterThan(0);
    expect(recoveredBad).toEqual([]);
    expect(failedBad).toEqual([]);
    expect(cache.stored).toHaveLength(s.recovered);
    expect(emu.received.every((r) => r.nack.flags === FLAG_PROXIED)).toBe(true);
    expect(s.errors).toEqual({
      cache: 0,
      deduper: 0,
      retransmitter: 0,
      recorder: 0,
      transport: 0,
      listener: 0,
    });

    await within(client.close(), 'close()');
    await transport.close();
    // Idle sockets are unref()ed and invisible to the leak check: count them.
    expect(transport.socketCount).toBe(0);
  });
});
