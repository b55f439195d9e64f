/**
 * The socket bound seen from a ProxyClient: with 32 workers the client's UdpTransport holds
 * at most 2 × (32 + maxIdleSockets) sockets against silence, however many upstreams are
 * silent. The transport is wrapped only to sample `socketCount` at every exchange's start
 * and end (and on a 1 ms interval); it has default options, as the client's own would.
 * The transport promises 2 × (exchanges in flight + maxIdleSockets); the client keeps
 * exchanges in flight within `workers`, and the two make the bound.
 */
import { describe, expect, it } from 'vitest';
import { UdpTransport, type Transport } from '../../src/index.js';
import { UpstreamEmulator } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { harness, type ClientOptions } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { SocketPeak, silentUpstream } from '../helpers/sockets.js';

const leaks = useLeakCheck();
const H = 0x5eed_0000_0000_0c18n;
const WORKERS = 32;
const MAX_IDLE = 16; // the default
const GAPS = 400;

/** What the sampling wrapper saw. */
interface Sampled {
  transport: Transport;
  udp: UdpTransport;
  peak: SocketPeak;
  /** The most exchanges in flight at once. */
  maxInFlight: number;
  /** Samples where sockets exceeded 2 × (exchanges in flight + maxIdleSockets). */
  overInFlight: string[];
}

/** A default UdpTransport, sampled around every exchange. */
function sampled(): Sampled {
  const udp = leaks.closeAfter(new UdpTransport());
  let inFlight = 0;
  const out: Sampled = {
    udp,
    peak: leaks.closeAfter(new SocketPeak(udp)),
    maxInFlight: 0,
    overInFlight: [],
    transport: {
      selfTimed: true,
      exchange: (upstream, nack, options) => {
        // Counted from before the call until after the reply: never fewer than the transport's.
        inFlight++;
        out.maxInFlight = Math.max(out.maxInFlight, inFlight);
        check();
        const reply = udp.exchange(upstream, nack, options);
        check();
        return reply.then((r) => {
          check();
          inFlight--;
          return r;
        });
      },
      stats: () => udp.stats(),
    },
  };
  const check = (): void => {
    out.peak.sample();
    const n = udp.socketCount;
    if (n > 2 * (inFlight + MAX_IDLE)) out.overInFlight.push(`${n} sockets, ${inFlight} in flight`);
  };
  return out;
}

async function run(upstreams: string[], options: ClientOptions) {
  const s = sampled();
  const h = leaks.closeAfter(
    harness({ upstreams, workers: WORKERS, nackRate: false, ...options, transport: s.transport }),
  );
  for (let seq = 0n; seq < BigInt(GAPS); seq++) {
    expect(h.client.enqueue({ hashKey: H, startSeq: seq })).toBe(true);
  }
  await h.client.onIdle();
  const peak = s.peak.stop();
  const stats = h.client.stats();
  expectAccounting(stats, h.events);
  expect(stats.requests).toBe(GAPS);
  await h.client.close();
  await s.udp.close();
  expect(s.udp.socketCount).toBe(0);
  return { peak, stats, maxInFlight: s.maxInFlight, overInFlight: s.overInFlight };
}

describe('ProxyClient over UdpTransport: sockets bounded', () => {
  it('32 workers, 5 ms attempts, no hedging, against a silent upstream', async () => {
    const silent = leaks.closeAfter(await silentUpstream());
    const r = await run([silent.endpoint], { timeoutMs: 5, hedgeAfterMs: false });
    expect(r.stats.recovered + r.stats.failedTotal + r.stats.dedupedTotal).toBe(GAPS);
    expect(r.stats.recovered).toBe(0);
    expect(silent.received).toBeGreaterThan(0);
    expect(r.overInFlight).toEqual([]);
    expect(r.maxInFlight).toBeLessThanOrEqual(WORKERS);
    expect(r.peak).toBeLessThanOrEqual(2 * (WORKERS + MAX_IDLE));
  });

  it('32 workers, default hedging, 200 upstreams of which 185 are silent', async () => {
    const silent = await Promise.all(Array.from({ length: 185 }, () => silentUpstream()));
    for (const s of silent) leaks.closeAfter(s);
    const live = await Promise.all(
      Array.from({ length: 15 }, () =>
        UpstreamEmulator.start({ retryEndpoint: { limits: false } }),
      ),
    );
    for (const e of live) leaks.closeAfter(e).putRange(H, 0n, BigInt(GAPS - 1));
    // A live upstream after every 12 silent ones, so walks meet silence first.
    const upstreams: string[] = [];
    for (let i = 0, l = 0, s = 0; i < 200; i++) {
      upstreams.push(i % 13 === 12 && l < 15 ? live[l++]!.endpoint : silent[s++]!.endpoint);
    }
    const r = await run(upstreams, { timeoutMs: 50 });
    expect(r.stats.recovered).toBe(GAPS);
    // The transport's share of the bound: sockets within exchanges in flight + maxIdleSockets.
    expect(r.overInFlight).toEqual([]);
    // The client's share: exchanges in flight, hedges and overtaken attempts included,
    // within `workers` (a hedge takes only a spare worker).
    expect(r.maxInFlight, 'exchanges in flight exceeded workers').toBeLessThanOrEqual(WORKERS);
    expect(r.peak).toBeLessThanOrEqual(2 * (WORKERS + MAX_IDLE));
  });
});
