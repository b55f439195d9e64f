/**
 * `await using` (Symbol.asyncDispose) on what a host creates and must close: each object is
 * closed at the end of its block, as if `close()` had been called.
 */
import { describe, expect, it } from 'vitest';
import { UdpTransport } from '../../src/index.js';
import { FakeTransport, UpstreamEmulator, loopbackAddress } from '../../src/testing/index.js';
import { encodeNack, FLAG_PROXIED } from '../../src/wire/index.js';
import { isPortClosed } from '../helpers/ports.js';

const host = await loopbackAddress();
const nack = encodeNack({ hashKey: 1n, startSeq: 1n, flags: FLAG_PROXIED });
const ask = { timeoutMs: 500, hashKey: 1n, seq: 1n };

describe('await using', () => {
  it('is supported by the runtime (Node.js 20.19+ has Symbol.asyncDispose)', () => {
    expect(typeof Symbol.asyncDispose).toBe('symbol');
  });

  it('closes a UdpTransport and its sockets at the end of the block', async () => {
    let outer: UdpTransport | undefined;
    {
      await using upstream = await UpstreamEmulator.start({ host });
      upstream.putRange(1n, 1n, 1n);
      await using transport = new UdpTransport();
      outer = transport;
      expect((await transport.exchange(upstream.endpoint, nack, ask)).kind).toBe('frame');
      expect(transport.socketCount).toBeGreaterThan(0);
    }
    expect(outer.socketCount).toBe(0);
    expect(await outer.exchange('[::1]:9', nack, ask)).toEqual({ kind: 'error', code: 'closed' });
  });

  it('closes an UpstreamEmulator at the end of the block: its port no longer answers', async () => {
    let outer: UpstreamEmulator | undefined;
    {
      await using upstream = await UpstreamEmulator.start({ host });
      outer = upstream;
      expect(await isPortClosed({ address: host, port: upstream.port }, 1, 100)).toBe(false);
    }
    expect(await isPortClosed({ address: host, port: outer.port })).toBe(true);
    await expect(outer.waitForNacks(1)).rejects.toThrow(/closed/);
  });

  it('closes a FakeTransport at the end of the block', async () => {
    let outer: FakeTransport | undefined;
    {
      await using transport = new FakeTransport();
      outer = transport;
      transport.intercept('*').serve();
      expect((await transport.exchange('[::1]:9300', nack, ask)).kind).toBe('frame');
    }
    expect(await outer.exchange('[::1]:9300', nack, ask)).toEqual({
      kind: 'error',
      code: 'closed',
    });
  });

  it('closes what it holds even when the block throws', async () => {
    let outer: UdpTransport | undefined;
    await expect(
      (async () => {
        await using transport = new UdpTransport();
        outer = transport;
        throw new Error('host failure');
      })(),
    ).rejects.toThrow('host failure');
    expect(await outer!.exchange('[::1]:9', nack, ask)).toEqual({ kind: 'error', code: 'closed' });
  });
});
