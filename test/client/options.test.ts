import { describe, expect, it } from 'vitest';
import { ProxyClient, type ProxyClientOptions } from '../../src/index.js';
import { FakeTransport, RecordingCache, RecordingRetransmitter } from '../../src/testing/index.js';

// The constructor itself is under test, so each case builds its client by hand (no harness).
const base = (): ProxyClientOptions => ({
  upstreams: ['[::1]:9300'],
  cache: new RecordingCache(),
  retransmitter: new RecordingRetransmitter(),
  transport: new FakeTransport(),
});

describe('option validation', () => {
  it.each([
    [{ upstreams: [] }, /option upstreams must be a non-empty array/],
    [{ upstreams: ['nohost'] }, /upstreams: "nohost" has no ":port"/],
    [{ upstreams: ['::1:9300'] }, /write IPv6 addresses as "\[address\]:port"/],
    [{ upstreams: ['[::1]:0'] }, /port 0 in "\[::1\]:0" is not in 1..65535/],
    [{ upstreams: ['[fe80::zz]:1'] }, /is not an IPv6 address/],
    [{ upstreams: ['a.example:1', 'a.example:1'] }, /lists "a.example:1" twice/],
    [{ timeoutMs: 0 }, /option timeoutMs must be in 1..600000, got 0/],
    [{ timeoutMs: 1.5 }, /option timeoutMs must be an integer, got 1.5/],
    [{ workers: '4' }, /option workers must be an integer, got "4"/],
    [{ maxEndpoints: 2 }, /option maxEndpoints must be in 1..1, got 2/],
    [{ queueDepth: -1 }, /option queueDepth must be in 0..100000000, got -1/],
    [{ ttls: { tx: 0 } }, /option ttls.tx must be in 1../],
    [{ ttls: { frame: 1 } }, /option ttls.frame is not a TTL class/],
    [{ cache: {} }, /option cache must be an object with a store\(\) method/],
    [
      { retransmitter: null },
      /option retransmitter must be an object with a retransmit\(\) method/,
    ],
    [{ deduper: { setnx: 1 } }, /option deduper must be an object with a setNX\(\) method/],
    [{ recorder: 'metrics' }, /option recorder must be an object, got "metrics"/],
    [{ logger: console.log }, /option logger must be an object with a debug\(\) method/],
    [
      { hedgeAfterMs: 'soon' },
      /option hedgeAfterMs must be an integer \(ms\), 'adaptive' or false, got "soon"/,
    ],
    [{ timeoutMS: 100 }, /^ProxyClient: unknown option "timeoutMS"; did you mean "timeoutMs"\?$/],
    [{ wrokers: 2 }, /^ProxyClient: unknown option "wrokers"; did you mean "workers"\?$/],
    [{ colour: 'blue' }, /^ProxyClient: unknown option "colour"$/],
    [
      { upstreams: ['[::1]:9300', '[0:0::1]:9300'] },
      /lists one endpoint twice: "\[::1\]:9300" and "\[0:0::1\]:9300"/,
    ],
    [
      { upstreams: ['Up.Example:9300', 'up.example:9300'] },
      /lists one endpoint twice: "Up.Example:9300" and "up.example:9300"/,
    ],
    [{ minTimeoutMs: 500 }, /option minTimeoutMs \(500\) must not exceed timeoutMs \(300\)/],
    // Node.js fires timers above 2^31 - 1 ms after 1 ms: refused, never honoured early.
    [{ gapDeadlineMs: Number.MAX_SAFE_INTEGER }, /option gapDeadlineMs must be in 1..2147483647/],
    [{ gapDeadlineMs: 2 ** 31 }, /option gapDeadlineMs must be in 1..2147483647, got 2147483648/],
    [{ componentTimeoutMs: 2 ** 32 }, /option componentTimeoutMs must be in 1..2147483647/],
    [{ dedupWindowMs: 2 ** 31 }, /option dedupWindowMs must be in 1..2147483647/],
    [{ demoteCooldownMs: 2 ** 31 }, /option demoteCooldownMs must be in 0..2147483647/],
    [
      { nackRate: 90 },
      /option nackRate must be \{ perSecond, burst, perFlow, flowWindowMs \} or false, got 90/,
    ],
    [
      { nackRate: { perSecond: 0, burst: 9 } },
      /option nackRate.perSecond must be a number above 0/,
    ],
    [
      { nackRate: { perSecond: 90, burst: 0 } },
      /option nackRate.burst must be in 1..1000000, got 0/,
    ],
    [{ nackRate: { perSecond: 90, bursts: 9 } }, /option nackRate.bursts is not an option/],
    [{ verifyContent: 1 }, /option verifyContent must be a boolean, got 1/],
    [{ transport: {} }, /option transport must be an object with an exchange\(\) method/],
    [{ adaptiveTimeout: 'yes' }, /option adaptiveTimeout must be a boolean/],
  ])('rejects %o', (bad, message) => {
    expect(() => new ProxyClient({ ...base(), ...(bad as object) })).toThrow(message);
  });

  it('accepts host names, IPv4 and bracketed IPv6, and applies the defaults', () => {
    const client = new ProxyClient({
      ...base(),
      upstreams: ['upstream-b.example:9300', '127.0.0.1:9300', '[2001:db8::10]:9300'],
    });
    const s = client.stats();
    expect(s.upstreams.map((u) => [u.upstream, u.state, u.attemptTimeoutMs])).toEqual([
      ['upstream-b.example:9300', 'healthy', 300],
      ['127.0.0.1:9300', 'healthy', 300],
      ['[2001:db8::10]:9300', 'healthy', 300],
    ]);
    expect(client.size).toBe(0);
    expect(client.pending).toBe(0);
  });

  it('accepts a recorder with any subset of hooks, and none at all', () => {
    for (const recorder of [{}, { proxyRecovered() {} }]) {
      expect(() => new ProxyClient({ ...base(), recorder })).not.toThrow();
    }
  });
});
