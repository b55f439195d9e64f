import { afterEach, describe, expect, it } from 'vitest';
import { ProxyClient, FLAG_PROXIED, cacheKey } from '../../src/index.js';
import { UpstreamEmulator, RecordingCache, RecordingRetransmitter, buildFrame } from '../../src/testing/index.js';

describe('smoke', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  it('recovers over loopback', async () => {
    const up = await UpstreamEmulator.start({ frames: [buildFrame({ hashKey: 1n, seq: 5n })] });
    cleanups.push(() => up.close());
    const cache = new RecordingCache();
    const rt = new RecordingRetransmitter();
    const client = new ProxyClient({ upstreams: [up.endpoint], cache, retransmitter: rt });
    cleanups.push(() => client.close());
    expect(client.enqueue({ hashKey: 1n, startSeq: 5n })).toBe(true);
    await client.onIdle();
    expect(client.stats().recovered).toBe(1);
    expect(cache.stored[0]?.key).toBe(Buffer.from(cacheKey(1n, 5n)).toString('hex'));
    expect(rt.frames).toHaveLength(1);
    expect(up.received[0]?.nack.flags).toBe(FLAG_PROXIED);
  });
});
