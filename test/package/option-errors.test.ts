/**
 * Every public constructor checks its options: an unknown key is refused with a "did you
 * mean", and each error is a TypeError / RangeError that names the class and the option and
 * carries a Node-style `code`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  MemoryCache,
  MemoryDeduper,
  ProxyClient,
  UdpTransport,
  parseUpstream,
  type ProxyClientOptions,
} from '../../src/index.js';
import { MulticastRetransmitter } from '../../src/multicast/index.js';
import { PrometheusRecorder } from '../../src/prometheus/index.js';
import { RedisCache, RedisDeduper } from '../../src/redis/index.js';
import {
  FakeTransport,
  RecordingCache,
  RecordingRetransmitter,
  UpstreamEmulator,
} from '../../src/testing/index.js';
import { didYouMean } from '../../src/shared/option-check.js';

type Code = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

const made: { close(): unknown }[] = [];
afterAll(async () => {
  for (const m of made) await m.close();
});

const clientBase = (): ProxyClientOptions => ({
  upstreams: ['[::1]:9300'],
  cache: new RecordingCache(),
  retransmitter: new RecordingRetransmitter(),
  transport: new FakeTransport(),
});

/** Builds one object from `options` (a constructor, or the emulator's `start`). */
const builders: Record<string, (options: unknown) => unknown> = {
  ProxyClient: (o) => new ProxyClient({ ...clientBase(), ...(o as object) }),
  UdpTransport: (o) => new UdpTransport(o as never),
  MemoryCache: (o) => new MemoryCache(o as never),
  MemoryDeduper: (o) => new MemoryDeduper(o as never),
  RedisCache: (o) => new RedisCache(o as never),
  RedisDeduper: (o) => new RedisDeduper(o as never),
  PrometheusRecorder: (o) => new PrometheusRecorder(o as never),
  MulticastRetransmitter: (o) => new MulticastRetransmitter({ port: 9001, ...(o as object) }),
  UpstreamEmulator: (o) => UpstreamEmulator.start(o as never),
  FakeTransport: (o) => new FakeTransport(o as never),
};

/** The error `build(options)` throws or rejects with. */
async function errorOf(owner: string, options: unknown): Promise<Error & { code?: unknown }> {
  let result: unknown;
  try {
    result = await builders[owner]!(options);
  } catch (err) {
    return err as Error & { code?: unknown };
  }
  if (typeof (result as { close?: unknown }).close === 'function') made.push(result as never);
  throw new Error(`${owner}(${JSON.stringify(options)}) did not throw`);
}

function expectError(error: Error & { code?: unknown }, code: Code, message: RegExp): void {
  expect(error).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
  expect(error.code, error.message).toBe(code);
  expect(error.message).toMatch(message);
}

describe('a misspelt option is refused with a suggestion and ERR_INVALID_ARG_VALUE', () => {
  it.each([
    [
      'ProxyClient',
      { timeoutMS: 100 },
      'ProxyClient: unknown option "timeoutMS"; did you mean "timeoutMs"?',
    ],
    [
      'UdpTransport',
      { bindAdress: '::1' },
      'UdpTransport: unknown option "bindAdress"; did you mean "bindAddress"?',
    ],
    [
      'MemoryCache',
      { maxSize: 1024 },
      'MemoryCache: unknown option "maxSize"; did you mean "maxBytes"?',
    ],
    [
      'MemoryDeduper',
      { maxEntriez: 10 },
      'MemoryDeduper: unknown option "maxEntriez"; did you mean "maxEntries"?',
    ],
    [
      'RedisCache',
      { urll: 'redis://10.0.0.5:6379' },
      'RedisCache: unknown option "urll"; did you mean "url"?',
    ],
    [
      'RedisDeduper',
      { claimPrefx: 'x:' },
      'RedisDeduper: unknown option "claimPrefx"; did you mean "claimPrefix"?',
    ],
    [
      'PrometheusRecorder',
      { prefx: 'x_' },
      'PrometheusRecorder: unknown option "prefx"; did you mean "prefix"?',
    ],
    [
      'MulticastRetransmitter',
      { hopLimt: 4 },
      'MulticastRetransmitter: unknown option "hopLimt"; did you mean "hopLimit"?',
    ],
    [
      'UpstreamEmulator',
      { hots: '::1' },
      'UpstreamEmulator: unknown option "hots"; did you mean "host"?',
    ],
    [
      'UpstreamEmulator',
      { retryEndpoint: { throttleResponce: true } },
      'UpstreamEmulator: unknown option "retryEndpoint.throttleResponce"; did you mean "retryEndpoint.throttleResponse"?',
    ],
    [
      'FakeTransport',
      { unmatchd: { kind: 'miss' } },
      'FakeTransport: unknown option "unmatchd"; did you mean "unmatched"?',
    ],
  ])('%s %j', async (owner, options, message) => {
    const error = await errorOf(owner, options);
    expect(error.message).toBe(message);
    expectError(error, 'ERR_INVALID_ARG_VALUE', /unknown option/);
  });

  it('lists the options of a small class when nothing is close', async () => {
    const error = await errorOf('MemoryCache', { colour: 'blue' });
    expect(error.message).toBe(
      'MemoryCache: unknown option "colour" (options: maxBytes, maxEntries)',
    );
  });

  it('accepts undefined for a known option', async () => {
    expect(
      () => new UdpTransport({ bindAddress: undefined, maxIdleSockets: undefined }),
    ).not.toThrow();
    expect(() => new MemoryCache({ maxBytes: undefined })).not.toThrow();
    const upstream = await UpstreamEmulator.start({ host: '127.0.0.1', port: undefined });
    await upstream.close();
  });

  it('suggests within a distance that grows with the name', () => {
    expect(didYouMean('maxSize', ['maxBytes', 'maxEntries'])).toBe('maxBytes');
    expect(didYouMean('TIMEOUTMS', ['timeoutMs', 'minTimeoutMs'])).toBe('timeoutMs');
    expect(didYouMean('colour', ['workers', 'logger', 'cache'])).toBeUndefined();
  });
});

describe('options that are not an object are ERR_INVALID_ARG_TYPE', () => {
  it.each(
    Object.keys(builders).filter((o) => o !== 'ProxyClient' && o !== 'MulticastRetransmitter'),
  )('%s(null)', async (owner) => {
    expectError(
      await errorOf(owner, null),
      'ERR_INVALID_ARG_TYPE',
      /options must be an object, got null/,
    );
  });

  it('ProxyClient(undefined), ProxyClient([])', () => {
    for (const bad of [undefined, []]) {
      let error: unknown;
      try {
        new ProxyClient(bad as never);
      } catch (err) {
        error = err;
      }
      expectError(
        error as Error,
        'ERR_INVALID_ARG_TYPE',
        /^ProxyClient: options must be an object/,
      );
    }
  });
});

describe('a value of the wrong type is ERR_INVALID_ARG_TYPE, a bad one ERR_INVALID_ARG_VALUE', () => {
  it.each([
    [
      'ProxyClient',
      { workers: '4' },
      'ERR_INVALID_ARG_TYPE',
      /^ProxyClient: option workers must be an integer, got "4"$/,
    ],
    [
      'ProxyClient',
      { verifyContent: 1 },
      'ERR_INVALID_ARG_TYPE',
      /option verifyContent must be a boolean/,
    ],
    [
      'ProxyClient',
      { upstreams: [9300] },
      'ERR_INVALID_ARG_TYPE',
      /option upstreams: expected a "host:port" string/,
    ],
    ['ProxyClient', { upstreams: ['nohost'] }, 'ERR_INVALID_ARG_VALUE', /has no ":port"/],
    [
      'ProxyClient',
      { upstreams: ['a.example:1', 'a.example:1'] },
      'ERR_INVALID_ARG_VALUE',
      /twice/,
    ],
    [
      'ProxyClient',
      { ttls: { frame: 1 } },
      'ERR_INVALID_ARG_VALUE',
      /ttls.frame is not a TTL class/,
    ],
    [
      'UdpTransport',
      { connected: 'yes' },
      'ERR_INVALID_ARG_TYPE',
      /^UdpTransport: option connected must be a boolean, got "yes"$/,
    ],
    ['UdpTransport', { lookup: 'dns' }, 'ERR_INVALID_ARG_TYPE', /option lookup must be a function/],
    [
      'UdpTransport',
      { maxIdleSockets: '8' },
      'ERR_INVALID_ARG_TYPE',
      /option maxIdleSockets must be a number, got "8"/,
    ],
    [
      'UdpTransport',
      { bindAddress: 'localhost' },
      'ERR_INVALID_ARG_VALUE',
      /option bindAddress must be an IP address, got "localhost"/,
    ],
    [
      'UdpTransport',
      { frameSource: 'all' },
      'ERR_INVALID_ARG_VALUE',
      /option frameSource must be one of 'host', 'any', got "all"/,
    ],
    [
      'MemoryCache',
      { maxBytes: '1' },
      'ERR_INVALID_ARG_TYPE',
      /^MemoryCache: option maxBytes must be a number/,
    ],
    [
      'MemoryDeduper',
      { maxEntries: null },
      'ERR_INVALID_ARG_TYPE',
      /option maxEntries must be a number, got null/,
    ],
    [
      'RedisCache',
      { url: 6379 },
      'ERR_INVALID_ARG_TYPE',
      /^RedisCache: option url must be a string, got 6379$/,
    ],
    [
      'RedisCache',
      { framePrefix: '' },
      'ERR_INVALID_ARG_VALUE',
      /option framePrefix must not be empty/,
    ],
    [
      'RedisDeduper',
      { client: 'redis://x' },
      'ERR_INVALID_ARG_TYPE',
      /option client must be an object/,
    ],
    [
      'PrometheusRecorder',
      { prefix: 5 },
      'ERR_INVALID_ARG_TYPE',
      /^PrometheusRecorder: option prefix must be a string, got 5$/,
    ],
    [
      'PrometheusRecorder',
      { latencyBuckets: 0.5 },
      'ERR_INVALID_ARG_TYPE',
      /option latencyBuckets must be an array/,
    ],
    [
      'MulticastRetransmitter',
      { loopback: 'yes' },
      'ERR_INVALID_ARG_TYPE',
      /option loopback must be a boolean/,
    ],
    [
      'MulticastRetransmitter',
      { route: '::1' },
      'ERR_INVALID_ARG_TYPE',
      /option route must be a function/,
    ],
    [
      'UpstreamEmulator',
      { port: '0' },
      'ERR_INVALID_ARG_TYPE',
      /^UpstreamEmulator: option port must be a number, got "0"$/,
    ],
    [
      'UpstreamEmulator',
      { host: 'localhost' },
      'ERR_INVALID_ARG_VALUE',
      /option host must be an IP address, got "localhost"/,
    ],
    [
      'UpstreamEmulator',
      { retryEndpoint: { throttleResponse: 'yes' } },
      'ERR_INVALID_ARG_TYPE',
      /option retryEndpoint.throttleResponse must be a boolean/,
    ],
    [
      'UpstreamEmulator',
      { host: '127.0.0.1', retryEndpoint: { unicastHost: '::1' } },
      'ERR_INVALID_ARG_VALUE',
      /retryEndpoint.unicastHost/,
    ],
    [
      'FakeTransport',
      { unmatched: 'miss' },
      'ERR_INVALID_ARG_TYPE',
      /^FakeTransport: option unmatched must be an object, got "miss"$/,
    ],
    [
      'FakeTransport',
      { unmatched: { kind: 'nope' } },
      'ERR_INVALID_ARG_VALUE',
      /option unmatched.kind must be one of serve, /,
    ],
  ] as const)('%s %j: %s', async (owner, options, code, message) => {
    expectError(await errorOf(owner, options), code, message);
  });
});

describe('a number out of range is ERR_OUT_OF_RANGE', () => {
  it.each([
    [
      'ProxyClient',
      { timeoutMs: 0 },
      /^ProxyClient: option timeoutMs must be in 1..600000, got 0$/,
    ],
    ['ProxyClient', { timeoutMs: 1.5 }, /option timeoutMs must be an integer, got 1.5/],
    ['ProxyClient', { gapDeadlineMs: 2 ** 31 }, /option gapDeadlineMs must be in 1..2147483647/],
    [
      'UdpTransport',
      { lateReplyGuardMs: -1 },
      /^UdpTransport: option lateReplyGuardMs must be an integer in 0..2147483647, got -1$/,
    ],
    [
      'UdpTransport',
      { resolveTtlMs: 2 ** 31 },
      /option resolveTtlMs must be an integer in 0..2147483647/,
    ],
    [
      'UdpTransport',
      { maxIdleSockets: 2.5 },
      /option maxIdleSockets must be an integer in 0..1000000, got 2.5/,
    ],
    [
      'MemoryCache',
      { maxBytes: 0 },
      /^MemoryCache: option maxBytes must be a positive integer, got 0$/,
    ],
    ['MemoryCache', { maxEntries: -1 }, /option maxEntries must be a positive integer/],
    [
      'MemoryDeduper',
      { maxEntries: 1.5 },
      /^MemoryDeduper: option maxEntries must be a positive integer, got 1.5$/,
    ],
    [
      'UpstreamEmulator',
      { port: 70_000 },
      /^UpstreamEmulator: option port must be an integer in 0..65535, got 70000$/,
    ],
    ['UpstreamEmulator', { recordLimit: -1 }, /option recordLimit must be an integer >= 0, got -1/],
    [
      'UpstreamEmulator',
      { retryEndpoint: { shardBits: 13 } },
      /option retryEndpoint.shardBits must be an integer 1..12, got 13/,
    ],
    [
      'UpstreamEmulator',
      { retryEndpoint: { limits: { chain: { max: 5, windowMs: 0 } } } },
      /retryEndpoint.limits.chain.windowMs/,
    ],
  ] as const)('%s %j', async (owner, options, message) => {
    expectError(await errorOf(owner, options), 'ERR_OUT_OF_RANGE', message);
  });
});

describe('an upstream written as a URL', () => {
  it('is refused: a scheme is not expected', async () => {
    const error = await errorOf('ProxyClient', { upstreams: ['udp://1.2.3.4:9300'] });
    expectError(error, 'ERR_INVALID_ARG_VALUE', /a URL scheme \("udp:\/\/"\) is not expected/);
    expect(error.message).not.toMatch(/IPv6/);
    expect(parseUpstream('udp://1.2.3.4:9300')).toBe(
      '"udp://1.2.3.4:9300": a URL scheme ("udp://") is not expected; write "host:port" or "[v6]:port"',
    );
    expect(parseUpstream('udp://[2001:db8::10]:9300')).toMatch(/scheme/);
    expect(parseUpstream('1.2.3.4:9300')).toEqual({ host: '1.2.3.4', port: 9300, family: 4 });
  });
});

describe('MulticastRetransmitter ranges carry codes', () => {
  it.each([
    [{ port: 0 }, 'ERR_OUT_OF_RANGE', /port must be an integer in 1..65535/],
    [{ port: 9001, hopLimit: 256 }, 'ERR_OUT_OF_RANGE', /hopLimit must be an integer in 0..255/],
    [{ port: 9001, groupId: -1 }, 'ERR_OUT_OF_RANGE', /groupId must be an integer/],
    [{ port: 9001, shardBits: 13 }, 'ERR_OUT_OF_RANGE', /shardBits must be an integer in 0..12/],
    [{ port: 9001, scope: 'galaxy' }, 'ERR_INVALID_ARG_VALUE', /scope must be one of/],
    [{ port: 9001, unicastSourceAddress: 'nope' }, 'ERR_INVALID_ARG_VALUE', /unicastSourceAddress/],
  ])('%j → %s', (options, code, message) => {
    let thrown: unknown;
    try {
      new MulticastRetransmitter(options as never);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code });
    expect(String((thrown as Error).message)).toMatch(message);
  });
});
