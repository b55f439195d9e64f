/**
 * Admission benchmark: N gaps over F flows against K default-limited `retry-endpoint`
 * emulators (the reference server's limits: 100/s burst 10 per source IP, 500 per minute per
 * HashKey, all silent), with the client's default `nackRate`. Reports the drain time as a
 * ratio of the admission limit, (N − K·burst) / (K·perSecond), and the NACKs the upstreams'
 * limits dropped. A ratio of 1 drains exactly at the client's admitted rate; above 0.9 is
 * the target. Run: `node --import tsx bench/admission.ts` (also part of `npm run bench`).
 */
import { DEFAULT_NACK_RATE, MemoryCache, ProxyClient } from '../src/index.js';
import { RecordingRetransmitter, UpstreamEmulator } from '../src/testing/index.js';

const N = 900;
const F = 10;

export interface AdmissionFigure {
  upstreams: number;
  drainMs: number;
  limitMs: number;
  ratio: number;
  recovered: number;
  dropped: number;
}

export async function admissionScenario(k: number): Promise<AdmissionFigure> {
  const ups = await Promise.all(Array.from({ length: k }, () => UpstreamEmulator.start()));
  for (const up of ups)
    for (let f = 0; f < F; f++) up.putRange(BigInt(0xad00 + f), 0n, BigInt(N / F - 1));
  const client = new ProxyClient({
    upstreams: ups.map((u) => u.endpoint),
    cache: new MemoryCache(),
    retransmitter: new RecordingRetransmitter(),
    gapDeadlineMs: 60_000,
  });
  const start = performance.now();
  for (let s = 0; s < N / F; s++) {
    for (let f = 0; f < F; f++)
      client.enqueue({ hashKey: BigInt(0xad00 + f), startSeq: BigInt(s) });
  }
  await client.onIdle();
  const drainMs = performance.now() - start;
  const { perSecond, burst } = DEFAULT_NACK_RATE;
  const limitMs = ((N - k * burst) / (k * perSecond)) * 1000;
  const recovered = client.stats().recovered;
  let dropped = 0;
  for (const up of ups) {
    const r = up.stats().rateLimited;
    dropped += r.ip + r.sequence + r.chain + r.group;
  }
  await client.close();
  await Promise.all(ups.map((u) => u.close()));
  return { upstreams: k, drainMs, limitMs, ratio: limitMs / drainMs, recovered, dropped };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`admission: ${N} gaps over ${F} flows, default limits and nackRate`);
  for (const k of [1, 2, 3]) {
    const r = await admissionScenario(k);
    console.log(
      `  ${k} upstream(s): drained in ${r.drainMs.toFixed(0)} ms, limit ${r.limitMs.toFixed(0)} ms, ` +
        `ratio ${r.ratio.toFixed(3)}, recovered ${r.recovered}/${N}, dropped by limits ${r.dropped}`,
    );
  }
}
