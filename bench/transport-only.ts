/**
 * UdpTransport alone (no client) against the raw baseline: 64 loops each doing one
 * exchange after another. For locating cost between the transport and the client.
 *
 *   npm run build && node --import tsx bench/transport-only.ts [inFlight] [ms]
 */
import { loopbackAddress } from '../src/testing/loopback.js';
import { UpstreamProcess } from './upstream.js';
import { rawThroughput } from './raw.js';
import type { UdpTransport as UdpTransportType } from '../src/index.js';
import { encodeNack } from '../src/wire/nack.js';
import { FLAG_PROXIED } from '../src/wire/constants.js';

const dist = process.env.LIB_DIST ?? new URL('../dist/index.js', import.meta.url).href;
const { UdpTransport } = (await import(dist)) as { UdpTransport: typeof UdpTransportType };

const inFlight = Number(process.argv[2] ?? 64);
const ms = Number(process.argv[3] ?? 2000);
const FRAMES = 32_768;
const HASH_KEY = 0x5eed_0001n;
const host = await loopbackAddress();
const up = await UpstreamProcess.start();
try {
  const e = await up.emulator(host, 'retry-endpoint', HASH_KEY, FRAMES, 256);
  for (let round = 0; round < 3; round++) {
    const c0 = process.cpuUsage();
    const r = await rawThroughput(e.host, e.port, HASH_KEY, FRAMES, inFlight, ms);
    const rc = process.cpuUsage(c0);
    const t = new UdpTransport();
    let seq = 0;
    let done = 0;
    let stop = false;
    const ac = new AbortController();
    const loop = async (): Promise<void> => {
      while (!stop) {
        const s = BigInt(seq++ % FRAMES);
        const nack = encodeNack({ hashKey: HASH_KEY, startSeq: s, flags: FLAG_PROXIED });
        const reply = await t.exchange(e.endpoint, nack, {
          timeoutMs: 300,
          hashKey: HASH_KEY,
          seq: s,
          signal: process.env.SIG ? ac.signal : undefined,
        });
        if (reply.kind === 'frame') done++;
      }
    };
    const c1 = process.cpuUsage();
    const t0 = performance.now();
    const loops = Array.from({ length: inFlight }, loop);
    await new Promise((r2) => setTimeout(r2, ms));
    stop = true;
    const rate = (done / (performance.now() - t0)) * 1000;
    const tc = process.cpuUsage(c1);
    await Promise.all(loops);
    await t.close();
    console.log(
      `raw ${r.rate.toFixed(0)}/s ${((rc.user + rc.system) / r.exchanges).toFixed(1)}µs  transport ${rate.toFixed(0)}/s ${((tc.user + tc.system) / done).toFixed(1)}µs`,
    );
  }
} finally {
  await up.stop();
}
