/**
 * The process-wide port bookkeeping of lines: a port is never handed to a new line while a
 * line holds it, nor while the late-reply guard of a line closed on it runs (a new line to
 * the same upstream on that port would hear the late MISS as its own answer).
 */
import { describe, expect, it } from 'vitest';
import { closeLine, openLine, portFree, type Line } from '../../src/transport/lines.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { silentUpstream } from '../helpers/sockets.js';

const leaks = useLeakCheck();

async function line(port: number): Promise<Line> {
  return openLine(
    { address: '::1', family: 6, port, key: `::1|${port}` },
    { bindAddress: undefined, createSocket: undefined, connected: true, stray: () => undefined },
  );
}

describe('line ports', () => {
  it('a port stays taken while its line is open, and after it until its guard ends', async () => {
    const up = leaks.closeAfter(await silentUpstream());
    const port = up.socket.address().port;
    const guarded = await line(port);
    const plain = await line(port);
    const [g, p] = [guarded.port, plain.port];
    if (g === undefined || p === undefined) throw new Error('the transport picked no port');
    expect(g).not.toBe(p);
    const now = performance.now();
    expect([portFree(g, now), portFree(p, now)]).toEqual([false, false]);
    guarded.coolUntil = now + 60_000;
    await Promise.all([closeLine(guarded, now), closeLine(plain, now)]);
    expect(portFree(p, now)).toBe(true);
    expect(portFree(g, now + 59_999)).toBe(false);
    expect(portFree(g, now + 60_000)).toBe(true);
  });
});
