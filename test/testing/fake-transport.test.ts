import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  FLAG_PROXIED,
  decodeFrameHeader,
  encodeNack,
  type ExchangeOptions,
  type Reply,
} from '../../src/index.js';
import { FakeTransport, buildFrame } from '../../src/testing/index.js';
import { harness } from '../helpers/harness.js';

const A = '[::1]:9301';
const B = '[::1]:9302';

function ask(
  t: FakeTransport,
  upstream: string,
  seq: bigint,
  more: Partial<ExchangeOptions> = {},
): Promise<Reply> {
  const nack = encodeNack({ hashKey: 1n, startSeq: seq, flags: FLAG_PROXIED });
  return t.exchange(upstream, nack, { timeoutMs: 100, hashKey: 1n, seq, ...more });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('FakeTransport answers', () => {
  it('serves a frame built for the asked gap, or the given one', async () => {
    const t = new FakeTransport();
    const own = buildFrame({ hashKey: 1n, seq: 5n, payload: Buffer.from('mine') });
    t.intercept(A).serve();
    t.intercept(A).serve(own);
    const first = await ask(t, A, 4n);
    expect(first.kind).toBe('frame');
    if (first.kind === 'frame') expect(decodeFrameHeader(first.frame).seq).toBe(4n);
    expect(await ask(t, A, 5n)).toEqual({ kind: 'frame', frame: own });
  });

  it('maps each scripted action to its reply', async () => {
    const t = new FakeTransport();
    t.intercept(A).miss();
    t.intercept(A).throttle(250);
    t.intercept(A).error('resolve');
    t.intercept(A).wrongFrame();
    t.intercept(A).reply((s) => ({ kind: 'throttled', backoffMs: Number(s.nack.startSeq) }));
    expect(await ask(t, A, 1n)).toEqual({ kind: 'miss' });
    expect(await ask(t, A, 1n)).toEqual({ kind: 'throttled', backoffMs: 250 });
    expect(await ask(t, A, 1n)).toEqual({ kind: 'error', code: 'resolve' });
    const wrong = await ask(t, A, 1n);
    expect(wrong.kind === 'frame' && decodeFrameHeader(wrong.frame).seq).toBe(2n);
    expect(await ask(t, A, 7n)).toEqual({ kind: 'throttled', backoffMs: 7 });
    t.assertNoPendingInterceptors();
  });

  it('rejects for throws(), and when a custom reply throws', async () => {
    const t = new FakeTransport();
    t.intercept(A).throws(new Error('boom'));
    t.intercept(A).reply(() => {
      throw new Error('bad script');
    });
    await expect(ask(t, A, 1n)).rejects.toThrow('boom');
    await expect(ask(t, A, 1n)).rejects.toThrow('bad script');
  });

  it('answers an unmatched exchange with the `unmatched` action', async () => {
    expect(await ask(new FakeTransport(), A, 1n)).toEqual({ kind: 'error', code: 'unmatched' });
    const t = new FakeTransport({ unmatched: { kind: 'miss' } });
    expect(await ask(t, A, 1n)).toEqual({ kind: 'miss' });
  });

  it('times out silent and ack-only upstreams after the attempt timeout', async () => {
    vi.useFakeTimers();
    const t = new FakeTransport();
    t.intercept(A).silent();
    t.intercept(A).ackOnly();
    const silent = ask(t, A, 1n, { timeoutMs: 300 });
    const acked = ask(t, A, 1n, { timeoutMs: 300 });
    await vi.advanceTimersByTimeAsync(299);
    let settled = false;
    void silent.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await silent).toEqual({ kind: 'timeout' });
    expect(await acked).toEqual({ kind: 'timeout', acked: true });
  });

  it('delays answers, and turns an answer due after the timeout into a timeout', async () => {
    vi.useFakeTimers();
    const t = new FakeTransport();
    t.intercept(A).miss().delay(50);
    t.intercept(A).serve().delay(100);
    const early = ask(t, A, 1n, { timeoutMs: 100 });
    const late = ask(t, A, 1n, { timeoutMs: 100 });
    await vi.advanceTimersByTimeAsync(50);
    expect(await early).toEqual({ kind: 'miss' });
    await vi.advanceTimersByTimeAsync(50);
    expect(await late).toEqual({ kind: 'timeout' });
  });

  it('resolves `aborted` when the signal aborts, and `closed` after close()', async () => {
    const t = new FakeTransport();
    t.intercept(A).silent().persist();
    const ctl = new AbortController();
    const pending = ask(t, A, 1n, { signal: ctl.signal, timeoutMs: 10_000 });
    ctl.abort();
    expect(await pending).toEqual({ kind: 'error', code: 'aborted' });
    expect(await ask(t, A, 1n, { signal: ctl.signal })).toEqual({
      kind: 'error',
      code: 'aborted',
    });
    t.close();
    expect(await ask(t, A, 1n)).toEqual({ kind: 'error', code: 'closed' });
  });
});

describe('FakeTransport matching', () => {
  it('matches by upstream, hashKey and seq; the oldest match wins', async () => {
    const t = new FakeTransport();
    t.intercept(A, { seq: 2n }).miss();
    t.intercept('*', { hashKey: 1n }).error('any');
    t.intercept(B).throttle(1);
    expect(await ask(t, A, 2n)).toEqual({ kind: 'miss' });
    expect(await ask(t, B, 2n)).toEqual({ kind: 'error', code: 'any' });
    expect(await ask(t, B, 2n)).toEqual({ kind: 'throttled', backoffMs: 1 });
  });

  it('uses an interceptor once, n times, or forever', async () => {
    const t = new FakeTransport();
    t.intercept(A).miss().times(2);
    t.intercept(B).miss().persist();
    for (let i = 0; i < 3; i++) await ask(t, A, 1n);
    for (let i = 0; i < 5; i++) await ask(t, B, 1n);
    expect(t.sentTo(A)).toHaveLength(3);
    expect(t.stats()).toEqual({ sent: 8, pendingInterceptors: 0 });
    expect(() => t.intercept(A).times(0)).toThrow(RangeError);
  });

  it('lists unused interceptors in a readable table', () => {
    const t = new FakeTransport();
    t.intercept(A, { hashKey: 1n, seq: 42n }).serve().times(2);
    t.intercept(B).silent().persist();
    expect(t.pendingInterceptors()).toEqual([
      { upstream: A, hashKey: 1n, seq: 42n, action: 'serve', remaining: 2 },
      { upstream: B, hashKey: undefined, seq: undefined, action: 'silent', remaining: Infinity },
    ]);
    expect(() => t.assertNoPendingInterceptors()).toThrow(
      /2 interceptor\(s\) not used:\n\| upstream .*\n\| \[::1\]:9301 .*\| 42 .*\| serve/,
    );
    t.reset();
    expect(() => t.assertNoPendingInterceptors()).not.toThrow();
  });

  it('records every NACK with its flags, timeout and gap', async () => {
    const t = new FakeTransport();
    t.intercept('*').miss().persist();
    await ask(t, A, 1n, { timeoutMs: 250 });
    await ask(t, B, 2n);
    expect(t.sent).toHaveLength(2);
    expect(t.sent[0]).toMatchObject({ upstream: A, flags: FLAG_PROXIED, timeoutMs: 250 });
    expect(t.sentFor(1n, 2n).map((s) => s.upstream)).toEqual([B]);
  });
});

describe('FakeTransport with a ProxyClient', () => {
  it('drives the upstream walk without a network, under fake timers', async () => {
    vi.useFakeTimers();
    const { client, transport, cache, retransmitter } = harness({
      upstreams: [A, B],
      timeoutMs: 300,
    });
    transport.intercept(A).silent();
    transport.intercept(B, { seq: 42n }).serve();
    expect(client.enqueue({ hashKey: 1n, startSeq: 42n })).toBe(true);
    const idle = client.onIdle();
    await vi.advanceTimersByTimeAsync(300);
    await idle;
    expect(transport.sent.map((s) => [s.upstream, s.flags])).toEqual([
      [A, FLAG_PROXIED],
      [B, FLAG_PROXIED],
    ]);
    expect(retransmitter.frames.map((f) => f.seq)).toEqual([42n]);
    expect(cache.stored).toHaveLength(1);
    transport.assertNoPendingInterceptors();
    await client.close();
  });
});
