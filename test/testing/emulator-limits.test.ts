import { afterEach, describe, expect, it } from 'vitest';
import { FLAG_PROXIED, MsgType } from '../../src/index.js';
import {
  DEFAULT_RETRY_ENDPOINT_LIMITS,
  UpstreamEmulator,
  buildFrame,
  type RetryEndpointOptions,
} from '../../src/testing/index.js';
import { Peer, closeAll, emulator, frames, response } from '../helpers/emulator-peer.js';
import { useLeakCheck } from '../helpers/leaks.js';

useLeakCheck();
afterEach(closeAll); // before the leak check: vitest runs `after` hooks last-registered first

/** A clock the test moves itself, so no count depends on the machine's speed. */
function manualClock(): { now: number; clock: () => number } {
  const c = { now: 0, clock: () => c.now };
  return c;
}

const ask = (peer: Peer, hashKey: bigint, seq: bigint): void =>
  peer.nack({ hashKey, startSeq: seq, flags: FLAG_PROXIED });

async function limited(retryEndpoint: RetryEndpointOptions): Promise<UpstreamEmulator> {
  return emulator({ retryEndpoint });
}

describe("UpstreamEmulator 'retry-endpoint' rate limits", () => {
  it("has the reference server's defaults", () => {
    expect(DEFAULT_RETRY_ENDPOINT_LIMITS).toEqual({
      ip: { perSecond: 100, burst: 10 },
      sequence: { max: 100, windowMs: 60_000 },
      chain: { max: 500, windowMs: 60_000 },
      group: { perSecond: 200, burst: 50 },
    });
  });

  it('loses 28 of 100 gaps through 4 workers with a 300 ms timeout, as the reference server does', async () => {
    // A recovery client with 4 workers and a 300 ms per-attempt timeout (the Go proxy
    // client's and ProxyClient's defaults, no pacing) asks one default upstream for 100
    // gaps. The per-IP bucket holds 10 tokens and refills 100 per second.
    // - While tokens last, answers come back at once and the workers keep asking; the clock
    //   stands still in that phase, so exactly the 10 tokens of the burst are spent.
    // - The next 4 NACKs find the bucket empty: silence. Each costs its worker the 300 ms
    //   timeout; with all 4 workers waiting, the clock moves on 300 ms.
    // - 300 ms refill 30 tokens, capped at the burst of 10: each cycle serves 10, loses 4.
    // 7 cycles cover 98 gaps (70 served, 28 lost); the last 2 are served: 72 + 28.
    const WORKERS = 4;
    const TIMEOUT_MS = 300;
    const t = manualClock();
    const up = await limited({ clock: t.clock });
    up.putRange(1n, 1n, 100n);
    const peer = await Peer.open(up);
    let waiting = 0;
    for (let seq = 1; seq <= 100; seq++) {
      const dropsBefore = up.stats().rateLimited.ip;
      ask(peer, 1n, BigInt(seq));
      await up.waitForNacks(seq);
      // The emulator's counter stands in for the 300 ms of silence a worker would sit out.
      if (up.stats().rateLimited.ip > dropsBefore && ++waiting === WORKERS) {
        t.now += TIMEOUT_MS;
        waiting = 0;
      }
    }
    expect(up.stats()).toMatchObject({
      nacks: 100,
      framesSent: 72,
      acks: 72,
      unanswered: 28,
      rateLimited: { ip: 28, sequence: 0, chain: 0, group: 0 },
    });
    await peer.waitFor(72 * 2);
    expect(frames(peer.inbox)).toHaveLength(72);
  });

  it('a back-to-back burst of 100 from one socket: the burst of 10 is served, 90 are silent', async () => {
    const t = manualClock(); // all 100 arrive at the same instant
    const up = await limited({ clock: t.clock });
    up.putRange(1n, 1n, 100n);
    const peer = await Peer.open(up);
    for (let seq = 1n; seq <= 100n; seq++) ask(peer, 1n, seq);
    await up.waitForNacks(100);
    expect(up.stats()).toMatchObject({ framesSent: 10, unanswered: 90, rateLimited: { ip: 90 } });
    await peer.waitFor(20);
    expect(frames(peer.inbox).map((d) => d.bytes.readBigUInt64BE(48))).toEqual(
      Array.from({ length: 10 }, (_, i) => BigInt(i + 1)),
    );
  });

  it('paced at 90 per second with a burst of 9, none of 100 is lost', async () => {
    // 9 at once, then one every 1000/90 ms: the server's bucket keeps at least one token.
    const t = manualClock();
    const up = await limited({ clock: t.clock });
    up.putRange(1n, 1n, 100n);
    const peer = await Peer.open(up);
    for (let i = 0; i < 100; i++) {
      t.now = i < 9 ? 0 : ((i - 8) * 1000) / 90;
      ask(peer, 1n, BigInt(i + 1));
      await up.waitForNacks(i + 1);
    }
    expect(up.stats()).toMatchObject({ framesSent: 100, unanswered: 0, rateLimited: { ip: 0 } });
  });

  it('limits: false serves a burst of 100 in full', async () => {
    const up = await limited({ limits: false, clock: manualClock().clock });
    up.putRange(1n, 1n, 100n);
    const peer = await Peer.open(up);
    for (let seq = 1n; seq <= 100n; seq++) ask(peer, 1n, seq);
    await up.waitForNacks(100);
    expect(up.stats()).toMatchObject({ framesSent: 100, acks: 100, unanswered: 0 });
    await peer.waitFor(200);
    expect(new Set(frames(peer.inbox).map((d) => d.bytes.readBigUInt64BE(48))).size).toBe(100);
  });

  it('shares the per-IP bucket between all ports of one address, and never answers it', async () => {
    const up = await limited({ clock: manualClock().clock, throttleResponse: true });
    const a = await Peer.open(up);
    const b = await Peer.open(up);
    for (let seq = 1n; seq <= 10n; seq++) ask(a, 1n, seq); // 10 MISS
    ask(b, 1n, 11n);
    await up.waitForNacks(11);
    await a.waitFor(10);
    expect(up.stats()).toMatchObject({ misses: 10, throttled: 0, rateLimited: { ip: 1 } });
    expect(b.inbox).toEqual([]);
  });

  it('sequence tier: per (HashKey, SeqNum) across sources; THROTTLED bucket 2 when on', async () => {
    const up = await limited({
      clock: manualClock().clock,
      throttleResponse: true,
      limits: { ip: false, sequence: { max: 1, windowMs: 60_000 } },
    });
    up.putRange(1n, 5n, 5n);
    up.putRange(2n, 5n, 5n);
    const a = await Peer.open(up);
    const b = await Peer.open(up);
    ask(a, 1n, 5n);
    await a.waitFor(2);
    ask(b, 1n, 5n); // same gap from another port: over the limit
    ask(b, 2n, 5n); // same SeqNum, another flow: its own window
    await b.waitFor(3);
    const replies = b.inbox.filter((d) => d.bytes.length === 16).map(response);
    expect(replies).toEqual([
      { type: MsgType.Throttled, flags: 2, seq: 5n },
      { type: MsgType.Ack, flags: 0x02, seq: 5n },
    ]);
    expect(up.stats()).toMatchObject({ throttled: 1, rateLimited: { sequence: 1 } });
  });

  it('chain tier: per (IP, HashKey), skipped for HashKey 0; THROTTLED bucket 3 when on', async () => {
    const up = await limited({
      clock: manualClock().clock,
      throttleResponse: true,
      limits: { ip: false, chain: { max: 2, windowMs: 60_000 } },
    });
    const peer = await Peer.open(up);
    for (const seq of [1n, 2n, 3n]) ask(peer, 7n, seq);
    for (const seq of [1n, 2n, 3n]) ask(peer, 0n, seq);
    await peer.waitFor(6);
    expect(peer.inbox.map((d) => [response(d).type, response(d).flags])).toEqual([
      [MsgType.Miss, 0],
      [MsgType.Miss, 0],
      [MsgType.Throttled, 3],
      [MsgType.Miss, 0],
      [MsgType.Miss, 0],
      [MsgType.Miss, 0],
    ]);
    expect(response(peer.inbox[2]!).seq).toBe(3n);
    expect(up.stats().rateLimited).toEqual({ ip: 0, sequence: 0, chain: 1, group: 0 });
  });

  it('group tier: per (IP, TxID shard group), on cache hits only; THROTTLED bucket 4 when on', async () => {
    const group0 = new Uint8Array(32); // top 2 bits 00
    const group3 = new Uint8Array(32).fill(0xc0); // top 2 bits 11
    const up = await limited({
      clock: manualClock().clock,
      throttleResponse: true,
      limits: { ip: false, group: { perSecond: 200, burst: 1 } },
    });
    up.put(buildFrame({ hashKey: 1n, seq: 1n, txId: group0 }));
    up.put(buildFrame({ hashKey: 1n, seq: 2n, txId: group0 }));
    up.put(buildFrame({ hashKey: 1n, seq: 3n, txId: group3 }));
    const peer = await Peer.open(up);
    for (const seq of [1n, 2n, 9n, 3n]) ask(peer, 1n, seq);
    await peer.waitFor(6);
    const replies = peer.inbox.filter((d) => d.bytes.length === 16).map(response);
    expect(replies).toContainEqual({ type: MsgType.Throttled, flags: 4, seq: 2n });
    expect(replies).toContainEqual({ type: MsgType.Miss, flags: 0, seq: 0n });
    expect(
      frames(peer.inbox)
        .map((d) => d.bytes.readBigUInt64BE(48))
        .sort(),
    ).toEqual([1n, 3n]);
    expect(up.stats()).toMatchObject({ framesSent: 2, throttled: 1, rateLimited: { group: 1 } });
  });

  it('every tier is silent without throttleResponse, and counted', async () => {
    const up = await limited({
      clock: manualClock().clock,
      limits: {
        ip: { perSecond: 100, burst: 4 },
        sequence: { max: 1, windowMs: 60_000 },
        chain: { max: 1, windowMs: 60_000 },
        group: { perSecond: 200, burst: 0 },
      },
    });
    up.putRange(1n, 1n, 1n);
    const peer = await Peer.open(up);
    // The tiers run ip ▸ sequence ▸ chain ▸ (lookup) ▸ group; a dropped NACK spends nothing
    // in the tiers after the one that dropped it.
    ask(peer, 9n, 1n); // MISS: spends ip 1 of 4, the window of (9, 1), chain (9) 1 of 1
    ask(peer, 9n, 1n); // sequence tier
    ask(peer, 9n, 2n); // chain tier
    ask(peer, 1n, 1n); // a hit, dropped by the group tier (burst 0)
    ask(peer, 1n, 2n); // ip tier: the bucket of 4 is spent
    await up.waitForNacks(5);
    expect(up.stats()).toMatchObject({
      misses: 1,
      throttled: 0,
      unanswered: 4,
      rateLimited: { ip: 1, sequence: 1, chain: 1, group: 1 },
    });
  });

  it.each([
    [{ limits: { ip: { perSecond: -1, burst: 10 } } }, /limits\.ip\.perSecond.*-1/],
    [{ limits: { ip: { perSecond: 100, burst: 1.5 } } }, /limits\.ip\.burst.*1\.5/],
    [{ limits: { chain: { max: 5, windowMs: 0 } } }, /limits\.chain\.windowMs.*0/],
    [{ shardBits: 13 }, /shardBits.*13/],
    [{ throttleResponse: 'yes' }, /throttleResponse.*yes/],
  ])('refuses %j, naming the option', async (retryEndpoint, message) => {
    await expect(
      UpstreamEmulator.start({
        host: '127.0.0.1',
        retryEndpoint: retryEndpoint as RetryEndpointOptions,
      }),
    ).rejects.toThrow(message);
  });
});
