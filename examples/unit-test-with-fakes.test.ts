/**
 * How a host tests its relay with the testing kit, without a network: the relay from
 * `examples/relay.ts` gets a FakeTransport (scripted upstreams) and recording fakes, and the
 * tests assert what a consumer and the domain would see. Fake timers make timeouts instant.
 *
 * In your project, import from 'nack-proxy' and 'nack-proxy/testing'.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FLAG_PROXIED,
  cacheKey,
  decodeResponse,
  encodeNack,
  type FailedEvent,
  type Nack,
} from '../src/index.js';
import {
  FakeTransport,
  RecordingCache,
  RecordingRecorder,
  RecordingRetransmitter,
  buildFrame,
} from '../src/testing/index.js';
import { Relay } from './relay.js';

const UP_A = '[2001:db8::10]:9300';
const UP_B = '[2001:db8::11]:9300';
const FLOW = 0x1234n;

/** What the relay sent back to one NACK, decoded: `ack:5`, `miss`, `frame:5`. */
async function nack(relay: Relay, gap: Omit<Nack, 'hashKey'>): Promise<string[]> {
  const replies: string[] = [];
  await relay.handleNack(encodeNack({ hashKey: FLOW, ...gap }), (bytes) => {
    if (bytes.length !== 16) replies.push(`frame:${Buffer.from(bytes).readBigUInt64BE(48)}`);
    else {
      const r = decodeResponse(bytes);
      replies.push(r.kind === 'miss' ? 'miss' : `${r.kind}:${r.seq}`);
    }
  });
  return replies;
}

describe('my relay, with scripted upstreams', () => {
  let transport: FakeTransport;
  let cache: RecordingCache;
  let domain: RecordingRetransmitter;
  let recorder: RecordingRecorder;
  let relay: Relay;

  beforeEach(() => {
    vi.useFakeTimers();
    transport = new FakeTransport();
    cache = new RecordingCache();
    domain = new RecordingRetransmitter();
    recorder = new RecordingRecorder();
    relay = new Relay({
      upstreams: [UP_A, UP_B],
      transport,
      cache,
      domain,
      client: { recorder, timeoutMs: 300 },
    });
  });

  afterEach(async () => {
    await relay.close();
    vi.useRealTimers();
  });

  /** Runs the relay's background recoveries to the end, advancing fake time as needed. */
  async function settle(): Promise<void> {
    const idle = relay.client.onIdle();
    await vi.runAllTimersAsync();
    await idle;
  }

  it('serves a frame it saw live from its cache, without asking upstreams', async () => {
    relay.ingest(buildFrame({ hashKey: FLOW, seq: 5n }));
    expect(await nack(relay, { startSeq: 5n })).toEqual(['ack:5', 'frame:5']);
    expect(transport.sent).toHaveLength(0);
  });

  it('answers MISS at once, then recovers from the next upstream when the first is silent', async () => {
    transport.intercept(UP_A).silent();
    transport.intercept(UP_B, { seq: 7n }).serve();

    expect(await nack(relay, { startSeq: 7n })).toEqual(['miss']);
    await settle();

    // Upstreams were asked in order, each with a proxied NACK.
    expect(transport.sent.map((s) => [s.upstream, s.flags])).toEqual([
      [UP_A, FLAG_PROXIED],
      [UP_B, FLAG_PROXIED],
    ]);
    // The frame went into the domain and into the cache, with the tx-class TTL.
    expect(domain.frames.map((f) => f.seq)).toEqual([7n]);
    expect(cache.get(Buffer.from(cacheKey(FLOW, 7n)).toString('hex'))?.ttlMs).toBe(60_000);
    // So the consumer's next NACK is served locally.
    expect(await nack(relay, { startSeq: 7n })).toEqual(['ack:7', 'frame:7']);
    transport.assertNoPendingInterceptors();
  });

  it('holds for a THROTTLED hint and asks the same upstream again', async () => {
    transport.intercept(UP_A).throttle(250);
    transport.intercept(UP_A).serve();
    await nack(relay, { startSeq: 8n });
    await settle();
    expect(transport.sent.map((s) => s.upstream)).toEqual([UP_A, UP_A]);
    expect(transport.sent[1]!.at - transport.sent[0]!.at).toBeGreaterThanOrEqual(250);
    expect(domain.frames).toHaveLength(1);
  });

  it('asks for each missing frame of a range NACK and serves the cached ones', async () => {
    relay.ingest(buildFrame({ hashKey: FLOW, seq: 11n }));
    transport.intercept('*').serve().persist();
    expect(await nack(relay, { startSeq: 10n, endSeq: 12n })).toEqual([
      'ack:11',
      'frame:11',
      'miss',
    ]);
    await settle();
    expect(transport.sent.map((s) => s.nack.startSeq).sort()).toEqual([10n, 12n]);
  });

  it('never proxies a proxied NACK (a chain is at most one hop)', async () => {
    expect(await nack(relay, { startSeq: 9n, flags: FLAG_PROXIED })).toEqual(['miss']);
    expect(transport.sent).toHaveLength(0);
  });

  it('counts and ignores a datagram that is not a NACK', async () => {
    const replies: Uint8Array[] = [];
    const stray = Buffer.from('not a NACK at all');
    expect(await relay.handleNack(stray, (bytes) => replies.push(bytes))).toBe('malformed');
    expect(relay.counts.malformedNacks).toBe(1);
    expect(replies).toEqual([]);
    expect(transport.sent).toHaveLength(0);
  });

  it('reports a frame no upstream has as failed', async () => {
    transport.intercept('*').miss().persist();
    const failed: FailedEvent[] = [];
    relay.client.on('failed', (e) => failed.push(e));
    await nack(relay, { startSeq: 3n });
    await settle();
    expect(failed).toMatchObject([{ seq: 3n, reason: 'exhausted', attempts: 2 }]);
    expect(recorder.failed).toEqual({ exhausted: 1 });
    expect(domain.frames).toHaveLength(0);
  });

  it('still retransmits when re-caching fails, and reports the fault', async () => {
    transport.intercept(UP_A).serve();
    cache.fault = 'reject';
    const errors: string[] = [];
    relay.client.on('error', (e) => errors.push(`${e.component}.${e.operation}`));
    await nack(relay, { startSeq: 4n });
    await settle();
    expect(errors).toEqual(['cache.store']);
    expect(domain.frames.map((f) => f.seq)).toEqual([4n]);
  });
});
