import { describe, expect, it } from 'vitest';
import { UpstreamEmulator } from '../../src/testing/index.js';
import { harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';

describe('dead first upstream over loopback UDP', () => {
  const leaks = useLeakCheck();

  // With hedging (the default) the live upstream is asked after half the timeout and its
  // frame wins, so the dead upstream's attempts are overtaken rather than timed out; three
  // overtakes demote it just as three timeouts do without hedging.
  it.each([
    {
      hedging: 'adaptive (default)',
      hedgeAfterMs: undefined,
      replies: { overtaken: 3, timeout: 0 },
    },
    { hedging: 'off', hedgeAfterMs: false as const, replies: { overtaken: 0, timeout: 3 } },
  ])(
    'hedging $hedging: after demotion, recoveries go straight to the live upstream and never wait for the timeout',
    async ({ hedgeAfterMs, replies }) => {
      const dead = leaks.closeAfter(
        await UpstreamEmulator.start({ behaviour: { mode: 'silent' } }),
      );
      const live = leaks.closeAfter(await UpstreamEmulator.start());
      live.putRange(9n, 1n, 30n);
      const { client, events } = leaks.closeAfter(
        harness({
          transport: 'own',
          upstreams: [dead.endpoint, live.endpoint],
          // One gap at a time; a hedge takes a spare worker, and each overtaken attempt holds
          // its own until its timeout: four leave one spare however late the timers fire.
          workers: 4,
          timeoutMs: 80,
          // The floor of the adaptive hedge delay: the live upstream answers in well under a
          // millisecond, but a stall of the test machine must not pass for a slow reply.
          minTimeoutMs: 60,
          demoteAfter: 3,
          demoteCooldownMs: 60_000,
          ...(hedgeAfterMs === undefined ? {} : { hedgeAfterMs }),
        }),
      );
      const recovered = events.recovered;
      for (let seq = 1n; seq <= 30n; seq++) {
        client.enqueue({ hashKey: 9n, startSeq: seq });
        await client.onIdle();
      }
      expect(recovered).toHaveLength(30);
      expect(dead.stats().nacks).toBe(3);
      const bySeq = [...recovered].sort((a, b) => Number(a.seq - b.seq));
      expect(bySeq.slice(0, 3).map((e) => e.attempts)).toEqual([2, 2, 2]);
      expect(bySeq.slice(0, 3).every((e) => e.upstream === live.endpoint)).toBe(true);
      expect(bySeq.slice(0, 3).every((e) => e.hedged === (hedgeAfterMs === undefined))).toBe(true);
      expect(bySeq.slice(3).every((e) => e.attempts === 1 && e.upstream === live.endpoint)).toBe(
        true,
      );
      const [deadStats, liveStats] = client.stats().upstreams;
      expect(deadStats).toMatchObject({ state: 'demoted', demotions: 1, replies });
      expect(liveStats).toMatchObject({ state: 'healthy', replies: { frame: 30, timeout: 0 } });
    },
  );
});
