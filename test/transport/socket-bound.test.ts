/**
 * UdpTransport keeps its sockets bounded however many attempts time out and however many
 * upstreams are configured: at most 2 × (exchanges in flight + maxIdleSockets), the
 * resting connections counted across every upstream. Real UDP on loopback; `socketCount`
 * is sampled at every exchange's start and end and on a 1 ms interval.
 */
import { describe, expect, it } from 'vitest';
import { FLAG_PROXIED, UdpTransport, type Reply } from '../../src/index.js';
import { UpstreamEmulator } from '../../src/testing/index.js';
import { encodeNack } from '../../src/wire/nack.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { isPortClosed } from '../helpers/ports.js';
import { SocketPeak, pooled, silentUpstream } from '../helpers/sockets.js';
import { waitFor } from '../helpers/wait.js';

const leaks = useLeakCheck();
const H = 0x5eed_0000_0000_0018n;
const MAX_IDLE = 16; // the default

/** One exchange for (H, seq) with `upstream`, sampling the socket count around it. */
async function ask(
  t: UdpTransport,
  peak: SocketPeak,
  upstream: string,
  seq: bigint,
  timeoutMs: number,
): Promise<Reply> {
  peak.sample();
  const nack = encodeNack({ hashKey: H, startSeq: seq, flags: FLAG_PROXIED });
  const reply = t.exchange(upstream, nack, { timeoutMs, hashKey: H, seq });
  peak.sample(); // the line is open or being opened: both count
  const r = await reply;
  peak.sample();
  return r;
}

describe('UdpTransport sockets stay bounded', () => {
  it('against a silent upstream: 400 exchanges, 32 at a time, 5 ms timeouts', async () => {
    const silent = leaks.closeAfter(await silentUpstream());
    const t = leaks.closeAfter(new UdpTransport());
    const peak = leaks.closeAfter(new SocketPeak(t));
    const kinds: string[] = [];
    await pooled(400, 32, async (i) => {
      kinds.push((await ask(t, peak, silent.endpoint, BigInt(i), 5)).kind);
    });
    const top = peak.stop();
    console.log('FIG', top);
    console.log('PEAK', top, peak.samples);
    expect(kinds).toEqual(Array(400).fill('timeout'));
    await waitFor(() => silent.received === 400, 'every NACK to arrive');
    expect(top).toBeLessThanOrEqual(2 * (32 + MAX_IDLE));
    // Every exchange had a line of its own: the bound was reached, not avoided.
    expect(top).toBeGreaterThanOrEqual(2 * 32);
    // Timed-out lines past the bound were closed, so most NACKs left from fresh ports.
    expect(silent.ports.size).toBeGreaterThan(400 - 32 - MAX_IDLE);
    expect(t.socketCount).toBeLessThanOrEqual(2 * MAX_IDLE);
    await t.close();
    expect(t.socketCount).toBe(0);
  });

  it('with 200 upstreams of which 185 are silent: the bound holds and the live ones answer', async () => {
    const live = await Promise.all(
      Array.from({ length: 15 }, () =>
        UpstreamEmulator.start({ retryEndpoint: { limits: false } }),
      ),
    );
    for (const e of live) leaks.closeAfter(e).putRange(H, 0n, 999n);
    const silent = await Promise.all(Array.from({ length: 185 }, () => silentUpstream()));
    for (const s of silent) leaks.closeAfter(s);
    // Every 40th upstream is live (the first one of each block of 13 or 14).
    const upstreams: { endpoint: string; live: boolean }[] = [];
    for (let i = 0, l = 0, s = 0; i < 200; i++) {
      const isLive = l < 15 && i % 13 === 0;
      upstreams.push(
        isLive
          ? { endpoint: live[l++]!.endpoint, live: true }
          : {
              endpoint: silent[s++]!.endpoint,
              live: false,
            },
      );
    }
    expect(upstreams.filter((u) => u.live)).toHaveLength(15);
    const t = leaks.closeAfter(new UdpTransport());
    const peak = leaks.closeAfter(new SocketPeak(t));
    const W = 32;
    const replies = { live: [] as string[], silent: [] as string[] };
    // Three rounds over every upstream; a live one has time to answer however busy the
    // machine is, a silent one times out quickly.
    await pooled(600, W, async (i) => {
      const u = upstreams[i % 200]!;
      const r = await ask(t, peak, u.endpoint, BigInt(i), u.live ? 2000 : 10);
      (u.live ? replies.live : replies.silent).push(r.kind);
    });
    const top = peak.stop();
    console.log('FIG', top);
    console.log('PEAK', top, peak.samples);
    expect(replies.live).toEqual(Array(45).fill('frame'));
    expect(replies.silent).toEqual(Array(555).fill('timeout'));
    expect(live.map((e) => e.stats().framesSent)).toEqual(Array(15).fill(3));
    expect(top).toBeLessThanOrEqual(2 * (W + MAX_IDLE));
    expect(top).toBeGreaterThanOrEqual(2 * W);
    await t.close();
    expect(t.socketCount).toBe(0);
  });

  it('a timed-out line past maxIdleSockets is closed, and no later request hears its late MISS', async () => {
    const silent = leaks.closeAfter(await silentUpstream());
    const from: { port: number }[] = [];
    silent.socket.on('message', (_m, rinfo) => from.push(rinfo));
    const t = leaks.closeAfter(new UdpTransport({ maxIdleSockets: 1, lateReplyGuardMs: 60_000 }));
    const peak = leaks.closeAfter(new SocketPeak(t));
    const first = await Promise.all([0n, 1n, 2n].map((s) => ask(t, peak, silent.endpoint, s, 20)));
    expect(first.map((r) => r.kind)).toEqual(['timeout', 'timeout', 'timeout']);
    await waitFor(() => from.length === 3, 'the three NACKs');
    // One line rests out its guard; the two others were closed.
    expect(t.socketCount).toBe(2);
    const old = from.map((r) => r.port);
    const closed = await Promise.all(old.map((port) => isPortClosed({ address: '::1', port })));
    expect(closed.filter(Boolean)).toHaveLength(2);
    // A new request (the resting line is still guarded, so a new line and port), then the
    // late MISS to every old port: the rested line counts it, the closed ones drop it.
    const next = ask(t, peak, silent.endpoint, 3n, 500);
    await waitFor(() => from.length === 4, 'the fourth NACK');
    expect(old).not.toContain(from[3]!.port);
    // The probes above reached the rested line too (counted as late): count from here.
    const late = t.stats().lateReplies;
    const miss = Buffer.alloc(16);
    miss.writeUInt32BE(0xe3e1f3e8, 0);
    miss.writeUInt16BE(0x02bf, 4);
    miss[6] = 0x11;
    for (const port of old) silent.socket.send(miss, port, '::1');
    await waitFor(() => t.stats().lateReplies === late + 1, 'the late MISS on the rested line');
    expect(await next).toEqual({ kind: 'timeout', acked: false });
    expect(t.stats()).toMatchObject({ lateReplies: late + 1, unsolicited: 0 });
    expect(peak.stop()).toBeLessThanOrEqual(2 * (3 + 1));
  });
});
