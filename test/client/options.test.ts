import { describe, expect, it } from 'vitest';
import { ProxyClient, type ProxyClientOptions } from '../../src/index.js';
import { FakeTransport, RecordingCache, RecordingRetransmitter } from '../../src/testing/index.js';

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
    [
      { recorder: { proxyRequest() {} } },
      /option recorder must be an object with a proxyRecovered\(\) method/,
    ],
    [{ logger: console.log }, /option logger must be an object with a debug\(\) method/],
    [{ hedgeAfterMs: 'soon' }, /option hedgeAfterMs must be an integer, got "soon"/],
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
});
