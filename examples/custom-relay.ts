/**
 * Composing ProxyClients in a host (`npx tsx examples/custom-relay.ts`, exits by itself):
 *
 * - each group of flows has its own upstream set (regional endpoints that carry those flows);
 * - gaps a regional set cannot fill escalate to a wide-area tier of upstreams;
 * - recovery results feed the host's own logic: a per-flow ledger that flags a flow whose
 *   gaps keep failing, so the host can act (resubscribe, page someone, ...).
 *
 * Everything runs on loopback against upstream emulators. In your project import from
 * 'nack-proxy' and 'nack-proxy/testing'.
 */
import {
  MemoryCache,
  MemoryDeduper,
  ProxyClient,
  UdpTransport,
  type FailedEvent,
  type Gap,
  type RecoveredEvent,
  type Retransmitter,
} from '../src/index.js';
import { UpstreamEmulator, loopbackAddress } from '../src/testing/index.js';

const EU_FLOW = 0xe0n;
const US_FLOW = 0x05n;

/** Per-flow outcome counts; a flow whose recent gaps mostly fail is flagged degraded. */
class FlowLedger {
  private readonly flows = new Map<
    bigint,
    { recovered: number; failed: number; via: Set<string> }
  >();

  recovered(e: RecoveredEvent, tier: string): void {
    const f = this.entry(e.hashKey);
    f.recovered++;
    f.via.add(tier);
  }

  failed(e: FailedEvent): void {
    this.entry(e.hashKey).failed++;
  }

  degraded(hashKey: bigint): boolean {
    const f = this.entry(hashKey);
    return f.failed > 0 && f.failed >= f.recovered;
  }

  report(): string[] {
    return [...this.flows].map(
      ([k, f]) =>
        `  flow 0x${k.toString(16)}: recovered ${f.recovered} via ${[...f.via].join('+')}, ` +
        `failed ${f.failed}${this.degraded(k) ? '  <- degraded' : ''}`,
    );
  }

  private entry(hashKey: bigint) {
    let f = this.flows.get(hashKey);
    if (f === undefined) this.flows.set(hashKey, (f = { recovered: 0, failed: 0, via: new Set() }));
    return f;
  }
}

/**
 * Routes each gap to the regional client for its flow; a gap the region exhausts is handed
 * to the wide-area client once. Every client shares the cache and the retransmit path.
 */
class TieredRecovery {
  private readonly regional = new Map<bigint, ProxyClient>();
  private readonly wide: ProxyClient;
  readonly ledger = new FlowLedger();

  constructor(
    routes: Map<bigint, readonly string[]>,
    wideArea: readonly string[],
    shared: { cache: MemoryCache; retransmitter: Retransmitter; transport: UdpTransport },
  ) {
    // Regional clients share one deduper: two regions never fetch the same gap twice.
    const deduper = new MemoryDeduper();
    for (const [flow, upstreams] of routes) {
      const client = new ProxyClient({ ...shared, upstreams, deduper, timeoutMs: 150 });
      client.on('recovered', (e) => this.ledger.recovered(e, 'regional'));
      client.on('failed', (e) => this.escalate(e));
      this.regional.set(flow, client);
    }
    // No deduper here: the regional claim on the gap is still held, and would make the
    // escalation look like a duplicate.
    this.wide = new ProxyClient({ ...shared, upstreams: wideArea, timeoutMs: 150 });
    this.wide.on('recovered', (e) => this.ledger.recovered(e, 'wide-area'));
    this.wide.on('failed', (e) => this.ledger.failed(e));
  }

  /** Call from the NACK handler after a local cache miss. */
  enqueue(gap: Gap): boolean {
    return (this.regional.get(gap.hashKey) ?? this.wide).enqueue(gap);
  }

  async onIdle(): Promise<void> {
    // Escalations start when a regional gap fails, so wait for the regions first.
    await Promise.all([...this.regional.values()].map((c) => c.onIdle()));
    await this.wide.onIdle();
  }

  async close(): Promise<void> {
    await Promise.all([...this.regional.values(), this.wide].map((c) => c.close()));
  }

  private escalate(e: FailedEvent): void {
    if (e.reason !== 'exhausted' || !this.wide.enqueue({ hashKey: e.hashKey, startSeq: e.seq })) {
      this.ledger.failed(e);
    }
  }
}

async function main(): Promise<void> {
  const host = await loopbackAddress();
  // Regional upstreams hold their own flows, with holes; the wide-area one holds more.
  const eu = await UpstreamEmulator.start({ host });
  eu.putRange(EU_FLOW, 1n, 8n);
  eu.remove(EU_FLOW, 4n);
  const us = await UpstreamEmulator.start({ host });
  us.putRange(US_FLOW, 1n, 2n);
  const wide = await UpstreamEmulator.start({ host });
  wide.putRange(EU_FLOW, 1n, 8n);

  const cache = new MemoryCache();
  const sent: string[] = [];
  const retransmitter: Retransmitter = {
    retransmit: (frame) => void sent.push(Buffer.from(frame).readBigUInt64BE(48).toString()),
  };
  const transport = new UdpTransport({ bindAddress: host }); // one socket pool for all clients
  const recovery = new TieredRecovery(
    new Map([
      [EU_FLOW, [eu.endpoint]],
      [US_FLOW, [us.endpoint]],
    ]),
    [wide.endpoint],
    { cache, retransmitter, transport },
  );
  try {
    recovery.enqueue({ hashKey: EU_FLOW, startSeq: 3n, endSeq: 5n }); // 4 is missing in the EU
    recovery.enqueue({ hashKey: US_FLOW, startSeq: 2n, endSeq: 4n }); // 3, 4 exist nowhere
    await recovery.onIdle();

    console.log('custom relay: recovery by tier');
    for (const line of recovery.ledger.report()) console.log(line);
    const expected = [
      [wide.nacksFor(EU_FLOW, 4n).length === 1, 'EU gap 4 escalated to the wide-area tier'],
      [eu.nacksFor(US_FLOW, 2n).length === 0, 'US gaps never asked of EU upstreams'],
      [recovery.ledger.degraded(US_FLOW), 'US flow flagged degraded'],
      [!recovery.ledger.degraded(EU_FLOW), 'EU flow healthy'],
      [sent.length === 4, 'four frames retransmitted'],
    ] as const;
    for (const [ok, what] of expected) {
      if (!ok) throw new Error(`custom relay: expected ${what}`);
      console.log(`  ok  ${what}`);
    }
  } finally {
    await recovery.close();
    await transport.close();
    await Promise.all([eu, us, wide].map((u) => u.close()));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
