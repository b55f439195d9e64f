/**
 * What an operator sees: health events and logs, why a gap failed, Prometheus on the
 * default registry, and `await using`. Real UDP on loopback.
 */
import { createSocket } from 'node:dgram';
import { register } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCache, ProxyClient, type Logger } from '../../src/index.js';
import { PrometheusRecorder } from '../../src/prometheus/index.js';
import { RecordingRetransmitter, UpstreamEmulator } from '../../src/testing/index.js';
import { harness } from '../helpers/harness.js';
import { useLeakCheck } from '../helpers/leaks.js';

const leaks = useLeakCheck();
afterEach(() => register.clear());

function logger(): Logger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('operator view', () => {
  it('a silent upstream that comes back: demoted (warn log naming it), then healthy (info log)', async () => {
    const up = leaks.closeAfter(await UpstreamEmulator.start({ behaviour: { mode: 'silent' } }));
    up.putRange(3n, 0n, 9n);
    const log = logger();
    const h = leaks.closeAfter(
      harness({
        upstreams: [up.endpoint],
        transport: 'own',
        logger: log,
        timeoutMs: 50,
        demoteAfter: 2,
        demoteCooldownMs: 100,
        gapDeadlineMs: 3000,
        nackRate: false,
      }),
    );
    for (let s = 0n; s < 2n; s++) h.client.enqueue({ hashKey: 3n, startSeq: s });
    await h.client.onIdle();
    expect(h.events.upstream[0]).toEqual({
      upstream: up.endpoint,
      state: 'demoted',
      previous: 'healthy',
      cause: 'timeouts',
    });
    const warn = log.lines.find((l) => l.level === 'warn');
    expect(warn?.msg).toContain(up.endpoint);
    expect(warn?.obj).toMatchObject({ upstream: up.endpoint, state: 'demoted', cause: 'timeouts' });
    up.setBehaviour({ mode: 'retry-endpoint' });
    h.client.enqueue({ hashKey: 3n, startSeq: 5n });
    await h.client.onIdle();
    expect(h.events.recovered.map((e) => e.seq)).toEqual([5n]);
    expect(h.events.upstream.at(-1)).toMatchObject({ state: 'healthy', cause: 'probe-answered' });
    const info = log.lines.find((l) => l.level === 'info' && l.msg?.includes('healthy'));
    expect(info?.msg).toContain(up.endpoint);
  });

  it('a refused port: the failed gap says unreachable, and the log line says the same', async () => {
    const s = createSocket('udp6');
    await new Promise<void>((resolve) => s.bind(0, '::1', resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const log = logger();
    const h = leaks.closeAfter(
      harness({ upstreams: [`[::1]:${port}`], transport: 'own', logger: log }),
    );
    h.client.enqueue({ hashKey: 1n, startSeq: 1n });
    await h.client.onIdle();
    expect(h.events.failed).toMatchObject([
      {
        reason: 'exhausted',
        lastReply: { upstream: `[::1]:${port}`, kind: 'error', code: 'unreachable' },
      },
    ]);
    const line = log.lines.find((l) => l.msg === 'gap not recovered');
    expect(line?.obj).toMatchObject({ lastReply: { kind: 'error', code: 'unreachable' } });
  });

  it('PrometheusRecorder() without a registry fills prom-client’s default register', async () => {
    const up = leaks.closeAfter(await UpstreamEmulator.start({ behaviour: { mode: 'serve' } }));
    up.putRange(4n, 0n, 19n);
    const h = leaks.closeAfter(
      harness({ upstreams: [up.endpoint], transport: 'own', recorder: new PrometheusRecorder() }),
    );
    for (let s = 0n; s < 20n; s++) h.client.enqueue({ hashKey: 4n, startSeq: s });
    await h.client.onIdle();
    const text = await register.metrics();
    expect(text).toMatch(
      new RegExp(`bre_proxy_upstream_healthy\\{upstream="\\[::1\\]:${up.port}"\\} 1`),
    );
    expect(text).toMatch(/bre_proxy_inflight 0/);
    expect(text).toMatch(/bre_proxy_hedges_total 0/);
    expect(text).toMatch(/bre_proxy_component_errors_total\{component="cache"\} 0/);
    expect(text).toMatch(/bre_proxy_recovered_total 20/);
    expect(text).toMatch(/bre_proxy_paced_total\{upstream="[^"]+",tier="ip"\} \d+/);
  });

  it('await using closes the client at the end of the block', async () => {
    let client: ProxyClient | undefined;
    {
      await using c = new ProxyClient({
        upstreams: ['[::1]:9'],
        cache: new MemoryCache(),
        retransmitter: new RecordingRetransmitter(),
      });
      client = c;
      expect(c.closed).toBe(false);
    }
    expect(client.closed).toBe(true);
    expect(client.enqueue({ hashKey: 1n, startSeq: 1n })).toBe(false);
  });
});
