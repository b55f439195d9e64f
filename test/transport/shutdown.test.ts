/**
 * UdpTransport.close() in the middle of socket set-up and lookups: pending exchanges end
 * as errors, nothing is opened afterwards, and no socket or timer is left open.
 */
import { describe, expect, it } from 'vitest';
import { UdpTransport } from '../../src/index.js';
import { UpstreamEmulator } from '../../src/testing/index.js';
import { encodeNack } from '../../src/wire/nack.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { waitFor, within } from '../helpers/wait.js';

const leaks = useLeakCheck();

describe('UdpTransport.close() during socket set-up and lookups', () => {
  const nack = encodeNack({ hashKey: 1n, startSeq: 1n, flags: 1 });
  const opts = { timeoutMs: 5000, hashKey: 1n, seq: 1n };

  it('close() right after exchange(): the socket being opened is closed too', async () => {
    const up = leaks.closeAfter(
      await UpstreamEmulator.start({ host: '::1', behaviour: { mode: 'silent' } }),
    );
    const t = new UdpTransport();
    const replies = [t.exchange(up.endpoint, nack, opts), t.exchange('127.0.0.1:9', nack, opts)];
    await t.close();
    const got = await within(Promise.all(replies), 'exchanges after close()');
    for (const r of got) expect(r.kind).toBe('error');
    expect(t.socketCount).toBe(0);
  });

  it('close() while a lookup is pending: nothing is opened afterwards', async () => {
    let answer: ((v: { address: string; family: number }) => void) | undefined;
    const t = new UdpTransport({
      lookup: () =>
        new Promise((resolve) => {
          answer = resolve;
        }),
    });
    const reply = t.exchange('upstream.example:9', nack, opts);
    await waitFor(() => answer !== undefined, 'the lookup to start');
    await t.close();
    answer?.({ address: '::1', family: 6 });
    const r = await within(reply, 'exchange after close()');
    expect(r.kind).toBe('error');
    expect(t.socketCount).toBe(0);
  });

  it('a socket that cannot bind is closed, not leaked', async () => {
    // 192.0.2.1 (TEST-NET-1) is not an address of this host: bind fails.
    const t = new UdpTransport({ bindAddress: '192.0.2.1' });
    const r = await within(t.exchange('127.0.0.1:9', nack, opts), 'exchange with a bad bind');
    expect(r).toMatchObject({ kind: 'error' });
    expect(t.socketCount).toBe(0);
    await t.close();
  });

  it('a lookup that never answers is bounded by the attempt timeout', async () => {
    const t = leaks.closeAfter(new UdpTransport({ lookup: () => new Promise(() => undefined) }));
    const r = await within(
      t.exchange('upstream.example:9', nack, { ...opts, timeoutMs: 100 }),
      'an exchange whose lookup hangs',
      5000,
    );
    expect(r).toMatchObject({ kind: 'error', code: 'resolve' });
  });

  it('an abort during the lookup ends the exchange at once', async () => {
    const t = leaks.closeAfter(new UdpTransport({ lookup: () => new Promise(() => undefined) }));
    const ac = new AbortController();
    const reply = t.exchange('upstream.example:9', nack, {
      ...opts,
      timeoutMs: 60_000,
      signal: ac.signal,
    });
    ac.abort();
    const r = await within(reply, 'an aborted exchange', 5000);
    expect(r).toMatchObject({ kind: 'error', code: 'aborted' });
  });
});
