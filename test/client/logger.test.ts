import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FLAG_PROXIED, type Logger } from '../../src/index.js';
import { A, B, harness } from '../helpers/harness.js';

describe('logger option', () => {
  it('is silent by default and writes structured pino lines with hashKey, seq and upstream', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n'))
          if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const h = harness({ upstreams: [A, B], logger, componentTimeoutMs: 20 });
    h.transport.intercept(A).miss();
    h.transport.intercept(B).serve();
    h.cache.fault = 'reject';
    h.client.enqueue({ hashKey: 0xabn, startSeq: 7n });
    h.client.enqueue({ hashKey: 0xabn, startSeq: 8n, flags: FLAG_PROXIED });
    await h.client.onIdle();
    await new Promise((r) => setImmediate(r));
    const byMsg = (m: string) => lines.find((l) => l.msg === m);
    expect(byMsg('upstream reply')).toMatchObject({
      hashKey: '0xab',
      seq: '7',
      upstream: A,
      reply: 'miss',
    });
    expect(byMsg('cache.store failed')).toMatchObject({
      hashKey: '0xab',
      seq: '7',
      upstream: B,
      component: 'cache',
    });
    expect(byMsg('gap recovered')).toMatchObject({ hashKey: '0xab', seq: '7', upstream: B });
    expect(byMsg('gap dropped')).toMatchObject({ hashKey: '0xab', seq: '8', reason: 'proxied' });
  });

  it('accepts any object with debug/info/warn/error', async () => {
    const calls: [string, object, string | undefined][] = [];
    const logger: Logger = {
      debug: (o, m) => calls.push(['debug', o, m]),
      info: (o, m) => calls.push(['info', o, m]),
      warn: (o, m) => calls.push(['warn', o, m]),
      error: (o, m) => calls.push(['error', o, m]),
    };
    const h = harness({ upstreams: [A], logger });
    h.transport.intercept(A).miss();
    h.client.enqueue({ hashKey: 1n, startSeq: 2n });
    await h.client.onIdle();
    expect(calls).toContainEqual([
      'info',
      expect.objectContaining({ hashKey: '0x1', seq: '2', reason: 'exhausted' }),
      'gap not recovered',
    ]);
  });
});
