import { describe, expect, it } from 'vitest';
import { ProxyClient, type RecoveredEvent } from '../../src/index.js';
import {
  RecordingCache,
  RecordingRetransmitter,
  UpstreamEmulator,
} from '../../src/testing/index.js';

describe('dead first upstream over loopback UDP', () => {
  it('after demotion, recoveries go straight to the live upstream and never wait for the timeout', async () => {
    const dead = await UpstreamEmulator.start({ behaviour: { mode: 'silent' } });
    const live = await UpstreamEmulator.start();
    live.putRange(9n, 1n, 30n);
    const client = new ProxyClient({
      upstreams: [dead.endpoint, live.endpoint],
      cache: new RecordingCache(),
      retransmitter: new RecordingRetransmitter(),
      workers: 1,
      timeoutMs: 80,
      demoteAfter: 3,
      demoteCooldownMs: 60_000,
    });
    const recovered: RecoveredEvent[] = [];
    client.on('recovered', (e) => recovered.push(e));
    try {
      client.enqueue({ hashKey: 9n, startSeq: 1n, endSeq: 30n });
      await client.onIdle();
      expect(recovered).toHaveLength(30);
      expect(dead.stats().nacks).toBe(3);
      const bySeq = [...recovered].sort((a, b) => Number(a.seq - b.seq));
      expect(bySeq.slice(0, 3).map((e) => e.attempts)).toEqual([2, 2, 2]);
      expect(bySeq.slice(3).every((e) => e.attempts === 1 && e.upstream === live.endpoint)).toBe(
        true,
      );
      const [deadStats] = client.stats().upstreams;
      expect(deadStats).toMatchObject({ state: 'demoted', demotions: 1, replies: { timeout: 3 } });
    } finally {
      await client.close();
      await dead.close();
      await live.close();
    }
  });
});
