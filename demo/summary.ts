import type { ProxyStats } from '../src/index.js';
import { formatEndpoint } from '../src/testing/index.js';
import type { Gap } from './consumer.js';
import type { DemoOptions } from './options.js';

/** Everything the summary reports, gathered when the run ends. */
export interface RunResult {
  options: DemoOptions;
  host: string;
  seconds: number;
  timedOut: boolean;
  lostAtBridge: number;
  lostLastHop: number;
  gaps: Gap[];
  /** Open gaps that no live upstream (nor the relay's cache) could fill. */
  unrecoverable: Gap[];
  /** Open gaps that could have been filled and were not: any makes the run fail. */
  stuck: Gap[];
  client: ProxyStats;
  deadUpstream: string | undefined;
  nacksSent: number;
  /** Frames the relay retransmitted that reached the consumer, by path (duplicates included). */
  relayCopies: { multicast: number; unicast: number };
  /** The consumer's NACK socket: the requester of its gaps, where unicast copies go. */
  requester: { address: string; port: number };
}

/**
 * True when the run ended on its own and every gap that could be filled was; with
 * `--unicast`, also when nothing reached the consumer by multicast from the relay.
 */
export function passed(r: RunResult): boolean {
  const delivery = !r.options.unicast || r.relayCopies.multicast === 0;
  return r.stuck.length === 0 && !r.timedOut && delivery;
}

/** Nearest-rank percentile of `values` (unsorted), or undefined when empty. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function ms(v: number | undefined): string {
  if (v === undefined) return '-';
  return v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(share * 100 < 1 ? 1 : 0)}%`;
}

function table(rows: [string, string | number][]): string[] {
  const w0 = Math.max(...rows.map(([k]) => k.length));
  const w1 = Math.max(...rows.map(([, v]) => String(v).length));
  const rule = `  +-${'-'.repeat(w0)}-+-${'-'.repeat(w1)}-+`;
  return [rule, ...rows.map(([k, v]) => `  | ${k.padEnd(w0)} | ${String(v).padStart(w1)} |`), rule];
}

function breakdown(record: Record<string, number>): string {
  const parts = Object.entries(record).filter(([, n]) => n > 0);
  return parts.length === 0 ? '' : ` (${parts.map(([k, n]) => `${k} ${n}`).join(', ')})`;
}

/** The end-of-run report, as printed to stdout. */
export function renderSummary(r: RunResult): string {
  const o = r.options;
  const filled = r.gaps.filter((g) => g.filledAt !== undefined);
  const fillMs = (gs: Gap[]) => gs.map((g) => (g.filledAt ?? 0) - g.detectedAt);
  const byPath = (path: string) => filled.filter((g) => g.path === path);
  const recovered = [...byPath('recovered'), ...byPath('unicast')];
  const c = r.client;
  // Gaps beyond the injected losses: datagrams the OS dropped (full socket buffers).
  const extra = Math.max(0, r.gaps.length - r.lostAtBridge - r.lostLastHop);
  const late = byPath('late').length;
  const lines = [
    '',
    `nack-proxy demo: cross-domain NACK recovery on loopback (${r.host})`,
    `  ${o.frames} frames in ${o.flows} flows at ${o.rate}/s, seed ${o.seed}`,
    `  loss: ${pct(o.loss)} at the bridge (${r.lostAtBridge} frames), ` +
      `${pct(o.localLoss)} on the last hop (${r.lostLastHop} frames)` +
      (extra > 0 ? `, ${extra} more dropped by the host's UDP stack` : ''),
    `  upstreams: ${o.upstreams}${o.deadUpstream ? ' (the first is dead)' : ''}, ` +
      `each lacking ${pct(o.upstreamMiss)} of frames`,
    ...(o.unicast
      ? [
          `  delivery: unicast to the requester, the consumer's NACK socket ` +
            `(${formatEndpoint(r.requester.address, r.requester.port)}); nothing multicast`,
        ]
      : []),
    '',
    ...table([
      ['gaps seen by the consumer', r.gaps.length],
      ['filled from the relay cache', byPath('cache').length],
      ['recovered via upstreams', recovered.length],
      ...(o.unicast
        ? ([
            ['  of which by unicast', byPath('unicast').length],
            ['  of which by multicast', byPath('recovered').length],
          ] as [string, number][])
        : []),
      ...(late > 0 ? [['filled late (reordered)', late] as [string, number]] : []),
      ['failed: no upstream has it', r.unrecoverable.length],
      ['failed: recoverable, not filled', r.stuck.length],
      ['deduped by the relay client', c.dedupedTotal],
      ['time to fill, p50', ms(percentile(fillMs(filled), 50))],
      ['time to fill, p99', ms(percentile(fillMs(filled), 99))],
      ['recovery via upstream, p50', ms(percentile(fillMs(recovered), 50))],
      ['recovery via upstream, p99', ms(percentile(fillMs(recovered), 99))],
    ]),
    '',
    `  consumer: ${r.nacksSent} NACKs sent` +
      (o.unicast
        ? `; relay retransmits received: ${r.relayCopies.unicast} by unicast, ` +
          `${r.relayCopies.multicast} by multicast`
        : ''),
    `  relay ProxyClient: ${c.requests} requests, ${c.recovered} recovered, ` +
      `${c.failedTotal} failed${breakdown(c.failed)}, ${c.dedupedTotal} deduped${breakdown(c.deduped)}, ` +
      `${c.droppedTotal} dropped${breakdown(c.dropped)}, ${c.attempts} upstream NACKs`,
    ...c.upstreams.map(
      (u) =>
        `    ${u.upstream.padEnd(22)} ${u.upstream === r.deadUpstream ? 'dead   ' : 'live   '} ` +
        `${u.state.padEnd(8)} replies${breakdown(u.replies)}`,
    ),
    '',
  ];
  if (passed(r)) {
    lines.push(
      `PASS: every recoverable gap filled in ${r.seconds.toFixed(1)} s` +
        (o.unicast ? ', recovered frames by unicast only' : ''),
    );
  } else {
    const why = r.timedOut
      ? `gave up after ${o.maxSeconds} s`
      : r.stuck.length > 0
        ? 'recoverable gaps left open'
        : `${r.relayCopies.multicast} frames multicast despite --unicast`;
    const sample = r.stuck.slice(0, 5).map((g) => `${g.hashKey.toString(16)}/${g.seq}`);
    lines.push(`FAIL: ${why}; ${r.stuck.length} open: ${sample.join(' ')}`);
  }
  return lines.join('\n');
}
