import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cacheKeyHex } from '../../src/wire/index.js';
import { RecordingDeduper } from '../../src/testing/index.js';
import { expectAccounting } from '../helpers/events.js';
import { A, B, C, harness } from '../helpers/harness.js';

// Fake clock: timeouts, holds, cooldowns and RTT samples are exact, whatever the machine load.
beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date', 'performance'],
  });
});
afterEach(() => {
  vi.useRealTimers();
});

const sleep = async (ms: number): Promise<void> => {
  await vi.advanceTimersByTimeAsync(ms);
};

/** Runs the clock until the client has nothing queued or in flight. */
async function idle(h: { client: { onIdle(): Promise<void> } }): Promise<void> {
  let done = false;
  void h.client.onIdle().then(() => (done = true));
  for (let i = 0; i < 10_000 && !done; i++) await vi.advanceTimersByTimeAsync(1);
  expect(done).toBe(true);
}

describe('local coalescing', () => {
  it('a gap already queued or in flight is not fetched again, with or without a deduper', async () => {
    for (const deduper of [undefined, new RecordingDeduper()]) {
      const h = harness({ workers: 1, upstreams: [A], deduper });
      h.transport.intercept(A).serve().delay(10).persist();
      h.client.enqueue({ hashKey: 1n, startSeq: 1n }); // in flight
      h.client.enqueue({ hashKey: 1n, startSeq: 2n }); // queued
      expect(h.client.enqueue({ hashKey: 1n, startSeq: 1n })).toBe(true);
      expect(h.client.enqueue({ hashKey: 1n, startSeq: 1n, endSeq: 2n })).toBe(true);
      await idle(h);
      expect(h.transport.sent.map((s) => s.nack.startSeq)).toEqual([1n, 2n]);
      expect(h.events.deduped).toEqual([
        { hashKey: 1n, seq: 1n, cause: 'coalesced' },
        { hashKey: 1n, seq: 1n, cause: 'coalesced' },
        { hashKey: 1n, seq: 2n, cause: 'coalesced' },
      ]);
      expectAccounting(h.client.stats(), h.events);
      // Once it has ended (and the shared claim window has passed), it is fetched again.
      deduper?.expire();
      h.client.enqueue({ hashKey: 1n, startSeq: 1n });
      await idle(h);
      expect(h.transport.sent).toHaveLength(3);
    }
  });
});

describe('recent-failure memory', () => {
  it('does not fetch a gap that just failed as exhausted, and forgets it after the interval', async () => {
    const h = harness({ upstreams: [A], failureMemoryMs: 60 });
    h.transport.intercept(A).miss().persist();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 1n })).toBe(true);
    expect(h.client.enqueue({ hashKey: 1n, startSeq: 1n })).toBe(true);
    await idle(h);
    expect(h.transport.sent).toHaveLength(1);
    expect(h.events.failed.map((f) => f.reason)).toEqual([
      'exhausted',
      'recent-failure',
      'recent-failure',
    ]);
    expect(h.client.stats().failureMemory).toBe(1);
    await sleep(80);
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.transport.sent).toHaveLength(2);
  });

  it('holds at most failureMemorySize gaps, forgetting the oldest', async () => {
    const h = harness({ upstreams: [A], failureMemorySize: 2 });
    h.transport.intercept(A).miss().persist();
    for (const s of [1n, 2n, 3n]) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await idle(h);
    expect(h.client.stats().failureMemory).toBe(2);
    for (const s of [1n, 2n, 3n]) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await idle(h);
    expect(h.transport.sent.map((s) => s.nack.startSeq)).toEqual([1n, 2n, 3n, 1n]);
  });

  it('is off with failureMemoryMs 0', async () => {
    const h = harness({ upstreams: [A], failureMemoryMs: 0 });
    h.transport.intercept(A).miss().persist();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.transport.sent).toHaveLength(2);
  });
});

describe('upstream health', () => {
  it('without hedging: demotes an upstream after consecutive timeouts, probes it after the cooldown and restores it', async () => {
    const h = harness({
      upstreams: [A, B],
      workers: 1,
      hedgeAfterMs: false,
      timeoutMs: 15,
      demoteAfter: 2,
      demoteCooldownMs: 80,
    });
    h.transport.intercept(A).silent().times(3);
    h.transport.intercept(B).serve().persist();
    for (const s of [1n, 2n, 3n]) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await idle(h);
    // Gaps 1 and 2 wait for A's timeout; gap 3 goes straight to B.
    expect(h.transport.sent.map((s) => `${s.upstream}#${s.nack.startSeq}`)).toEqual([
      `${A}#1`,
      `${B}#1`,
      `${A}#2`,
      `${B}#2`,
      `${B}#3`,
    ]);
    const a = h.client.stats().upstreams[0]!;
    expect(a).toMatchObject({
      upstream: A,
      state: 'demoted',
      consecutiveFailures: 2,
      demotions: 1,
    });
    expect(a.replies.timeout).toBe(2);

    await sleep(100);
    // After the cooldown one gap probes A in its normal place; it is still silent, so A is
    // demoted again at once (one timeout, not demoteAfter of them).
    h.client.enqueue({ hashKey: 1n, startSeq: 4n });
    h.client.enqueue({ hashKey: 1n, startSeq: 5n });
    await idle(h);
    expect(h.transport.sent.slice(5).map((s) => `${s.upstream}#${s.nack.startSeq}`)).toEqual([
      `${A}#4`,
      `${B}#4`,
      `${B}#5`,
    ]);
    expect(h.client.stats().upstreams[0]?.state).toBe('demoted');

    await sleep(100);
    h.transport.intercept(A).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 6n });
    await idle(h);
    expect(h.events.recovered.at(-1)).toMatchObject({ seq: 6n, upstream: A });
    expect(h.client.stats().upstreams[0]).toMatchObject({
      state: 'healthy',
      consecutiveFailures: 0,
    });
  });

  it('keeps the operator order among healthy upstreams, skips a demoted one, and probes it first after its cooldown', async () => {
    const h = harness({
      upstreams: [A, B, C],
      workers: 1,
      timeoutMs: 10,
      demoteAfter: 1,
      demoteCooldownMs: 60_000,
    });
    h.transport.intercept(A).error('send');
    h.transport.intercept(B).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.events.upstream).toEqual([
      { upstream: A, state: 'demoted', previous: 'healthy', cause: 'errors' },
    ]);
    // Demoted and cooling down: not asked at all, even when the others miss.
    h.transport.intercept(B).miss();
    h.transport.intercept(C).miss();
    h.transport.intercept(A).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await idle(h);
    expect(h.transport.sent.slice(2).map((s) => s.upstream)).toEqual([B, C]);
    expect(h.events.failed).toMatchObject([
      { seq: 2n, reason: 'exhausted', lastReply: { upstream: C, kind: 'miss' } },
    ]);
    // Its cooldown over, one gap probes it in its normal place (first), and it is restored.
    await sleep(60_000);
    h.client.enqueue({ hashKey: 1n, startSeq: 3n });
    await idle(h);
    expect(h.transport.sent.slice(4).map((s) => s.upstream)).toEqual([A]);
    expect(h.events.recovered.at(-1)?.upstream).toBe(A);
    expect(h.client.stats().upstreams[0]).toMatchObject({ state: 'healthy', demotedFor: 'errors' });
    expect(h.events.upstream.slice(1)).toEqual([
      { upstream: A, state: 'probing', previous: 'demoted', cause: 'cooldown' },
      { upstream: A, state: 'healthy', previous: 'probing', cause: 'probe-answered' },
    ]);
  });

  it('silence about one gap from an upstream that answers others is not death: the gap moves on, the upstream stays healthy', async () => {
    const h = harness({
      upstreams: [A, B],
      workers: 4,
      nackRate: false,
      hedgeAfterMs: false,
      timeoutMs: 50,
      demoteAfter: 2,
    });
    // A limit or a suppressed MISS: A answers the even gaps and stays silent on the odd ones.
    for (const s of [1n, 3n, 5n]) h.transport.intercept(A, { seq: s }).silent();
    for (const s of [2n, 4n, 6n]) h.transport.intercept(A, { seq: s }).serve().delay(10);
    h.transport.intercept(B).serve().persist();
    for (let s = 1n; s <= 6n; s++) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await idle(h);
    const from = new Map(h.events.recovered.map((e) => [e.seq, e.upstream]));
    expect([...from].sort((x, y) => Number(x[0] - y[0]))).toEqual([
      [1n, B],
      [2n, A],
      [3n, B],
      [4n, A],
      [5n, B],
      [6n, A],
    ]);
    // Three timeouts, more than demoteAfter, and never a demotion.
    expect(h.client.stats().upstreams[0]).toMatchObject({
      upstream: A,
      state: 'healthy',
      demotions: 0,
      replies: { timeout: 3, frame: 3 },
    });
    expect(h.events.upstream).toEqual([]);
    expectAccounting(h.client.stats(), h.events);
  });

  it('does not count MISS or THROTTLED against an upstream', async () => {
    const h = harness({ upstreams: [A, B], demoteAfter: 1 });
    h.transport.intercept(A).miss();
    h.transport.intercept(A).throttle(1).times(4);
    h.transport.intercept(B).serve().times(2);
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await idle(h);
    expect(h.client.stats().upstreams[0]).toMatchObject({
      state: 'healthy',
      consecutiveFailures: 0,
      demotions: 0,
    });
  });
});

describe('hedging', () => {
  it('asks the next upstream in parallel after hedgeAfterMs; the first valid frame wins', async () => {
    const h = harness({ upstreams: [A, B], timeoutMs: 1000, hedgeAfterMs: 15 });
    h.transport.intercept(A).serve().delay(300);
    h.transport.intercept(B).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.transport.sent.map((s) => s.upstream)).toEqual([A, B]);
    expect(h.events.recovered).toMatchObject([{ upstream: B, hedged: true, attempts: 2 }]);
    expect(h.events.recovered[0]!.latencyMs).toBeLessThan(300);
    expect(h.cache.stored).toHaveLength(1);
    expect(h.retransmitter.frames).toHaveLength(1);
    expect(h.client.stats()).toMatchObject({ hedges: 1, hedgeWins: 1 });
  });

  it('does not hedge when the first upstream answers in time', async () => {
    const h = harness({ upstreams: [A, B], hedgeAfterMs: 200 });
    h.transport.intercept(A).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.transport.sent.map((s) => s.upstream)).toEqual([A]);
    expect(h.client.stats()).toMatchObject({ hedges: 0, hedgeWins: 0 });
  });

  it('hedgeAfterMs: false turns it off: the second upstream waits for the first to time out', async () => {
    const h = harness({ upstreams: [A, B], timeoutMs: 40, hedgeAfterMs: false });
    h.transport.intercept(A).silent();
    h.transport.intercept(B).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.events.recovered).toMatchObject([{ upstream: B, hedged: false }]);
    expect(h.events.recovered[0]!.latencyMs).toBeGreaterThanOrEqual(35);
  });

  it('adaptive by default: half of timeoutMs before any sample, then the RTT estimate', async () => {
    // A hedge takes a spare worker, and the first gap's overtaken attempt holds one until
    // its timeout: three workers leave one spare for the last gap's hedge.
    const h = harness({ upstreams: [A, B], workers: 3, timeoutMs: 400, minTimeoutMs: 10 });
    h.transport.intercept(A).silent();
    h.transport.intercept(B).serve().persist();
    h.transport.intercept(A).serve().delay(4).times(8);
    h.transport.intercept(A).silent();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    // No RTT sample for A yet: the hedge goes out after timeoutMs / 2.
    const [a1, b1] = h.transport.sent;
    expect([a1?.upstream, b1?.upstream]).toEqual([A, B]);
    expect(b1!.at - a1!.at).toBe(200);
    for (let s = 2n; s <= 9n; s++) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await idle(h);
    // A answers in 4 ms eight times: the hedge now waits max(minTimeoutMs, SRTT + 2 RTTVAR).
    h.client.enqueue({ hashKey: 1n, startSeq: 10n });
    await idle(h);
    const [a10, b10] = h.transport.sent.slice(-2);
    expect([a10?.upstream, b10?.upstream]).toEqual([A, B]);
    expect(b10!.at - a10!.at).toBeGreaterThanOrEqual(10);
    expect(b10!.at - a10!.at).toBeLessThan(30);
    expect(h.events.recovered.at(-1)).toMatchObject({ seq: 10n, upstream: B, hedged: true });
  });

  it('a dead first upstream is demoted although hedges always beat it, and one probe restores it', async () => {
    // One gap at a time; a hedge takes a spare worker, and each overtaken attempt holds
    // its own until it times out, so four workers let three gaps hedge in a row.
    const h = harness({
      upstreams: [A, B],
      workers: 4,
      timeoutMs: 300,
      hedgeAfterMs: 20,
      demoteAfter: 3,
      demoteCooldownMs: 1000,
    });
    h.transport.intercept(A).silent().persist();
    h.transport.intercept(B).serve().persist();
    for (let s = 1n; s <= 6n; s++) {
      h.client.enqueue({ hashKey: 1n, startSeq: s });
      await idle(h);
    }
    // Gaps 1-3 hedge past A; A is overtaken three times and demoted; gaps 4-6 go to B only.
    expect(h.transport.sent.map((s) => `${s.upstream}#${s.nack.startSeq}`)).toEqual([
      `${A}#1`,
      `${B}#1`,
      `${A}#2`,
      `${B}#2`,
      `${A}#3`,
      `${B}#3`,
      `${B}#4`,
      `${B}#5`,
      `${B}#6`,
    ]);
    expect(h.client.stats().upstreams[0]).toMatchObject({
      state: 'demoted',
      demotions: 1,
      replies: { overtaken: 3, timeout: 0 },
    });
    // The overtaken attempts ran to their own timeout without counting it twice.
    await sleep(400);
    expect(h.client.stats().upstreams[0]?.replies.timeout).toBe(0);
    // A comes back: after the cooldown one gap probes it, and A is first choice again.
    h.transport.reset();
    h.transport.intercept(A).serve().persist();
    h.transport.intercept(B).serve().persist();
    await sleep(1000);
    for (let s = 7n; s <= 8n; s++) {
      h.client.enqueue({ hashKey: 1n, startSeq: s });
      await idle(h);
    }
    expect(h.transport.sent.map((s) => `${s.upstream}#${s.nack.startSeq}`)).toEqual([
      `${A}#7`,
      `${A}#8`,
    ]);
    expect(h.client.stats().upstreams[0]).toMatchObject({
      state: 'healthy',
      consecutiveFailures: 0,
    });
  });

  it('a probe beaten by a hedge never leaves its upstream stuck in probing', async () => {
    // Issue 11, fault 4: [A, B, C], two endpoints per gap, both A and B time out; B comes
    // back and beats A's probe; then A comes back and must be restored.
    const h = harness({
      upstreams: [A, B, C],
      maxEndpoints: 2,
      workers: 4,
      timeoutMs: 100,
      hedgeAfterMs: 20,
      demoteAfter: 1,
      demoteCooldownMs: 200,
    });
    h.transport.intercept(A).silent().persist();
    const bSilent = h.transport.intercept(B).silent().persist();
    h.transport.intercept(C).serve().persist();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.client.stats().upstreams.map((u) => u.state)).toEqual([
      'demoted',
      'demoted',
      'healthy',
    ]);
    bSilent.serve();
    await sleep(250);
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await idle(h);
    expect(h.events.recovered.at(-1)).toMatchObject({ seq: 2n, upstream: B, hedged: true });
    await sleep(150); // A's overtaken probe runs to its own timeout
    expect(h.client.stats().upstreams.map((u) => u.state)).toEqual([
      'demoted',
      'healthy',
      'healthy',
    ]);
    h.transport.reset();
    for (const u of [A, B, C]) h.transport.intercept(u).serve().persist();
    await sleep(250);
    for (let s = 3n; s <= 4n; s++) {
      h.client.enqueue({ hashKey: 1n, startSeq: s });
      await idle(h);
    }
    expect(h.transport.sent.map((s) => `${s.upstream}#${s.nack.startSeq}`)).toEqual([
      `${A}#3`,
      `${A}#4`,
    ]);
    expect(h.client.stats().upstreams.map((u) => u.state)).toEqual([
      'healthy',
      'healthy',
      'healthy',
    ]);
  });

  it('never hedges past an upstream that answered THROTTLED: congestion is not failure', async () => {
    const h = harness({ upstreams: [A, B], hedgeAfterMs: 5, maxThrottleRetries: 1 });
    h.transport.intercept(A).throttle(100);
    h.transport.intercept(A).serve();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.transport.sent.map((s) => s.upstream)).toEqual([A, A]);
    expect(h.events.recovered).toMatchObject([{ upstream: A, hedged: false }]);
  });

  it('budgets hedges to about one per ten NACKs', async () => {
    // One gap at a time, with workers to spare: only the budget limits hedges.
    const h = harness({ upstreams: [A, B], workers: 4, hedgeAfterMs: 5, demoteAfter: 1_000_000 });
    h.transport.intercept(A).serve().delay(50).persist();
    h.transport.intercept(B).serve().delay(50).persist();
    for (let s = 1n; s <= 100n; s++) {
      h.client.enqueue({ hashKey: 1n, startSeq: s });
      await idle(h);
    }
    // Ten saved at the start, then one more per ten first-choice attempts.
    const hedges = h.client.stats().hedges;
    expect(hedges).toBeGreaterThanOrEqual(15);
    expect(hedges).toBeLessThanOrEqual(20);
    expect(h.transport.sent).toHaveLength(100 + hedges);
  });
});

describe('adaptive attempt timeout', () => {
  it('sets each attempt wait from the upstream RTT estimate, between the floor and timeoutMs', async () => {
    const h = harness({
      upstreams: [A, B],
      workers: 1,
      timeoutMs: 1000,
      minTimeoutMs: 20,
      adaptiveTimeout: true,
    });
    h.transport.intercept(A).serve().delay(2).times(8);
    h.transport.intercept(A).silent();
    h.transport.intercept(B).serve();
    for (let s = 1n; s <= 9n; s++) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await idle(h);
    const waits = h.transport.sentTo(A).map((s) => s.timeoutMs);
    expect(waits[0]).toBe(1000); // no estimate yet
    expect(waits[8]).toBeLessThan(200); // near upstream: abandoned in milliseconds
    expect(waits[8]).toBeGreaterThanOrEqual(20);
    const a = h.client.stats().upstreams[0]!;
    expect(a.srttMs).toBeGreaterThan(0);
    expect(h.events.recovered.at(-1)).toMatchObject({ seq: 9n, upstream: B });
  });

  it('without it every attempt waits timeoutMs', async () => {
    const h = harness({ upstreams: [A], timeoutMs: 700 });
    h.transport.intercept(A).serve().times(3);
    for (let s = 1n; s <= 3n; s++) h.client.enqueue({ hashKey: 1n, startSeq: s });
    await idle(h);
    expect(h.transport.sent.map((s) => s.timeoutMs)).toEqual([700, 700, 700]);
  });
});

describe('deadlines and bounds', () => {
  it('ends a gap as failed(deadline) when throttle holds exceed gapDeadlineMs', async () => {
    const h = harness({ upstreams: [A], gapDeadlineMs: 50, maxThrottleRetries: 100 });
    h.transport.intercept(A).throttle(20).persist();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.events.failed).toMatchObject([{ reason: 'deadline' }]);
    expect(h.events.failed[0]!.latencyMs).toBeLessThan(1000);
    expect(h.transport.sent.length).toBeLessThanOrEqual(4);
    // A deadline is not remembered as an exhausted failure.
    expect(h.client.stats().failureMemory).toBe(0);
  });

  it('counts gapDeadlineMs from enqueue: a gap that waited in the queue past it ends unsent', async () => {
    const h = harness({
      upstreams: [A],
      workers: 1,
      nackRate: false,
      hedgeAfterMs: false,
      timeoutMs: 150,
      gapDeadlineMs: 100,
    });
    h.transport.intercept(A, { seq: 1n }).silent();
    h.transport.intercept(A).serve().persist();
    // Gap 2 waits in the queue while gap 1 holds the only worker until its deadline.
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await idle(h);
    expect(h.transport.sent.map((s) => s.nack.startSeq)).toEqual([1n]);
    expect(h.transport.sent[0]!.timeoutMs).toBeLessThanOrEqual(100);
    expect(h.events.failed).toMatchObject([
      { seq: 1n, reason: 'deadline', attempts: 1 },
      { seq: 2n, reason: 'deadline', attempts: 0 },
    ]);
    for (const e of h.events.failed) expect(e.latencyMs).toBeLessThan(110);
    expectAccounting(h.client.stats(), h.events);
  });

  it('caps each attempt wait by what is left of the deadline', async () => {
    const h = harness({ upstreams: [A, B], timeoutMs: 5000, gapDeadlineMs: 40 });
    h.transport.intercept('*').silent().persist();
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await idle(h);
    expect(h.transport.sent[0]!.timeoutMs).toBeLessThanOrEqual(40);
    expect(h.events.failed[0]?.reason).toMatch(/deadline|exhausted/);
  });

  it('frees the worker when an injected component hangs (componentTimeoutMs)', async () => {
    const h = harness({ upstreams: [A], workers: 1, componentTimeoutMs: 20 });
    h.cache.fault = 'hang';
    h.transport.intercept(A).serve().times(2);
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await idle(h);
    expect(h.client.stats().recovered).toBe(2);
    expect(h.events.error.map((e) => e.message)).toEqual([
      'cache.store failed: did not settle within 20 ms',
      'cache.store failed: did not settle within 20 ms',
    ]);
    expect(h.retransmitter.frames.map((f) => cacheKeyHex(f.hashKey, f.seq))).toHaveLength(2);
  });
});
