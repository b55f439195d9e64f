import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/index.js';
import {
  RecordingCache,
  RecordingDeduper,
  RecordingRecorder,
  RecordingRetransmitter,
  buildFrame,
} from '../../src/testing/index.js';

const KEY_HEX = '0000000000000001000000000000002a';

describe('RecordingCache', () => {
  it('records stores and serves the latest frame per key', () => {
    const cache = new RecordingCache();
    const a = buildFrame({ hashKey: 1n, seq: 42n });
    const b = buildFrame({ hashKey: 1n, seq: 42n, payload: Buffer.from('x') });
    void cache.store(cacheKey(1n, 42n), a, 1000);
    void cache.store(cacheKey(1n, 42n), b, 2000);
    expect(cache.stored.map((s) => [s.key, s.ttlMs])).toEqual([
      [KEY_HEX, 1000],
      [KEY_HEX, 2000],
    ]);
    expect(cache.retrieve(cacheKey(1n, 42n))).toBe(b);
    expect(cache.get(KEY_HEX)?.ttlMs).toBe(2000);
    expect(cache.retrieve(cacheKey(1n, 43n))).toBeUndefined();
  });

  it('throws, rejects or hangs on demand without recording', async () => {
    const cache = new RecordingCache();
    const frame = buildFrame({ hashKey: 1n, seq: 1n });
    cache.fault = 'throw';
    expect(() => cache.store(cacheKey(1n, 1n), frame, 1)).toThrow(/injected throw/);
    cache.fault = 'reject';
    await expect(cache.store(cacheKey(1n, 1n), frame, 1)).rejects.toThrow(/injected rejection/);
    cache.fault = 'hang';
    const hung = cache.store(cacheKey(1n, 1n), frame, 1);
    const outcome = await Promise.race([hung, new Promise((r) => setTimeout(r, 20, 'pending'))]);
    expect(outcome).toBe('pending');
    expect(cache.stored).toHaveLength(0);
  });
});

describe('RecordingRetransmitter', () => {
  it('records the frame, a copy of the txId and the gap it carries', () => {
    const rt = new RecordingRetransmitter();
    const frame = buildFrame({ hashKey: 9n, seq: 8n });
    const txId = frame.subarray(8, 40);
    void rt.retransmit(frame, txId);
    frame.fill(0, 8, 40);
    expect(rt.frames).toHaveLength(1);
    expect(rt.frames[0]).toMatchObject({ hashKey: 9n, seq: 8n, frame });
    expect(rt.frames[0]?.txId.some((b) => b !== 0)).toBe(true);
  });

  it('fails on demand', async () => {
    const rt = new RecordingRetransmitter();
    rt.fault = 'reject';
    await expect(
      rt.retransmit(buildFrame({ hashKey: 1n, seq: 1n }), new Uint8Array(32)),
    ).rejects.toThrow();
    expect(rt.frames).toHaveLength(0);
  });
});

describe('RecordingDeduper', () => {
  it('grants a claim once until the window expires', () => {
    const d = new RecordingDeduper();
    const key = cacheKey(1n, 42n);
    expect(d.setNX(key, '1', 60_000)).toBe(true);
    expect(d.setNX(key, '1', 60_000)).toBe(false);
    d.expire();
    expect(d.setNX(key, '1', 60_000)).toBe(true);
    expect(d.claims.map((c) => c.won)).toEqual([true, false, true]);
    expect(d.claims[0]).toEqual({ key: KEY_HEX, value: '1', ttlMs: 60_000, won: true });
  });

  it('treats a claim made elsewhere as lost', () => {
    const d = new RecordingDeduper();
    d.claim(KEY_HEX);
    expect(d.setNX(cacheKey(1n, 42n), '1', 1)).toBe(false);
  });

  it('fails on demand', () => {
    const d = new RecordingDeduper();
    d.fault = 'throw';
    expect(() => d.setNX(cacheKey(1n, 1n), '1', 1)).toThrow();
  });
});

describe('RecordingRecorder', () => {
  it('counts every hook', () => {
    const r = new RecordingRecorder();
    r.proxyRequest();
    r.proxyRequest();
    r.proxyRecovered();
    r.proxyFailed('exhausted');
    r.proxyFailed('exhausted');
    r.proxyInflightDedup();
    r.proxyQueueDropped();
    r.proxyDropped('queue-full');
    r.recoveryLatency(12);
    r.queueDepth(3);
    r.upstreamReply('[::1]:1', 'miss');
    expect(r).toMatchObject({
      requests: 2,
      recovered: 1,
      failed: { exhausted: 2 },
      inflightDedup: 1,
      queueDropped: 1,
      dropped: { 'queue-full': 1 },
      latencies: [12],
      queueDepths: [3],
      replies: [{ upstream: '[::1]:1', kind: 'miss' }],
    });
  });
});
