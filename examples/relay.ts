/**
 * A complete downstream relay (retry endpoint) built on nack-proxy: copy this file to start.
 *
 * It listens to its multicast domain and caches every frame it sees; it answers consumers'
 * NACKs from that cache (ACK + unicast frame), and on a miss answers MISS at once and hands
 * the gap to a ProxyClient, which fetches the frame from upstream endpoints, re-caches it
 * and retransmits it into the domain, where the consumers' gaps fill.
 *
 *   npx tsx examples/relay.ts --upstream '[2001:db8::10]:9300' --retransmit-to '[ff05::b]:9001' \
 *     --listen '[::]:9300' --ingest '[::]:9001' --join ff05::b
 *   npx tsx examples/relay.ts --selftest     # runs briefly on loopback and exits 0
 *
 * In your project, import from 'nack-proxy' instead of '../src/index.js'.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_TTLS,
  MemoryCache,
  ProxyClient,
  WireError,
  cacheKey,
  decodeFrameHeader,
  decodeNack,
  encodeResponse,
  isProxied,
  parseUpstream,
  type DecodedNack,
  type Deduper,
  type FrameStore,
  type Gap,
  type ProxyClientOptions,
  type Requester,
  type Retransmitter,
  type Transport,
  type Ttls,
} from '../src/index.js';

/** What the relay needs; everything but `upstreams` and `domain` has a default. */
export interface RelayOptions {
  /** Upstream retry endpoints, in order of preference (`host:port` or `[v6]:port`). */
  upstreams: readonly string[];
  /** Sends recovered frames into this relay's domain (a multicast group in production). */
  domain: Retransmitter;
  /**
   * The frame store, shared by the NACK server and the ProxyClient: `MemoryCache`,
   * `RedisCache` (reads are awaited) or the testing kit's `RecordingCache`.
   * @default new MemoryCache()
   */
  cache?: FrameStore;
  /** Re-cache TTLs by frame class; also used for frames seen live. */
  ttls?: Partial<Ttls>;
  /** Injected into the ProxyClient: a `FakeTransport` in unit tests, UDP by default. */
  transport?: Transport;
  /** Shared claim store when several relays serve one domain. */
  deduper?: Deduper;
  /** Further ProxyClient options (timeouts, workers, ...). */
  client?: Partial<ProxyClientOptions>;
  /** Most sequence numbers served from one range NACK (a bound against amplification). */
  maxServeSpan?: number;
}

/** What the relay did, for logs and tests. */
export interface RelayCounts {
  ingested: number;
  badFrames: number;
  storeErrors: number;
  readErrors: number;
  nacks: number;
  malformedNacks: number;
  served: number;
  misses: number;
  enqueued: number;
  refused: number;
}

/** The outcome of one NACK. */
export type NackOutcome = 'served' | 'proxying' | 'miss' | 'malformed';

/** The relay's logic, free of sockets so that it can be unit-tested with the testing kit. */
export class Relay {
  readonly cache: FrameStore;
  readonly client: ProxyClient;
  readonly counts: RelayCounts = {
    ingested: 0,
    badFrames: 0,
    storeErrors: 0,
    readErrors: 0,
    nacks: 0,
    malformedNacks: 0,
    served: 0,
    misses: 0,
    enqueued: 0,
    refused: 0,
  };
  private readonly ttls: Ttls;
  private readonly maxServeSpan: bigint;

  constructor(options: RelayOptions) {
    this.cache = options.cache ?? new MemoryCache();
    this.ttls = { ...DEFAULT_TTLS, ...options.ttls };
    this.maxServeSpan = BigInt(options.maxServeSpan ?? 64);
    this.client = new ProxyClient({
      ...options.client,
      upstreams: options.upstreams,
      cache: this.cache,
      retransmitter: options.domain,
      transport: options.transport,
      deduper: options.deduper,
      ttls: this.ttls,
    });
  }

  /** Caches a frame seen live in the domain. Returns false for a frame that does not decode. */
  ingest(frame: Uint8Array): boolean {
    let header;
    try {
      header = decodeFrameHeader(frame);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.counts.badFrames++;
      return false;
    }
    this.counts.ingested++;
    const failed = (): void => void this.counts.storeErrors++;
    try {
      const key = cacheKey(header.hashKey, header.seq);
      const stored = this.cache.store(key, frame, this.ttls[header.ttlClass]);
      // A store may be asynchronous (Redis); caching live frames is best-effort: do not wait.
      if (stored instanceof Promise) stored.catch(failed);
    } catch {
      failed();
    }
    return true;
  }

  /**
   * Answers one NACK through `reply` (which sends a datagram back to the NACK's sender):
   * ACK + frame for each cached sequence number; one MISS if any is missing, and then, unless
   * the NACK was itself proxied, the missing runs go to the ProxyClient, with `requester`
   * (the NACK's sender) so that unicast delivery (`client: { delivery: { unicast: true } }`)
   * can send the recovered frame back to it. A datagram that is not a NACK is counted and
   * ignored. Reads are awaited (the store may be Redis); a read that fails counts as a miss,
   * so recovery goes on while the store is unreachable.
   */
  async handleNack(
    datagram: Uint8Array,
    reply: (bytes: Uint8Array) => void,
    requester?: Requester,
  ): Promise<NackOutcome> {
    let nack: DecodedNack;
    try {
      nack = decodeNack(datagram);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.counts.malformedNacks++;
      return 'malformed';
    }
    this.counts.nacks++;
    const spanEnd = nack.startSeq + this.maxServeSpan - 1n;
    const last = nack.endSeq < spanEnd ? nack.endSeq : spanEnd;
    const missing: Gap[] = [];
    for (let seq = nack.startSeq; seq <= last; seq++) {
      const frame = await this.read(cacheKey(nack.hashKey, seq));
      if (frame !== undefined) {
        reply(encodeResponse({ kind: 'ack', seq, unicastSent: true }));
        reply(frame);
        this.counts.served++;
        continue;
      }
      const run = missing.at(-1);
      if (run?.endSeq === seq - 1n) run.endSeq = seq;
      else
        missing.push({
          hashKey: nack.hashKey,
          startSeq: seq,
          endSeq: seq,
          subtreeId: nack.subtreeId,
          ...(requester === undefined ? {} : { requester }),
        });
    }
    if (missing.length === 0) return 'served';
    reply(encodeResponse({ kind: 'miss' }));
    this.counts.misses++;
    // One hop at most: a proxied NACK is answered from this cache and never proxied again.
    if (isProxied(nack.flags)) return 'miss';
    for (const gap of missing) {
      if (this.client.enqueue(gap)) this.counts.enqueued++;
      else this.counts.refused++;
    }
    return 'proxying';
  }

  /** One read from the store; a failure (Redis unreachable) is counted and reads as a miss. */
  private async read(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return await this.cache.retrieve(key);
    } catch {
      this.counts.readErrors++;
      return undefined;
    }
  }

  /** Stops recovering; in-flight gaps end as `failed('aborted')` unless `drain`. */
  close(drain = false): Promise<void> {
    return this.client.close({ drain });
  }
}

/** Where a socket is bound. */
export interface Bound {
  address: string;
  port: number;
}

/**
 * A Retransmitter that sends each frame over UDP to fixed destinations: a multicast group
 * in production (see also `MulticastRetransmitter` in `nack-proxy/multicast`, which routes
 * frames to their BRC-129 groups), a unicast consumer on loopback in tests and the demo.
 * For unicast delivery it also sends a frame to one requester, from the same socket.
 */
export class UdpDomain implements Retransmitter {
  private constructor(
    private readonly socket: Socket,
    private readonly destinations: readonly Bound[],
  ) {}

  /** Binds a sending socket on `host` (port 0) for `destinations`. */
  static async open(host: string, destinations: readonly Bound[]): Promise<UdpDomain> {
    const socket = await bindSocket(host, 0);
    return new UdpDomain(socket, destinations);
  }

  /** The sending socket's address (consumers see recovered frames come from here). */
  get local(): Bound {
    return this.socket.address();
  }

  retransmit(frame: Uint8Array): Promise<void> {
    const sends = this.destinations.map(
      (d) =>
        new Promise<void>((resolve, reject) =>
          this.socket.send(frame, d.port, d.address, (err) => (err ? reject(err) : resolve())),
        ),
    );
    return Promise.all(sends).then(() => undefined);
  }

  /** Sends `frame` to the listener whose NACK missed (unicast delivery). */
  retransmitUnicast(frame: Uint8Array, requester: Requester): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(frame, requester.port, requester.address, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Socket-level settings of {@link startRelay}. */
export interface ListenOptions {
  /** Where the NACK server listens. @default { address: '::', port: 9300 } */
  listen?: Bound;
  /** Where frames from the domain arrive. @default { address: '::', port: 9001 } */
  ingest?: Bound;
  /** Multicast groups the ingest socket joins. @default [] */
  join?: readonly string[];
}

/** A relay with its sockets. */
export interface RunningRelay {
  relay: Relay;
  nack: Bound;
  ingest: Bound;
  close(): Promise<void>;
}

/** Binds the NACK server and the ingest socket around a {@link Relay}. */
export async function startRelay(options: RelayOptions & ListenOptions): Promise<RunningRelay> {
  const listen = options.listen ?? { address: '::', port: 9300 };
  const ingest = options.ingest ?? { address: '::', port: 9001 };
  const relay = new Relay(options);
  const nackSocket = await bindSocket(listen.address, listen.port);
  const ingestSocket = await bindSocket(ingest.address, ingest.port);
  // Live traffic comes in bursts; the default buffer (about 200 KiB on Linux) drops them.
  // The OS caps the request at its maximum (net.core.rmem_max).
  ingestSocket.setRecvBufferSize(RECV_BUFFER_BYTES);
  for (const group of options.join ?? []) ingestSocket.addMembership(group);
  nackSocket.on('message', (datagram, from) => {
    const reply = (bytes: Uint8Array): void => nackSocket.send(bytes, from.port, from.address);
    const requester = { address: from.address, port: from.port };
    // A NACK answered after close() finds the socket closed: log it, never crash the host.
    relay
      .handleNack(datagram, reply, requester)
      .catch((err: unknown) => console.error('nack handler:', err));
  });
  ingestSocket.on('message', (frame) => relay.ingest(frame));
  return {
    relay,
    nack: nackSocket.address(),
    ingest: ingestSocket.address(),
    async close() {
      await relay.close();
      await Promise.all(
        [nackSocket, ingestSocket].map((s) => new Promise<void>((r) => s.close(() => r()))),
      );
    },
  };
}

/** Receive buffer asked for on sockets that take bursts of frames. */
export const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** Binds a UDP socket; its errors are logged, not thrown (UDP errors are per datagram). */
export async function bindSocket(host: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: isIP(host) === 4 ? 'udp4' : 'udp6' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => console.error(`udp ${host}:${port}: ${err.message}`));
  return socket;
}

/** `[v6]:port` or `v4:port` to a socket address; exits with a message when malformed. */
function endpoint(flag: string, text: string): Bound {
  const parsed = parseUpstream(text);
  if (typeof parsed === 'string' || parsed.family === 0) {
    throw new Error(`--${flag}: ${typeof parsed === 'string' ? parsed : 'use an IP address'}`);
  }
  return { address: parsed.host, port: parsed.port };
}

const USAGE = `usage: tsx examples/relay.ts --upstream HOST:PORT... --retransmit-to ADDR:PORT... [flags]

  --upstream HOST:PORT       upstream retry endpoint, in order of preference (repeatable)
  --retransmit-to ADDR:PORT  where recovered frames go: the domain's group (repeatable)
  --listen ADDR:PORT         NACK server address                 (default [::]:9300)
  --ingest ADDR:PORT         address live frames arrive on       (default [::]:9001)
  --join GROUP               multicast group to receive frames from (repeatable)
  --selftest                 run briefly on loopback, check the three NACK paths, exit
  IPv6 addresses are written in brackets: [2001:db8::10]:9300`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      upstream: { type: 'string', multiple: true, default: [] },
      'retransmit-to': { type: 'string', multiple: true, default: [] },
      listen: { type: 'string', default: '[::]:9300' },
      ingest: { type: 'string', default: '[::]:9001' },
      join: { type: 'string', multiple: true, default: [] },
      selftest: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.selftest) {
    const { selfTest } = await import('./relay-selftest.js');
    await selfTest();
    return;
  }
  if (values.upstream.length === 0 || values['retransmit-to'].length === 0) {
    throw new Error('give at least one --upstream and one --retransmit-to (or --selftest)');
  }
  const listen = endpoint('listen', values.listen);
  const domain = await UdpDomain.open(
    listen.address,
    values['retransmit-to'].map((t) => endpoint('retransmit-to', t)),
  );
  const running = await startRelay({
    upstreams: values.upstream,
    domain,
    listen,
    ingest: endpoint('ingest', values.ingest),
    join: values.join,
  });
  running.relay.client.on('failed', (e) => console.warn(`gap ${e.hashKey}/${e.seq}: ${e.reason}`));
  console.log(`relay: NACKs on ${values.listen}, frames on ${values.ingest}`);
  const report = setInterval(() => {
    const s = running.relay.client.stats();
    console.log(
      `relay: ${JSON.stringify(running.relay.counts)} recovered=${s.recovered} failed=${s.failedTotal}`,
    );
  }, 10_000);
  const stop = (): void => {
    clearInterval(report);
    void running.close().then(() => domain.close());
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Run only when started as a program, not when imported by the demo or the tests.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
